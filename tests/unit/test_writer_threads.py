"""The warehouse writers' hand-over (writer_thread.py): bounded, so a warehouse slower than the
sync holds the sync instead of memory growing with every acknowledged or rejected row; the issue
recorder records one call while at most one waits, and an error stops it and is raised."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from dbt_segment_profiles.acknowledger import (
    GATHER_ROWS,
    GATHER_SECONDS,
    MAX_QUEUED_ROWS,
    Acknowledger,
)
from dbt_segment_profiles.issue_recorder import IssueRecorder
from dbt_segment_profiles.warehouse import Acks, RecordIssue

MAPPING = type("M", (), {"name": "m"})()


class SlowWarehouse:
    """Writes only once let go: what a warehouse slower than the sync looks like to a queue.
    The first recording of `fail_on` raises instead."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.go = threading.Event()
        self.committed: list[str] = []
        self.transactions: list[int] = []  # rows per acknowledge call
        self.calls: list[tuple[list[str], bool]] = []
        self.fail_on = fail_on
        self.stage_closed = False

    def acknowledge(self, mapping: Any, acks: Acks) -> None:
        self.go.wait(30)
        self.committed += acks.keys
        self.transactions.append(len(acks.keys))

    def issue_stage(self, mapping: Any, all_new: bool) -> SlowStage:
        return SlowStage(self, all_new)


class SlowStage:
    """The recorder's stage in a SlowWarehouse: each call, as the warehouse would stage it;
    `closed` once the recorder has merged what is left."""

    def __init__(self, warehouse: SlowWarehouse, all_new: bool) -> None:
        self.warehouse = warehouse
        self.all_new = all_new

    def add(self, issues: list[RecordIssue]) -> None:
        warehouse = self.warehouse
        warehouse.go.wait(30)
        if len(warehouse.calls) == warehouse.fail_on:
            warehouse.calls.append(([], self.all_new))
            raise RuntimeError("the warehouse went away")
        warehouse.calls.append(([issue.record_key for issue in issues], self.all_new))

    def close(self) -> None:
        self.warehouse.stage_closed = True


def put_all_waits_for(warehouse: SlowWarehouse, put: Callable[[Any], None], items: list) -> None:
    """Hand every item over from a thread of its own: it must still be waiting on the
    warehouse after two seconds, and be done once the warehouse is let go."""
    put_all = threading.Thread(target=lambda: [put(item) for item in items])
    put_all.start()
    put_all.join(2)
    assert put_all.is_alive()
    warehouse.go.set()
    put_all.join(30)
    assert not put_all.is_alive()


def batches_of(count: int, rows: int) -> list[Acks]:
    return [
        Acks([f"k{i}-{j}" for j in range(rows)], ["h"] * rows, ["added"] * rows, [0] * rows)
        for i in range(count)
    ]


def test_a_slow_warehouse_holds_the_sender_not_the_acknowledged_rows() -> None:
    warehouse = SlowWarehouse()
    acknowledger = Acknowledger(warehouse, MAPPING)  # type: ignore[arg-type]
    rows = GATHER_ROWS // 4
    batches = batches_of(4 + 3 * (MAX_QUEUED_ROWS // rows), rows)
    # one commit gathers GATHER_ROWS, MAX_QUEUED_ROWS more queue: the rest must wait
    put_all_waits_for(warehouse, acknowledger.put, batches)
    acknowledger.close()
    assert sorted(warehouse.committed) == sorted(k for b in batches for k in b.keys)
    assert max(warehouse.transactions) <= GATHER_ROWS + rows
    # the batches' own lists are left as they were
    assert all(len(b.keys) == rows for b in batches)


def test_small_batches_queue_by_their_rows_not_their_number() -> None:
    warehouse = SlowWarehouse()
    acknowledger = Acknowledger(warehouse, MAPPING)  # type: ignore[arg-type]
    # a full gathering commits at once, and stays in the warehouse
    (first,) = batches_of(1, GATHER_ROWS)
    acknowledger.put(first)
    for _ in range(100):
        if not acknowledger._queue.qsize():
            break
        time.sleep(0.05)
    # a batch of a few messages counts its rows: a hundred of them wait on no commit
    batches = batches_of(100, 3)
    put_all = threading.Thread(target=lambda: [acknowledger.put(b) for b in batches])
    put_all.start()
    put_all.join(10)
    assert not put_all.is_alive()
    warehouse.go.set()
    acknowledger.close()
    assert sorted(warehouse.committed) == sorted(k for b in [first, *batches] for k in b.keys)


def test_acknowledgements_handed_over_together_commit_together() -> None:
    warehouse = SlowWarehouse()
    warehouse.go.set()
    acknowledger = Acknowledger(warehouse, MAPPING)  # type: ignore[arg-type]
    batches = batches_of(10, 10)
    # as Segment answers: one batch at a time, each after the last was taken
    for batch in batches:
        acknowledger.put(batch)
        time.sleep(GATHER_SECONDS / 50)
    acknowledger.close()
    assert sorted(warehouse.committed) == sorted(k for b in batches for k in b.keys)
    # a transaction per batch is what costs: they came close enough to be gathered
    assert len(warehouse.transactions) < len(batches)


def test_a_lone_batch_is_committed_without_waiting_for_more() -> None:
    warehouse = SlowWarehouse()
    warehouse.go.set()
    acknowledger = Acknowledger(warehouse, MAPPING)  # type: ignore[arg-type]
    (batch,) = batches_of(1, 3)
    acknowledger.put(batch)
    # committed while the sync goes on (GATHER_SECONDS after it came), not held until close
    for _ in range(int(30 / GATHER_SECONDS)):
        if warehouse.committed:
            break
        time.sleep(GATHER_SECONDS)
    assert sorted(warehouse.committed) == sorted(batch.keys)
    acknowledger.close()
    assert warehouse.transactions == [3]


def calls_of(count: int) -> list[list[RecordIssue]]:
    return [[RecordIssue(f"k{i}", "added", "HTTP 501", "failed")] for i in range(count)]


def test_a_slow_warehouse_holds_the_sync_after_two_calls() -> None:
    warehouse = SlowWarehouse()
    recorder = IssueRecorder(warehouse, MAPPING, all_new=True)  # type: ignore[arg-type]
    calls = calls_of(5)
    # one call is being recorded, one waits: the third must wait for the warehouse
    put_all_waits_for(warehouse, recorder.put, calls)
    recorder.close()
    # every call, in the order handed over, with what the sync knew of the table
    assert warehouse.calls == [([c[0].record_key], True) for c in calls]
    assert warehouse.stage_closed


def test_an_error_stops_recording_and_is_raised_by_close() -> None:
    warehouse = SlowWarehouse(fail_on=1)
    warehouse.go.set()
    recorder = IssueRecorder(warehouse, MAPPING, all_new=False)  # type: ignore[arg-type]
    for call in calls_of(4):
        recorder.put(call)
    with pytest.raises(RuntimeError, match="went away"):
        recorder.close()
    # the first call went in; after the failure, nothing more was attempted, not even the
    # merge of what was staged before it
    assert warehouse.calls == [(["k0"], False), ([], False)]
    assert not warehouse.stage_closed
    assert recorder.error is not None


def test_nothing_handed_over_records_nothing() -> None:
    warehouse = SlowWarehouse()
    warehouse.go.set()
    recorder = IssueRecorder(warehouse, MAPPING, all_new=True)  # type: ignore[arg-type]
    recorder.put([])
    recorder.close()
    assert warehouse.calls == []
