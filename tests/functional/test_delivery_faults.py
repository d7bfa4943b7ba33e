"""Delivery over a bad network: retries, failures that keep rows pending, kill -9, auth."""

from __future__ import annotations

import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from dbt_segment_profiles.sandbox import Faults
from segment_testing import (
    USERS_YML,
    WRITE_KEY_ENV,
    acknowledged_keys,
    build_and_start_sync_child,
    by_mapping,
    received,
    segment,
    segment_project_config,
    users_model_sql,
    wait_for_batches,
)


def state_keys(project: Any) -> list[Any]:
    return acknowledged_keys(project, "users")


def assert_duplicates_share_message_ids(messages: list[dict[str, Any]]) -> None:
    ids_per_row: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m in messages:
        ids_per_row[(m["userId"], repr(sorted(m["traits"].items())))].add(m["messageId"])
    assert all(len(ids) == 1 for ids in ids_per_row.values())


FAST_RETRIES = {"backoff_seconds": 0.01, "max_backoff_seconds": 0.05}


class TestFlakyNetwork:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(max_attempts=10, batch_size=500, **FAST_RETRIES)

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(20_000), "schema.yml": USERS_YML}

    def test_every_row_arrives_and_enters_the_state_exactly_once(
        self, project: Any, serve: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        box = serve(Faults(fail_429=0.1, fail_500=0.1, retry_after=0.02, seed=7))
        code, document = segment(project, "sync")
        assert code == 0, document
        result = by_mapping(document)["users"]
        assert result["acknowledged"] == 20_000
        stats = box.stats.snapshot()
        assert stats["statuses"].get(429, 0) > 0 and stats["statuses"].get(500, 0) > 0
        messages = received(box)
        assert {m["userId"] for m in messages} == {str(i) for i in range(20_000)}
        assert_duplicates_share_message_ids(messages)
        keys = state_keys(project)
        assert len(keys) == 20_000 and len(set(keys)) == 20_000


class TestFailingServer:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(max_attempts=2, batch_size=100, **FAST_RETRIES)

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(300), "schema.yml": USERS_YML}

    def test_failed_rows_and_unacknowledged_deletes_stay_pending(
        self, project: Any, serve: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        serve(Faults(always_status=503))
        code, document = segment(project, "sync")
        assert code == 1
        result = by_mapping(document)["users"]
        assert (result["acknowledged"], result["failed"]) == (0, 300)
        assert "HTTP 503" in result["reasons"][0]
        assert state_keys(project) == []
        issues = project.run_sql(
            f"select count(*), min(kind), min(attempts) from "
            f"{project.test_schema}_segment.segment_record_issues",
            fetch="one",
        )
        assert tuple(issues) == (300, "failed", 1)

        box = serve()
        code, document = segment(project, "sync")
        assert code == 0, document
        assert len(received(box)) == 300
        assert len(state_keys(project)) == 300
        assert (
            project.run_sql(
                f"select count(*) from {project.test_schema}_segment.segment_record_issues",
                fetch="one",
            )[0]
            == 0
        )

        # a delete leaves the state only once Segment acknowledged it
        run_dbt(["run", "--vars", "{version: 2}"])
        write_model = users_model_sql(299)
        (Path(project.project_root) / "models" / "dim_users.sql").write_text(write_model)
        run_dbt(["run"])
        serve(Faults(always_status=500))
        code, document = segment(project, "sync")
        assert code == 1
        assert "299" in {str(k) for k in state_keys(project)}
        box = serve()
        code, document = segment(project, "sync")
        assert code == 0, document
        assert by_mapping(document)["users"]["acknowledged_by_operation"]["deleted"] == 1
        assert "299" not in {str(k) for k in state_keys(project)}
        assert received(box)[-1]["traits"] == {"email": None, "plan": None, "version": None}

    def test_a_refused_write_key_stops_the_profile_space(self, project: Any, serve: Any) -> None:
        run_dbt(["run", "--vars", "{version: 3}"])
        box = serve(write_key="another-key")
        code, document = segment(project, "sync")
        assert code == 1
        result = by_mapping(document)["users"]
        assert result["acknowledged"] == 0
        assert "refused the write key" in result["error"]
        assert WRITE_KEY_ENV in result["error"]
        # one refusal is enough: the rest of the batches are not sent
        assert box.stats.snapshot()["requests"] <= 4


class TestKilledSync:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(batch_size=200, connections=2, **FAST_RETRIES)

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(20_000), "schema.yml": USERS_YML}

    def test_after_kill_9_the_next_sync_sends_only_the_rest(
        self, project: Any, serve: Any
    ) -> None:
        box, child = build_and_start_sync_child(project, serve)
        wait_for_batches(box, child, 20)
        child.send_signal(signal.SIGKILL)
        child.wait()

        acknowledged_before = len(state_keys(project))
        first = received(box)
        assert 0 < acknowledged_before < 20_000
        assert len(first) >= acknowledged_before

        box2 = serve()
        code, document = segment(project, "sync")
        assert code == 0, document
        second = received(box2)
        assert len(second) == 20_000 - acknowledged_before
        everything = first + second
        assert {m["userId"] for m in everything} == {str(i) for i in range(20_000)}
        # what was in flight at the kill is sent again with the same messageIds
        assert_duplicates_share_message_ids(everything)
        keys = state_keys(project)
        assert len(keys) == 20_000 and len(set(keys)) == 20_000


class TestInterruptedSync:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(batch_size=100, connections=2, **FAST_RETRIES)

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(20_000), "schema.yml": USERS_YML}

    def test_sigterm_commits_what_was_acknowledged_and_exits_130(
        self, project: Any, serve: Any
    ) -> None:
        box, child = build_and_start_sync_child(project, serve, quiet=False)
        wait_for_batches(box, child, 10)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 130, err
        assert "interrupted" in out
        acknowledged = len(state_keys(project))
        assert acknowledged == len({m["userId"] for m in received(box)})
        assert 0 < acknowledged < 20_000

        box2 = serve()
        code, document = segment(project, "sync")
        assert code == 0, document
        assert len(received(box2)) == 20_000 - acknowledged
