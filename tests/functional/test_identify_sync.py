"""Identify mappings end to end: real `dbt run` capture, real HTTP to the sandbox, real state."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from dbt.tests.util import run_dbt, write_file

from segment_testing import by_mapping, received, segment

USERS_SQL = "select * from {{ ref('raw_users') }}"

SCHEMA_YML = """
version: 2
models:
  - name: dim_users
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: users_to_profiles
              action: identify
              profile_space: default
              max_deleted_percent: null  # three rows: one delete is a third of them
              fields:
                user_id: id
                traits:
                  email: email
                  plan: plan
            - name: users_with_deletes
              action: identify
              profile_space: default
              send: [added, updated, deleted]
              max_deleted_percent: null
              fields:
                user_id: id
                traits: [email]
"""


def load_users(project: Any, rows: list[tuple[Any, ...]]) -> None:
    """Replace the raw table the model reads, through `dbt seed` as a user would."""
    lines = ["id,email,plan,note"] + [
        ",".join("" if v is None else str(v) for v in row) for row in rows
    ]
    write_file("\n".join(lines) + "\n", project.project_root, "seeds", "raw_users.csv")
    run_dbt(["seed", "--full-refresh"])


DAY_1 = [
    (1, "ada@example.com", "pro", "a"),
    (2, "grace@example.com", "free", "b"),
    (3, "edsger@example.com", "free", "c"),
]
DAY_2 = [
    (1, "ada@example.com", "enterprise", "a"),  # updated
    (2, "grace@example.com", "free", "changed"),  # only an unmapped column changed
    (4, "barbara@example.com", "pro", "d"),  # added; 3 is deleted
]


@pytest.mark.spark
@pytest.mark.usefixtures("sandbox")
class TestIdentifySync:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": USERS_SQL, "schema.yml": SCHEMA_YML}

    def test_only_changes_are_sent_and_acknowledged(self, project: Any, sandbox: Any) -> None:
        run_dbt(["deps"])
        load_users(project, DAY_1)
        run_dbt(["run"])

        code, first = segment(project, "sync")
        assert code == 0, first
        results = by_mapping(first)
        assert results["users_to_profiles"]["acknowledged_by_operation"] == {
            "added": 3,
            "updated": 0,
            "deleted": 0,
        }
        assert results["users_with_deletes"]["acknowledged"] == 3
        messages = received(sandbox)
        assert len(messages) == 6
        ada = next(m for m in messages if m["userId"] == "1" and "plan" in m["traits"])
        assert ada["type"] == "identify"
        assert ada["traits"] == {"email": "ada@example.com", "plan": "pro"}
        assert ada["integrations"] == {"All": False}

        code, again = segment(project, "sync")
        assert code == 0
        assert all(m["sent"] == 0 for m in again["results"])
        assert len(received(sandbox)) == 6

        load_users(project, DAY_2)
        run_dbt(["run"])
        code, second = segment(project, "sync")
        assert code == 0, [m["error"] for m in second["results"]]
        results = by_mapping(second)
        assert results["users_to_profiles"]["acknowledged_by_operation"] == {
            "added": 1,
            "updated": 1,
            "deleted": 0,
        }
        assert results["users_with_deletes"]["acknowledged_by_operation"] == {
            "added": 1,
            "updated": 0,
            "deleted": 1,
        }
        new = received(sandbox)[6:]
        assert sorted((m["userId"], tuple(sorted(m["traits"].items()))) for m in new) == sorted(
            [
                ("1", (("email", "ada@example.com"), ("plan", "enterprise"))),
                ("4", (("email", "barbara@example.com"), ("plan", "pro"))),
                ("4", (("email", "barbara@example.com"),)),
                ("3", (("email", None),)),
            ]
        )

        # the delete the first mapping does not send is not pending on the next run either
        run_dbt(["run"])
        code, third = segment(project, "sync")
        assert code == 0
        assert all(m["sent"] == 0 for m in third["results"])


@pytest.mark.spark
@pytest.mark.usefixtures("sandbox")
class TestInvalidKeys:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": USERS_SQL, "schema.yml": SCHEMA_YML}

    def test_null_and_duplicated_keys_are_counted_and_not_sent(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        load_users(
            project,
            [
                (1, "ada@example.com", "pro", "a"),
                (None, "nobody@example.com", "free", "b"),
                (None, "nobody2@example.com", "free", "b"),
                (2, "grace@example.com", "free", "c"),
                (2, "grace2@example.com", "free", "c"),
            ],
        )
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0, document
        result = by_mapping(document)["users_to_profiles"]
        assert result["invalid_keys"] == 4
        assert result["acknowledged"] == 1
        assert {m["userId"] for m in received(sandbox)} == {"1"}
        reasons = project.run_sql(
            f"select record_key, reason, row_count from {project.test_schema}_segment."
            "users_to_profiles__invalid order by 1 nulls last",
            fetch="all",
        )
        assert [tuple(r) for r in reasons] == [
            ("2", "primary key id is duplicated", 2),
            (None, "primary key id is NULL", 2),
        ]


WIDE_TRAITS = 60
# a message of about 5.6 KB a row: DuckDB works on 2,048 rows at a time, and the lane's SQL for
# that many needed more than the runner's cap (20 MB): 128 MB for 61 columns of about 100
# characters
WIDE_SQL = (
    "select i as id, "
    + ", ".join(
        f"repeat('abcdefghij', 9) || '-{n}-' || cast(i as varchar) as t{n:02d}"
        for n in range(WIDE_TRAITS)
    )
    + " from generate_series(1, 2100) as g(i)"
)
WIDE_YML = """
version: 2
models:
  - name: dim_wide
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: wide_to_profiles
              action: identify
              profile_space: default
              fields:
                user_id: id
                traits: [{traits}]
""".format(traits=", ".join(f"t{n:02d}" for n in range(WIDE_TRAITS)))


def capture_and_sync(project: Any) -> tuple[int, Any]:
    """A first `dbt run` of the project, then a sync: the JSON document and its exit code."""
    run_dbt(["deps"])
    run_dbt(["run"])
    return segment(project, "sync")


class WideModel:
    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_wide.sql": WIDE_SQL, "schema.yml": WIDE_YML}


@pytest.mark.usefixtures("sandbox")
class TestWideRows(WideModel):
    def test_rows_wider_than_the_runners_memory_cap_are_sent_whole(
        self, project: Any, sandbox: Any
    ) -> None:
        code, document = capture_and_sync(project)
        assert code == 0, document
        assert by_mapping(document)["wide_to_profiles"]["acknowledged"] == 2100
        messages = received(sandbox)
        assert len(messages) == 2100
        last = max(messages, key=lambda m: int(m["userId"]))
        assert last["userId"] == "2100"
        assert last["traits"]["t59"] == "abcdefghij" * 9 + "-59-2100"
        assert len(last["traits"]) == WIDE_TRAITS


@pytest.mark.duckdb_only
@pytest.mark.usefixtures("sandbox")
class TestWideRowsUnderTheProfilesOwnCap(WideModel):
    """A memory_limit the profile sets is the user's: the runner does not raise it."""

    @pytest.fixture(scope="class")
    @classmethod
    def dbt_profile_target(cls, warehouse_target: dict[str, Any]) -> dict[str, Any]:
        return {**warehouse_target, "settings": {"memory_limit": "64MB"}}

    def test_the_sync_says_it_ran_out_of_memory_and_sends_nothing(
        self, project: Any, sandbox: Any
    ) -> None:
        code, document = capture_and_sync(project)
        assert code == 2, document
        assert "Out of Memory" in document["error"], document
        assert received(sandbox) == []


# rows whose messages grow a byte a row across Segment's limit: the ids are all as long, so
# each message is the one before and one byte more
LIMIT_ROWS = 160
LIMIT_SQL = (
    "select 'u' || lpad(cast(i as varchar), 3, '0') as id, repeat('x', 32560 + i) as pad "
    f"from generate_series(1, {LIMIT_ROWS}) as g(i)"
)
LIMIT_YML = """
version: 2
models:
  - name: dim_limit
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: limit_to_profiles
              action: identify
              profile_space: default
              fields:
                user_id: id
                traits: [pad]
"""
OVER_LIMIT = re.compile(r"message is (\d+) bytes; Segment accepts at most 32768")


@pytest.mark.usefixtures("sandbox")
class TestMessagesAtSegmentsLimit:
    """The warehouse writes these messages; the runner measures each as it reads it."""

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_limit.sql": LIMIT_SQL, "schema.yml": LIMIT_YML}

    def test_up_to_32768_bytes_are_sent_and_longer_ones_rejected_with_their_size(
        self, project: Any, sandbox: Any
    ) -> None:
        code, document = capture_and_sync(project)
        assert code == 1, document
        result = by_mapping(document)["limit_to_profiles"]
        sizes = sorted(len(orjson.dumps(m)) for m in received(sandbox))
        assert sizes and sizes[-1] == 32768, sizes[-3:]
        assert sizes == list(range(32769 - len(sizes), 32769))
        assert result["acknowledged"] == len(sizes)
        assert result["rejected"] == LIMIT_ROWS - len(sizes) > 0
        issues = project.run_sql(
            f"select record_key, reason from {project.test_schema}_segment."
            "segment_record_issues where mapping_name = 'limit_to_profiles' order by record_key",
            fetch="all",
        )
        over = [int(OVER_LIMIT.fullmatch(reason)[1]) for _, reason in issues]
        assert over == list(range(32769, 32769 + result["rejected"]))
        assert [key for key, _ in issues] == [
            f"u{i:03d}" for i in range(len(sizes) + 1, LIMIT_ROWS + 1)
        ]
