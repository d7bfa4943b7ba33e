"""Delivery over a bad network: retries, failures that keep rows pending, kill -9, auth."""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dbt.tests.util import run_dbt

from dbt_segment_profiles.acknowledger import GATHER_SECONDS
from dbt_segment_profiles.sandbox import Faults
from dbt_segment_profiles.state.issues import SELECTED, IssueStage
from dbt_segment_profiles.sync_engine import CHUNK_ROWS
from dbt_segment_profiles.warehouse import Acks, RecordIssue
from dbt_segment_profiles.warehouse.duckdb import RUNNER_SETTINGS, DuckDBWarehouse
from dbt_segment_profiles.warehouse.postgres import MERGE_WORK_MEM_MB, PostgresWarehouse
from segment_testing import (
    SUBSCRIPTIONS_YML,
    USERS_YML,
    WRITE_KEY_ENV,
    acknowledged_keys,
    build_and_start_sync_child,
    by_mapping,
    generated_users_sql,
    received,
    recorded_issues,
    segment,
    segment_project_config,
    settled,
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


def wait_for_acknowledgements(project: Any, child: subprocess.Popen) -> None:
    """Until the child sync has committed some acknowledgements (a warehouse that admits
    another process's reads while it writes)."""
    deadline = time.monotonic() + 180
    acks = f"{project.test_schema}_segment.users__acks"
    while not project.run_sql(f"select count(*) from {acks}", fetch="one")[0]:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.2)


@pytest.mark.spark
class TestKilledSync:
    @staticmethod
    def rows(profile: str) -> int:
        # on Spark every acknowledgement is a parquet append of seconds: 40 batches there are
        # still five times the 8 the acknowledger queues before the sender waits for it
        return 8_000 if profile == "spark" else 40_000

    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(batch_size=200, connections=2, **FAST_RETRIES)

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls, profile_type: str) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(cls.rows(profile_type)), "schema.yml": USERS_YML}

    def test_after_kill_9_the_next_sync_sends_only_the_rest(
        self, project: Any, serve: Any, profile_type: str
    ) -> None:
        if profile_type == "spark":
            # each acknowledgement is an append of parquet files, a cold child's first takes
            # seconds, and the parent may read meanwhile: a slower Segment, and the kill once
            # some acknowledgements are committed
            box, child = build_and_start_sync_child(project, serve, latency_ms=250)
            wait_for_acknowledgements(project, child)
        else:
            box, child = build_and_start_sync_child(project, serve)
            # the acknowledger commits GATHER_SECONDS after the first acknowledgement it holds:
            # killed three of those after the first batch, some are committed and most not sent
            wait_for_batches(box, child, 1)
            time.sleep(3 * GATHER_SECONDS)
        child.send_signal(signal.SIGKILL)
        child.wait()
        settled(box)

        rows = self.rows(profile_type)
        acknowledged_before = len(state_keys(project))
        first = received(box)
        assert 0 < acknowledged_before < rows
        assert len(first) >= acknowledged_before

        box2 = serve()
        code, document = segment(project, "sync")
        assert code == 0, document
        second = received(box2)
        assert len(second) == rows - acknowledged_before
        everything = first + second
        assert {m["userId"] for m in everything} == {str(i) for i in range(rows)}
        # what was in flight at the kill is sent again with the same messageIds
        assert_duplicates_share_message_ids(everything)
        keys = state_keys(project)
        assert len(keys) == rows and len(set(keys)) == rows


@pytest.mark.duckdb_only
class TestResyncAfterMostWereAcknowledged:
    """A sync stopped near its end leaves most rows acknowledged and the acks not yet folded
    into the state: the next sync joins every pending row with them. On DuckDB that join runs
    under the runner's 20 MB cap, and must spill rather than fail (TestKilledSync covers the
    re-run everywhere, on fewer rows)."""

    ROWS = 400_000
    LEFT = 150

    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        return segment_project_config(**FAST_RETRIES)

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(cls.ROWS), "schema.yml": USERS_YML}

    def test_the_rest_is_sent_whatever_the_number_already_acknowledged(
        self, project: Any, serve: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        prefix = f"{project.test_schema}_segment.users"
        # what a sync killed after acknowledging all but LEFT rows leaves behind
        project.run_sql(
            f"insert into {prefix}__acks (record_key, row_hash, operation, change_version, "
            f"acked_at) select __sp_key, __sp_hash, __sp_op, __sp_version, "
            f"cast('2026-01-01' as timestamp) from {prefix}__pending "
            f"where cast(__sp_key as bigint) >= {self.LEFT}"
        )
        box = serve()
        code, document = segment(project, "sync")
        assert code == 0, document
        assert by_mapping(document)["users"]["acknowledged"] == self.LEFT
        assert sorted(int(m["userId"]) for m in received(box)) == list(range(self.LEFT))
        assert len(set(state_keys(project))) == self.ROWS


# a status Segment does not know, which the warehouse's SQL rejects: its rows are recorded
# where they are, without being read (Warehouse.record_sql_rejections)
SQL_JUDGED = "MAYBE"
# one the message builder judges (a quote in it): its rows come through the runner a chunk at
# a time, and are recorded by the issue recorder
BUILDER_JUDGED = "MAYBE'S"


class RejectedSubscribers:
    """A project of ROWS subscribers whose email status Segment does not know: all rejected."""

    ROWS = 5_000
    STATUS = SQL_JUDGED

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            "dim_subscribers.sql": subscriptions_sql(cls.ROWS, cls.STATUS),
            "schema.yml": SUBSCRIPTIONS_YML,
        }


@pytest.mark.duckdb_only
class TestRunnerCheckpointsUnderItsCap(RejectedSubscribers):
    """What a sync wrote goes into the DuckDB file before the runner gives the instance back:
    left to the instance's close, the checkpoint runs with the runner's 20 MB cap lifted and
    holds every block the sync wrote at once (1M issue rows: 400 MB peak instead of 230)."""

    def test_the_wal_is_empty_and_the_settings_are_back_when_the_runner_closes(
        self, project: Any, serve: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        serve()
        settings = "select current_setting('memory_limit'), current_setting('threads')"
        before = project.run_sql(settings, fetch="one")
        database = Path(project.adapter.config.credentials.path)
        wal = database.with_name(database.name + ".wal")
        code, document = segment(project, "sync")
        assert code == 1, document
        assert by_mapping(document)["subscribers"]["rejected"] == self.ROWS
        # the test's own connection keeps the instance open: only the runner checkpointed
        assert project.run_sql(settings, fetch="one") == before
        assert not wal.exists() or wal.stat().st_size == 0
        assert issue_summary(project)[:2] == (self.ROWS, self.ROWS)


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


def subscriptions_sql(rows: int, status: str = SQL_JUDGED) -> str:
    """`rows` users whose email subscription status Segment does not know: all rejected."""
    quoted = status.replace("'", "''")
    return (
        f"with ids as ({generated_users_sql(rows)})\n"
        "select id, 'user' || cast(id as varchar(20)) || '@example.com' as email,\n"
        f"  '{quoted}' as status\n"
        "from ids"
    )


def issue_summary(project: Any, mapping: str = "subscribers") -> tuple[Any, ...]:
    """Rows, distinct keys, least and most attempts, kinds, and rows whose reason is wrong."""
    return tuple(
        project.run_sql(
            "select count(*), count(distinct record_key), min(attempts), max(attempts), "
            "min(kind), max(kind), "
            "sum(case when reason like '%MAYBE%' then 0 else 1 end) "
            f"from {project.test_schema}_segment.segment_record_issues "
            f"where mapping_name = '{mapping}'",
            fetch="one",
        )
    )


class _CountingCursor:
    def __init__(self, cursor: Any, statements: list[str]) -> None:
        self._cursor = cursor
        self._statements = statements

    def execute(self, sql: str, *args: Any) -> Any:
        self._statements.append(sql)
        return self._cursor.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def count_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the runner's warehouses execute in this process from now on."""
    statements: list[str] = []
    for cls in (DuckDBWarehouse, PostgresWarehouse):
        for name in ("transaction", "side_transaction"):
            monkeypatch.setattr(cls, name, _counting(getattr(cls, name), statements))
    return statements


def issue_updates(statements: list[str]) -> list[str]:
    """The updates among `statements` that move recorded issues."""
    return [s for s in statements if s.lstrip().startswith("update") and "issues" in s]


def _counting(original: Any, statements: list[str], wrap: Any = _CountingCursor) -> Any:
    """`original` (a transaction method) with its cursor wrapped in `wrap`."""

    @contextlib.contextmanager
    def transaction(self: Any) -> Iterator[Any]:
        with original(self) as cursor:
            yield wrap(cursor, statements)

    return transaction


def handed_over_issues(monkeypatch: pytest.MonkeyPatch) -> list[list[RecordIssue]]:
    """Every call's issues the sync hands to the warehouse from now on (recorded at the end,
    or staged by the recorder), each call's as a list."""
    calls: list[list[RecordIssue]] = []
    for cls in (DuckDBWarehouse, PostgresWarehouse):

        def record(
            self: Any, mapping: Any, issues: Any, *args: Any, original: Any = cls.record_issues
        ) -> None:
            calls.append(list(issues))
            original(self, mapping, issues, *args)

        monkeypatch.setattr(cls, "record_issues", record)

    def add(self: Any, issues: Any, original: Any = IssueStage.add) -> None:
        calls.append(list(issues))
        original(self, issues)

    monkeypatch.setattr(IssueStage, "add", add)
    return calls


def open_bookkeeping(project: Any, target: dict[str, Any]) -> Any:
    """The runner's own connection to the warehouse the tests run on."""
    from dbt_segment_profiles.project import locate
    from dbt_segment_profiles.warehouse import open_warehouse

    located = locate(project.project_root, project.profiles_dir)
    return open_warehouse(located, f"{project.test_schema}_segment")


class TestRejectionsRecordedInTheWarehouse:
    """The rows the warehouse's SQL rejects are recorded in the warehouse and never read: only
    the rows it sends, and those the builder judges, come through the runner."""

    ROWS = 3_000

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        # a third sent, a third rejected by SQL, a third by the builder
        quoted = BUILDER_JUDGED.replace("'", "''")
        subscribers = (
            f"with ids as ({generated_users_sql(cls.ROWS)})\n"
            "select id, 'user' || cast(id as varchar(20)) || '@example.com' as email,\n"
            f"  case id % 3 when 0 then 'subscribed' when 1 then '{SQL_JUDGED}' "
            f"else '{quoted}' end as status\n"
            "from ids"
        )
        return {"dim_subscribers.sql": subscribers, "schema.yml": SUBSCRIPTIONS_YML}

    def test_only_the_rows_sql_cannot_judge_are_read_and_handed_over(
        self, project: Any, serve: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        box = serve()
        calls = handed_over_issues(monkeypatch)
        third = self.ROWS // 3
        # recorded again, SQL's rejections are merged a slice at a time where the warehouse
        # says so (DuckDB: as many as its stage's merges; Postgres: all at once), here in
        # slices of 400 (1,000 rows: 400, 400, 200), then all at once
        for attempt, merge_rows, slices in ((1, -1, 0), (2, -1, 1), (3, 400, 3), (4, None, 1)):
            if merge_rows != -1:
                for cls in (DuckDBWarehouse, PostgresWarehouse):
                    monkeypatch.setattr(cls, "selected_merge_rows", merge_rows)
            calls.clear()
            statements = count_statements(monkeypatch)
            code, document = segment(project, "sync")
            assert code == 1, document
            result = by_mapping(document)["subscribers"]
            sent = third if attempt == 1 else 0  # acknowledged the first time
            assert (result["sent"], result["rejected"]) == (sent, 2 * third)
            # SQL's reason first, as the stream's order has its rows (on Postgres they
            # are recorded while the others are read)
            assert f"'{SQL_JUDGED}';" in result["reasons"][0]
            assert any(BUILDER_JUDGED in reason for reason in result["reasons"])
            # the runner held only the builder's rejections, never SQL's
            handed = [issue for call in calls for issue in call]
            assert len(handed) == third
            assert {issue[2] for issue in handed} == {result["reasons"][1]}
            rows = project.run_sql(
                "select record_key, attempts, reason from "
                f"{project.test_schema}_segment.segment_record_issues "
                "where mapping_name = 'subscribers'",
                fetch="all",
            )
            assert len(rows) == 2 * third
            assert {int(key) % 3 for key, _, _ in rows} == {1, 2}
            assert {attempts for _, attempts, _ in rows} == {attempt}
            sql_judged = [r for key, _, r in rows if int(key) % 3 == 1]
            assert set(sql_judged) == {result["reasons"][0]}
            selected = [s for s in issue_updates(statements) if SELECTED in s]
            assert len(selected) == slices, selected
            # the rejected rows are found by their reasons alone: no message is written for
            # them, nor for the rows sent (Postgres computed a message for every pending row)
            (selecting,) = [s for s in statements if f"temporary table {SELECTED}" in s]
            assert '"type":"identify"' not in selecting and "messaging_subscriptions" not in (
                selecting
            )
            if attempt == 1:
                # none recorded before: inserted, with no update passing over the table
                assert not issue_updates(statements), statements
                box = serve()  # the sent third is acknowledged; the next syncs send nothing
            else:
                assert box.stats.snapshot()["accepted_messages"] == 0


class TestRejectionsRecordedBesideTheStream:
    """Postgres records the rows its SQL rejects on a connection of their own while the stream's
    query runs and its rows go out: neither waits for the other."""

    ROWS = 2_000

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        # every other row sent, the others rejected by SQL
        subscribers = (
            f"with ids as ({generated_users_sql(cls.ROWS)})\n"
            "select id, 'user' || cast(id as varchar(20)) || '@example.com' as email,\n"
            f"  case id % 2 when 0 then 'subscribed' else '{SQL_JUDGED}' end as status\n"
            "from ids"
        )
        return {"dim_subscribers.sql": subscribers, "schema.yml": SUBSCRIPTIONS_YML}

    @pytest.mark.postgres_only
    def test_rows_go_out_while_the_rejections_wait_for_the_issues_table(
        self, project: Any, serve: Any, warehouse_target: dict[str, Any]
    ) -> None:
        import psycopg2

        run_dbt(["deps"])
        run_dbt(["run"])
        box = serve()
        half = self.ROWS // 2
        issues = f"{project.test_schema}_segment.segment_record_issues"
        t = warehouse_target
        holder = psycopg2.connect(
            host=t["host"], port=t["port"], user=t["user"], password=t["pass"], dbname=t["dbname"]
        )
        # another session holds the issues table (as a long report query's lock would): the
        # rejections' insert waits for it, reading it does not
        with holder.cursor() as cur:
            cur.execute(f"lock table {issues} in exclusive mode")
        seen: dict[str, int] = {}

        def release_once_sent() -> None:
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    seen["sent"] = box.stats.snapshot()["accepted_messages"]
                    if seen["sent"] >= half:
                        break
                    time.sleep(0.05)
                with holder.cursor() as cur:
                    cur.execute(f"select count(*) from {issues}")
                    seen["recorded"] = cur.fetchone()[0]
            finally:
                holder.rollback()
                holder.close()

        releaser = threading.Thread(target=release_once_sent)
        releaser.start()
        try:
            code, document = segment(project, "sync")
        finally:
            releaser.join()
        # every row to send went out while the rejections waited, none recorded yet
        assert seen == {"sent": half, "recorded": 0}, seen
        assert code == 1, document
        result = by_mapping(document)["subscribers"]
        assert (result["sent"], result["acknowledged"], result["rejected"]) == (half, half, half)
        assert f"'{SQL_JUDGED}';" in result["reasons"][0]
        assert issue_summary(project) == (half, half, 1, 1, "rejected", "rejected", 0)
        keys = project.run_sql(
            f"select record_key from {issues} where mapping_name = 'subscribers'", fetch="all"
        )
        assert {int(key) % 2 for (key,) in keys} == {1}

        # again: nothing left to send, the same rows rejected a second time
        code, document = segment(project, "sync")
        assert code == 1, document
        result = by_mapping(document)["subscribers"]
        assert (result["sent"], result["rejected"]) == (0, half)
        assert issue_summary(project) == (half, half, 2, 2, "rejected", "rejected", 0)


class TestRejectionsInBulk:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        # the rows come through the runner, and the recorder's calls are what is tested here
        subscribers = subscriptions_sql(5_000, BUILDER_JUDGED)
        return {"dim_subscribers.sql": subscribers, "schema.yml": SUBSCRIPTIONS_YML}

    def test_rejections_are_recorded_in_bulk(
        self,
        project: Any,
        serve: Any,
        monkeypatch: pytest.MonkeyPatch,
        warehouse_target: dict[str, Any],
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        box = serve()
        statements = count_statements(monkeypatch)
        code, document = segment(project, "sync")
        assert code == 1, document
        result = by_mapping(document)["subscribers"]
        assert (result["sent"], result["rejected"]) == (0, 5_000)
        assert "MAYBE" in result["reasons"][0]
        assert box.stats.snapshot()["requests"] == 0
        assert issue_summary(project) == (5_000, 5_000, 1, 1, "rejected", "rejected", 0)
        # set-based: a few statements for the whole chunk, not one or two per issue
        on_issues = [s for s in statements if '"segment_record_issues"' in s]
        assert len(on_issues) <= 5, len(on_issues)
        # none was recorded before: inserted, with no update passing over the table
        assert not [s for s in on_issues if s.lstrip().startswith("update")], on_issues

        statements.clear()
        calls = handed_over_issues(monkeypatch)
        code, document = segment(project, "sync")
        assert code == 1, document
        assert issue_summary(project) == (5_000, 5_000, 2, 2, "rejected", "rejected", 0)
        # a call's issues share their texts: one string per distinct operation and reason, not
        # one per row as the warehouse hands them over (memory while they wait to be recorded)
        assert sum(len(call) for call in calls) == 5_000
        for call in calls:
            for field in ("operation", "reason"):
                # the sync hands over plain tuples in RecordIssue's order
                at = RecordIssue._fields.index(field)
                texts = [issue[at] for issue in call]
                assert len({id(text) for text in texts}) == len(set(texts)), field
        assert issue_updates(statements)

        # calls gathered in the warehouse and merged in bulk: each chunk of rejected rows
        # handed over, merged once two chunks or more have gathered, and at the end
        for growth, attempts, merges in ((1, 3, 2), (2, 4, 3)):
            statements.clear()
            for cls in (DuckDBWarehouse, PostgresWarehouse):
                monkeypatch.setattr(cls, "issue_rows", 1)
                monkeypatch.setattr(cls, "issue_merge_rows", CHUNK_ROWS * (3 - growth))
                monkeypatch.setattr(cls, "issue_merge_growth", growth)
            code, document = segment(project, "sync")
            assert code == 1, document
            summary = (5_000, 5_000, attempts, attempts, "rejected", "rejected", 0)
            assert issue_summary(project) == summary
            # fixed merges: two chunks, then the rest (2,000); growing ones: one chunk, then
            # two, then the rest (500), where merges of one chunk each took four
            updates = issue_updates(statements)
            assert len(updates) == merges, updates

        # the issues not yet handed over when the stream ends join the stage's last merge:
        # two chunks handed over and staged, the rest (2,000) with them in one update
        statements.clear()
        for cls in (DuckDBWarehouse, PostgresWarehouse):
            monkeypatch.setattr(cls, "issue_rows", 2 * CHUNK_ROWS)
            monkeypatch.setattr(cls, "issue_merge_rows", 10_000)
        code, document = segment(project, "sync")
        assert code == 1, document
        assert issue_summary(project) == (5_000, 5_000, 5, 5, "rejected", "rejected", 0)
        updates = issue_updates(statements)
        assert len(updates) == 1, updates

        # none recorded before: the recorder gathers up to issue_insert_rows for each insert
        # (DuckDB: a row group, which it writes without its WAL), and no update runs
        warehouse = open_bookkeeping(project, warehouse_target)
        try:
            warehouse.execute(
                f"delete from {warehouse.table('segment_record_issues')} "
                f"where mapping_name = {warehouse.param}",
                ("subscribers",),
            )
        finally:
            warehouse.close()
        statements.clear()
        for cls in (DuckDBWarehouse, PostgresWarehouse):
            monkeypatch.setattr(cls, "issue_rows", 1)
            monkeypatch.setattr(cls, "issue_insert_rows", CHUNK_ROWS)
        code, document = segment(project, "sync")
        assert code == 1, document
        assert issue_summary(project) == (5_000, 5_000, 1, 1, "rejected", "rejected", 0)
        on_issues = [s for s in statements if '"segment_record_issues"' in s]
        inserts = [s for s in on_issues if s.lstrip().startswith("insert")]
        assert not [s for s in on_issues if s.lstrip().startswith("update")], on_issues
        # an insert per chunk, where merges of issue_merge_rows took two chunks each
        assert len(inserts) == -(-5_000 // CHUNK_ROWS), inserts

        # the same (key, operation) twice in one chunk is one row, one attempt, the last reason;
        # then a chunk of existing and new rows: one moves, the other is added
        mapping = SimpleNamespace(name="duplicated")  # only the mapping's name is read
        warehouse = open_bookkeeping(project, warehouse_target)
        try:
            warehouse.record_issues(
                mapping,
                [
                    RecordIssue("7", "added", "first MAYBE", "rejected"),
                    RecordIssue("7", "added", "second MAYBE", "failed"),
                    RecordIssue("8", "added", "MAYBE", "rejected"),
                ],
            )
            first = duplicated_issues(project)
            warehouse.record_issues(
                mapping,
                [
                    RecordIssue("8", "added", "MAYBE again", "failed"),
                    RecordIssue("9", "added", "it's 'MAYBE'", "rejected"),
                ],
            )
        finally:
            warehouse.close()
        assert first == [("7", "failed", "second MAYBE", 1), ("8", "rejected", "MAYBE", 1)]
        assert duplicated_issues(project) == [
            ("7", "failed", "second MAYBE", 1),
            ("8", "failed", "MAYBE again", 2),
            ("9", "rejected", "it's 'MAYBE'", 1),
        ]

        # the same through a stage: two calls merged at once, of existing and new rows, each
        # (operation, kind, reason) numbered across the calls
        warehouse = open_bookkeeping(project, warehouse_target)
        try:
            stage = warehouse.issue_stage(mapping)
            stage.merge_rows = 1_000
            stage.add([RecordIssue("9", "added", "MAYBE", "failed")])
            stage.add(
                [
                    RecordIssue("10", "added", "it's 'MAYBE'", "rejected"),
                    RecordIssue("7", "added", "MAYBE", "failed"),
                    # COPY's separators and escape in a key (Postgres stages through COPY)
                    RecordIssue("a\tb\\c\nd\r", "added", "MAYBE", "rejected"),
                ]
            )
            # nothing is in the issues table until the stage merges
            assert duplicated_issues(project)[2] == ("9", "rejected", "it's 'MAYBE'", 1)
            stage.close()
        finally:
            warehouse.close()
        assert duplicated_issues(project) == [
            ("10", "rejected", "it's 'MAYBE'", 1),
            ("7", "failed", "MAYBE", 2),
            ("8", "failed", "MAYBE again", 2),
            ("9", "failed", "MAYBE", 2),
            ("a\tb\\c\nd\r", "rejected", "MAYBE", 1),
        ]

    def test_a_sync_looks_up_only_the_issues_it_did_not_record(
        self, project: Any, serve: Any, warehouse_target: dict[str, Any]
    ) -> None:
        """A sync forgets the issues of rows no longer pending; those it recorded itself (last
        seen since it began) are of rows it found pending and did not get acknowledged, and
        are not looked up: where every row is rejected again, that was a pass for nothing."""
        run_dbt(["deps"])
        run_dbt(["run"])
        serve()
        warehouse = open_bookkeeping(project, warehouse_target)
        table, p = warehouse.table("segment_record_issues"), warehouse.param
        try:
            # issues of two rows that are not pending: one last seen before the sync, and one
            # as if recorded since it began (a clock ahead of this one's)
            for key, seen in (("gone-before", datetime(2020, 1, 1)), ("gone-since", FUTURE)):
                warehouse.execute(
                    f"insert into {table} (mapping_name, record_key, operation, kind, reason, "
                    f"first_seen, last_seen, attempts) values ({p}, {p}, 'added', 'failed', "
                    f"'HTTP 503', {p}, {p}, 1)",
                    ("subscribers", key, seen, seen),
                )
        finally:
            warehouse.close()
        code, document = segment(project, "sync")
        assert code == 1, document
        assert by_mapping(document)["subscribers"]["rejected"] == 5_000
        assert gone_issues(project) == ["gone-since"]
        # the pending rows' issues stay, recorded again
        assert issue_summary(project)[:2] == (5_001, 5_001)

        warehouse = open_bookkeeping(project, warehouse_target)
        try:
            mapping = SimpleNamespace(name="subscribers")  # only the mapping's name is read
            warehouse.clear_resolved_issues(mapping, FUTURE + timedelta(seconds=1))
            assert gone_issues(project) == []
            assert issue_summary(project)[:2] == (5_000, 5_000)
        finally:
            warehouse.close()

    def test_long_reasons_recorded_again_raise_the_runners_memory_cap(
        self,
        project: Any,
        monkeypatch: pytest.MonkeyPatch,
        warehouse_target: dict[str, Any],
    ) -> None:
        """Segment's answers are kept up to 500 characters: merging 20,000 of them again ran
        out of an 8 MB cap (the update's join holds them); the cap goes up, as for a stream."""
        run_dbt(["deps"])
        run_dbt(["run"])  # the bookkeeping tables, when this test runs alone
        monkeypatch.setitem(RUNNER_SETTINGS, "memory_limit", "8MB")
        mapping = SimpleNamespace(name="long_reasons")
        warehouse = open_bookkeeping(project, warehouse_target)
        try:
            for attempt in (1, 2):
                stage = warehouse.issue_stage(mapping, all_new=attempt == 1)
                stage.merge_rows = 10_000
                for start in range(0, 20_000, 2_000):
                    stage.add(
                        RecordIssue(str(i), "added", "x" * 490 + f"{i % 7}/{attempt}", "failed")
                        for i in range(start, start + 2_000)
                    )
                stage.close()
        finally:
            warehouse.close()
        rows = project.run_sql(
            "select count(*), min(attempts), max(attempts), min(length(reason)) "
            f"from {project.test_schema}_segment.segment_record_issues "
            "where mapping_name = 'long_reasons'",
            fetch="one",
        )
        assert tuple(rows) == (20_000, 2, 2, 493)

    def test_long_keys_acknowledged_raise_the_runners_memory_cap(
        self,
        project: Any,
        monkeypatch: pytest.MonkeyPatch,
        warehouse_target: dict[str, Any],
    ) -> None:
        """One commit of 10,000 acknowledgements whose keys are 2,000 characters long holds
        20 MB in the warehouse: under a 4 MB cap it ran out of memory and failed the sync; the
        cap goes up, as for a stream, and every acknowledgement is kept."""
        run_dbt(["deps"])
        run_dbt(["run"])
        monkeypatch.setitem(RUNNER_SETTINGS, "memory_limit", "4MB")
        mapping = SimpleNamespace(name="long_keys")
        warehouse = open_bookkeeping(project, warehouse_target)
        acks = warehouse.mapping_table(mapping, "acks")
        try:
            warehouse.execute(
                f"create table {acks} (record_key text, row_hash text, operation text, "
                "change_version bigint, acked_at timestamp)"
            )
            keys = [f"{i:05d}" + "k" * 1_995 for i in range(10_000)]
            warehouse.acknowledge(
                mapping, Acks(keys, ["h"] * len(keys), ["added"] * len(keys), [1] * len(keys))
            )
        finally:
            warehouse.close()
        rows = project.run_sql(
            f"select count(distinct record_key), min(length(record_key)) from {acks}",
            fetch="one",
        )
        assert tuple(rows) == (10_000, 2_000)

    @pytest.mark.postgres_only
    def test_issues_recorded_again_are_merged_without_nested_loops(
        self, project: Any, monkeypatch: pytest.MonkeyPatch, warehouse_target: dict[str, Any]
    ) -> None:
        """Issues a sync has just inserted are recorded again by the next one, before
        autovacuum has analyzed them: the statistics show the mapping as a handful of rows, and
        a plan for those may probe one side once per row of the other. 1,000,000 rejected rows
        recorded again right after their first sync ran one update for over ten minutes."""
        run_dbt(["deps"])
        run_dbt(["run"])
        mapping = SimpleNamespace(name="stale_statistics")
        reason = "column status has subscription status 'MAYBE'; expected subscribed, ..."
        issues = [RecordIssue(f"{i:06d}", "added", reason, "rejected") for i in range(20_000)]
        warehouse = open_bookkeeping(project, warehouse_target)
        table = warehouse.table("segment_record_issues")
        try:
            # statistics taken when another mapping had issues and this one none, and kept so
            warehouse.execute(f"alter table {table} set (autovacuum_enabled = false)")
            warehouse.record_issues(SimpleNamespace(name="another"), issues[:5_000], True)
            warehouse.execute(f"analyze {table}")
            warehouse.record_issues(mapping, issues, True)
            plans: list[str] = []
            for name in ("transaction", "side_transaction"):
                original = getattr(PostgresWarehouse, name)
                explaining = _counting(original, plans, _ExplainingCursor)
                monkeypatch.setattr(PostgresWarehouse, name, explaining)
            # as a sync records them: through a stage, whose first merge analyzes the table
            stage = warehouse.issue_stage(mapping)
            stage.add(issues)
            stage.close()
        finally:
            monkeypatch.undo()
            warehouse.execute(f"alter table {table} reset (autovacuum_enabled)")
            warehouse.close()
        assert plans, "the merge ran no update"
        for plan in plans:
            # the planner's choice turns on a few percent of cost either way; the merge's own
            # setting is what keeps the nested loop out
            assert plan.startswith("enable_nestloop off\n"), plan
            # the test server's work_mem is Postgres' default, 4 MB: the merge raises it
            assert plan.split("\n")[1] == f"work_mem {MERGE_WORK_MEM_MB}MB", plan
            assert "Nested Loop" not in plan, plan
            # the mapping's issues analyzed first: the hash is of the staged keys, not of the
            # 20,000 issues the statistics put at none
            hashed = plan.split("->  Hash  ", 1)[1].split("\n")[1]
            assert "segment_record_issues_resolved" in hashed, plan
        summary = issue_summary(project, mapping.name)
        assert summary == (20_000, 20_000, 2, 2, "rejected", "rejected", 0)


class _ExplainingCursor(_CountingCursor):
    """Each update's plan, explained with its parameters before it runs, after the settings
    that allow nested loops and size its hash tables."""

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.lstrip().startswith("update"):
            lines = []
            for setting in ("enable_nestloop", "work_mem"):
                self._cursor.execute(f"show {setting}")
                lines.append(f"{setting} {self._cursor.fetchall()[0][0]}")
            self._cursor.execute("explain " + sql, *args)
            self._statements.append("\n".join(lines + [row[0] for row in self._cursor.fetchall()]))
        return self._cursor.execute(sql, *args)


# a last_seen after any sync of these tests: as if recorded by a machine whose clock is ahead
FUTURE = datetime(2099, 1, 1)


def gone_issues(project: Any) -> list[str]:
    rows = project.run_sql(
        f"select record_key from {project.test_schema}_segment.segment_record_issues "
        "where mapping_name = 'subscribers' and record_key like 'gone-%' order by record_key",
        fetch="all",
    )
    return [row[0] for row in rows]


def duplicated_issues(project: Any) -> list[tuple[Any, ...]]:
    rows = project.run_sql(
        "select record_key, kind, reason, attempts "
        f"from {project.test_schema}_segment.segment_record_issues "
        "where mapping_name = 'duplicated' order by record_key",
        fetch="all",
    )
    return [tuple(r) for r in rows]


def stderr_lines(child: subprocess.Popen) -> queue.Queue[str]:
    """The child's stderr, line by line, read on a thread of its own."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def wait_for_progress(lines: queue.Queue[str], child: subprocess.Popen, mapping: str) -> str:
    """The first progress line of a mapping: a chunk of its rows has been judged."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            assert child.poll() is None, f"the sync ended ({child.returncode}) without progress"
            continue
        if line.startswith(f"{mapping}: ") and "rows/s" in line:
            return line
    raise AssertionError("no progress line while rows were being rejected")


class TestInterruptedRejections(RejectedSubscribers):
    ROWS = 100_000
    # judged a chunk at a time by the builder: SQL's rejections are one statement, done or not
    STATUS = BUILDER_JUDGED

    def test_sigterm_stops_a_sync_where_every_row_is_rejected_within_a_chunk(
        self, project: Any, serve: Any
    ) -> None:
        _, child = build_and_start_sync_child(project, serve, quiet=False)
        try:
            lines = stderr_lines(child)
            wait_for_progress(lines, child, "subscribers")
            child.send_signal(signal.SIGTERM)
            assert child.wait(timeout=60) == 130
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.stdout is not None
        assert "interrupted" in child.stdout.read()

        # the rejections judged before the signal are recorded, and the run says how many
        recorded = issue_summary(project)[0]
        assert issue_summary(project) == (recorded, recorded, 1, 1, "rejected", "rejected", 0)
        run = project.run_sql(
            f"select status, rejected from {project.test_schema}_segment.segment_runs "
            "where mapping_name = 'subscribers'",
            fetch="all",
        )
        assert [tuple(r) for r in run] == [("interrupted", recorded)]
        # stopped within a chunk or two of the signal, long before every row was judged
        assert 0 < recorded < self.ROWS

        code, document = segment(project, "sync")
        assert code == 1, document
        assert by_mapping(document)["subscribers"]["rejected"] == self.ROWS
        assert issue_summary(project) == (self.ROWS, self.ROWS, 1, 2, "rejected", "rejected", 0)
        attempts = project.run_sql(
            f"select sum(attempts) from {project.test_schema}_segment.segment_record_issues",
            fetch="one",
        )[0]
        assert attempts == self.ROWS + recorded


# ten subscribers, the second of them rejected by SQL (a status Segment does not know)
SUBSCRIBERS_ONE_REJECTED = """
select id, 'user' || id || '@example.com' as email,
  case when id = 2 then 'MAYBE' else 'subscribed' end as status
from (values (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)) as t(id)
{where}
"""


class TestIssuesOfRowsGone:
    """A sync with nothing pending forgets the issues of rows that are gone, and, where the
    mapping has none, leaves the issues table alone (its delete would read every pending row)."""

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            "dim_subscribers.sql": SUBSCRIBERS_ONE_REJECTED.format(where=""),
            "schema.yml": SUBSCRIPTIONS_YML,
        }

    def test_cleared_with_nothing_pending(
        self, project: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 1, document
        assert (by_mapping(document)["subscribers"]["sent"], issue_keys(project)) == (9, ["2"])

        # the rejected row leaves the model: nothing is pending, and its issue is resolved
        model = Path(project.project_root) / "models" / "dim_subscribers.sql"
        model.write_text(SUBSCRIBERS_ONE_REJECTED.format(where="where id <> 2"))
        run_dbt(["run"])
        statements = count_statements(monkeypatch)
        code, document = segment(project, "sync")
        assert code == 0, document
        result = by_mapping(document)["subscribers"]
        assert (result["sent"], result["rejected"], sum(result["pending"].values())) == (0, 0, 0)
        assert issue_keys(project) == []
        assert [s for s in statements if s.lstrip().startswith("delete") and "issues" in s]

        # none left: the next sync with nothing pending deletes nothing
        statements.clear()
        code, document = segment(project, "sync")
        assert code == 0, document
        assert [s for s in statements if s.lstrip().startswith("delete")] == []
        assert len(received(sandbox)) == 9


def issue_keys(project: Any) -> list[str]:
    return [str(key) for (key,) in recorded_issues(project, "subscribers")]
