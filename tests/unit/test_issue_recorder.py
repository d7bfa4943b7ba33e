"""The issue recorder's hand-over: one call records while at most one waits, so a warehouse
slower than the sync holds the sync, not every rejected row; an error stops it and is raised."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from dbt_segment_profiles.issue_recorder import IssueRecorder
from dbt_segment_profiles.warehouse import RecordIssue

MAPPING = type("M", (), {"name": "m"})()


class SlowWarehouse:
    """Records only once let go; the first call of `fail_on` raises instead."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.go = threading.Event()
        self.calls: list[tuple[list[str], bool]] = []
        self.fail_on = fail_on

    def record_issues(self, mapping: Any, issues: list[RecordIssue], all_new: bool) -> None:
        self.go.wait(30)
        if len(self.calls) == self.fail_on:
            self.calls.append(([], all_new))
            raise RuntimeError("the warehouse went away")
        self.calls.append(([issue.record_key for issue in issues], all_new))


def calls_of(count: int) -> list[list[RecordIssue]]:
    return [[RecordIssue(f"k{i}", "added", "HTTP 501", "failed")] for i in range(count)]


def test_a_slow_warehouse_holds_the_sync_after_two_calls() -> None:
    warehouse = SlowWarehouse()
    recorder = IssueRecorder(warehouse, MAPPING, all_new=True)  # type: ignore[arg-type]
    calls = calls_of(5)
    put_all = threading.Thread(target=lambda: [recorder.put(c) for c in calls])
    put_all.start()
    put_all.join(2)
    # one call is being recorded, one waits: the third must wait for the warehouse
    assert put_all.is_alive()
    warehouse.go.set()
    put_all.join(30)
    assert not put_all.is_alive()
    recorder.close()
    # every call, in the order handed over, with what the sync knew of the table
    assert warehouse.calls == [([c[0].record_key], True) for c in calls]


def test_an_error_stops_recording_and_is_raised_by_close() -> None:
    warehouse = SlowWarehouse(fail_on=1)
    warehouse.go.set()
    recorder = IssueRecorder(warehouse, MAPPING, all_new=False)  # type: ignore[arg-type]
    for call in calls_of(4):
        recorder.put(call)
    with pytest.raises(RuntimeError, match="went away"):
        recorder.close()
    # the first call went in; after the failure, nothing more was attempted
    assert warehouse.calls == [(["k0"], False), ([], False)]
    assert recorder.error is not None


def test_nothing_handed_over_records_nothing() -> None:
    warehouse = SlowWarehouse()
    warehouse.go.set()
    recorder = IssueRecorder(warehouse, MAPPING, all_new=True)  # type: ignore[arg-type]
    recorder.put([])
    recorder.close()
    assert warehouse.calls == []
