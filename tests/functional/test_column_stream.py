"""DuckDB sends the messages its SQL wrote as Arrow columns (delivery/column_batches.py): rows
the builder must judge, messages over Segment's limit and rows SQL rejects, met in a later
chunk, still end as the row-by-row stream ends them."""

from __future__ import annotations

from typing import Any

import pytest
from dbt.tests.util import run_dbt

from dbt_segment_profiles.messages import MAX_MESSAGE_BYTES
from dbt_segment_profiles.sync_engine import COLUMN_CHUNK_ROWS
from dbt_segment_profiles.warehouse.duckdb import ARROW_ENV, DuckDBWarehouse
from segment_testing import (
    SUBSCRIPTIONS_YML,
    acknowledged_keys,
    by_mapping,
    received,
    recorded_issues,
    segment,
)

ROWS = 3 * COLUMN_CHUNK_ROWS
# past the first chunk: the first decides that the rows are read as columns
FLAGGED = {ROWS - 10, ROWS - 500, 2 * COLUMN_CHUNK_ROWS + 3}  # a status only the builder judges
SQL_REJECTED = {COLUMN_CHUNK_ROWS + 1, ROWS - 2}  # a status SQL judges
OVERSIZED = {COLUMN_CHUNK_ROWS + 7}  # an email that makes the message too big

MODEL_SQL = f"""
select range as id,
  case when range in ({", ".join(map(str, OVERSIZED))}) then repeat('x', {MAX_MESSAGE_BYTES})
       else 'user' || range || '@example.com' end as email,
  case when range in ({", ".join(map(str, FLAGGED))}) then 'MAYBE''S'
       when range in ({", ".join(map(str, SQL_REJECTED))}) then 'MAYBE'
       when range % 2 = 0 then 'subscribed' else 'unsubscribed' end as status
from range({ROWS})
"""


def column_streams(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The queries DuckDB streams as Arrow columns from now on."""
    streams: list[str] = []
    original = DuckDBWarehouse.stream_columns

    def counted(self: DuckDBWarehouse, sql: str, chunk_rows: int) -> Any:
        streams.append(sql)
        return original(self, sql, chunk_rows)

    monkeypatch.setattr(DuckDBWarehouse, "stream_columns", counted)
    return streams


class Subscribers:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_subscribers.sql": MODEL_SQL, "schema.yml": SUBSCRIPTIONS_YML}


@pytest.mark.duckdb_only
class TestColumnStream(Subscribers):
    def test_every_row_ends_as_the_row_stream_ends_it(
        self, project: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        streams = column_streams(monkeypatch)
        run_dbt(["deps"])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert len(streams) == 1, "the messages went as Arrow columns"
        result = by_mapping(document)["subscribers"]
        assert code == 1, document
        bad = FLAGGED | SQL_REJECTED | OVERSIZED
        assert (result["sent"], result["acknowledged"], result["rejected"]) == (
            ROWS - len(bad),
            ROWS - len(bad),
            len(bad),
        )

        messages = received(sandbox)
        users = sorted(int(m["userId"]) for m in messages)
        assert users == sorted(set(range(ROWS)) - bad)
        statuses = {
            int(m["userId"]): m["context"]["messaging_subscriptions"][0]["status"]
            for m in messages
        }
        assert all(
            status == ("SUBSCRIBED" if user % 2 == 0 else "UNSUBSCRIBED")
            for user, status in statuses.items()
        )
        assert len({m["messageId"] for m in messages}) == len(messages)
        assert sorted(map(int, acknowledged_keys(project, "subscribers"))) == users

        issues = recorded_issues(project, "subscribers", "record_key, reason")
        reasons = {int(key): reason for key, reason in issues}
        assert set(reasons) == bad
        assert all("MAYBE'S" in reasons[key] for key in FLAGGED)
        assert all("'MAYBE'" in reasons[key] for key in SQL_REJECTED)
        assert all("bytes" in reasons[key] and "32" in reasons[key] for key in OVERSIZED)

        # the next sync sends nothing and rejects the same rows again
        code, document = segment(project, "sync")
        again = by_mapping(document)["subscribers"]
        assert (again["sent"], again["rejected"]) == (0, len(bad))
        assert len(received(sandbox)) == len(messages)


@pytest.mark.duckdb_only
class TestRowsByChoice(Subscribers):
    """SEGMENT_PROFILES_ARROW=0 (or no pyarrow: the duckdb extra without the arrow one) reads
    rows; the messages, counts and issues are those the Arrow columns give."""

    def test_rows_and_columns_send_the_same_messages(
        self, project: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        streams = column_streams(monkeypatch)
        run_dbt(["deps"])
        run_dbt(["run"])
        monkeypatch.setenv(ARROW_ENV, "off")
        code, document = segment(project, "sync")
        assert streams == [], "the rows were read as columns"
        as_rows = by_mapping(document)["subscribers"]
        sent_as_rows = received(sandbox)
        columns = "record_key, operation, reason"
        rows_issues = recorded_issues(project, "subscribers", columns)

        code, document = segment(project, "reset", "subscribers")
        assert code == 0, document
        monkeypatch.delenv(ARROW_ENV)
        code, document = segment(project, "sync")
        assert len(streams) == 1, "the messages went as Arrow columns"
        as_columns = by_mapping(document)["subscribers"]
        sent_as_columns = received(sandbox)[len(sent_as_rows) :]

        counted_keys = ("sent", "acknowledged", "rejected", "failed")
        assert [as_rows[k] for k in counted_keys] == [as_columns[k] for k in counted_keys]
        assert as_rows["sent"] == ROWS - len(FLAGGED | SQL_REJECTED | OVERSIZED)
        assert comparable(sent_as_rows) == comparable(sent_as_columns)
        assert recorded_issues(project, "subscribers", columns) == rows_issues


def comparable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages by user, without their messageId: a reset sends each row as a change of
    its own."""
    kept = [{k: v for k, v in m.items() if k != "messageId"} for m in messages]
    return sorted(kept, key=lambda m: int(m["userId"]))
