"""Issue 9, items 1 and 2: `dbt run` during a sync, and two syncs at once, in separate processes.

Postgres shares the warehouse between processes, so capture and sync take the mapping's advisory
lock; DuckDB admits one process per database file, so the second one is told who holds it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from segment_testing import (
    USERS_YML,
    build_and_start_sync_child,
    by_mapping,
    received,
    segment,
    segment_project_config,
    users_model_sql,
    wait_for_batches,
)

ROWS = 3_000
# the child's sync sends 2 batches at a time, and the sandbox holds their answers until the test
# releases them: the child is in the middle of sending, holding its lock, for as long as the test
# needs (a slow sandbox, 1 s an answer, only made it likely: and every run waited for 30 of them)
SLOW = {"batch_size": 100, "connections": 2, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05}
# well inside the sender's 30 s request timeout: held answers are released by then whatever
# the test saw, so a test that fails does not hang
HOLD_LIMIT_SECONDS = 20.0


def release_later(box: Any, seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, box.release_answers)
    timer.daemon = True
    timer.start()
    return timer


class TestCaptureDuringSync:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(**SLOW)

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(ROWS), "schema.yml": USERS_YML}

    def test_item_1_a_dbt_run_during_a_sync_waits_and_no_change_is_lost(
        self, project: Any, serve: Any, profile_type: str
    ) -> None:
        box, child = build_and_start_sync_child(project, serve, latency_ms=0, hold=True)
        wait_for_batches(box, child, 2)
        if profile_type == "duckdb":
            # DuckDB refuses a second process outright: say so in one line, send nothing
            code, document = segment(project, "sync")
            assert code == 2, document
            assert "is in use by" in document["error"] and f"PID {child.pid}" in document["error"]
            box.release_answers()
            out, err = child.communicate(timeout=300)
            assert child.returncode == 0, err
            return

        # every row changes while the sync is sending: the capture waits for the sync's lock
        # instead of renumbering the rows the sync is acknowledging (before the lock, it
        # renumbered the pending rows under the sync, and thousands of changes were marked
        # sent, never sent). The capture sleeps only after a try for the lock failed: the
        # answers are released then, and the sync ends while the capture waits.
        waited = threading.Event()

        def release_once_the_capture_waits(event: Any) -> None:
            if event.info.name == "SQLQuery" and "pg_sleep" in event.data.sql:
                waited.set()
                box.release_answers()

        fallback = release_later(box, HOLD_LIMIT_SECONDS)
        run_dbt(["run", "--vars", "{version: 2}"], callbacks=[release_once_the_capture_waits])
        fallback.cancel()
        assert waited.is_set(), "the capture did not wait for the sync's lock"
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        first = received(box)
        assert len({m["userId"] for m in first}) == ROWS

        second_box = serve()
        code, document = segment(project, "sync")
        assert code == 0, document
        assert by_mapping(document)["users"]["acknowledged_by_operation"]["updated"] == ROWS
        latest = {m["userId"]: m["traits"]["version"] for m in received(second_box)}
        assert len(latest) == ROWS and set(latest.values()) == {2}

        run_dbt(["run", "--vars", "{version: 2}"])
        code, document = segment(project, "sync")
        assert code == 0 and by_mapping(document)["users"]["sent"] == 0


class TestTwoSyncs:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(**SLOW)

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(ROWS), "schema.yml": USERS_YML}

    def test_item_2_a_second_sync_exits_2_naming_the_holder_or_waits_for_it(
        self, project: Any, serve: Any, profile_type: str
    ) -> None:
        box, child = build_and_start_sync_child(project, serve, latency_ms=0, hold=True)
        wait_for_batches(box, child, 2)

        code, document = segment(project, "sync")
        assert code == 2, document
        message = document["error"]
        if profile_type == "duckdb":
            assert "is in use by" in message and f"PID {child.pid}" in message
        else:
            assert f"mapping users is being synced by dbt-segment sync (pid {child.pid}" in message
            assert "since" in message
        assert "--wait" in message

        # with --wait the second sync waits its turn and sends nothing twice: it starts while
        # the child holds its lock (no batch of the child's is answered yet), and the child
        # goes on 2 s later
        assert child.poll() is None
        release_later(box, 2.0)
        code, document = segment(project, "sync", "--wait", "300")
        assert code == 0, document
        assert by_mapping(document)["users"]["sent"] == 0
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        messages = received(box)
        assert len(messages) == ROWS == len({m["userId"] for m in messages})
