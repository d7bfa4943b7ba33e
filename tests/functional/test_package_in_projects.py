"""Issue 10, item 8: the package in users' projects creates its bookkeeping only when it captures.

Installing the package must not touch the warehouse: `dbt test`, `dbt seed`, `dbt compile` and
projects without mappings create no schema and no table. A `dbt run` (or `dbt build`) that builds
a mapped model creates the bookkeeping once, before any model, so captures on several threads
(DuckDB's "Catalog write-write conflict") never race to create it.
"""

from __future__ import annotations

from typing import Any

import pytest
from dbt.tests.util import run_dbt

from segment_testing import received, segment

USERS_CSV = "id,email\n1,a@x.io\n2,b@x.io\n"

# the package's own data tests, and one of the user's on a seed
WITHOUT_MAPPINGS_YML = """
version: 2
models:
  - name: stg_users
    columns:
      - name: id
        data_tests: [not_null]
"""

WITH_MAPPINGS_YML = """
version: 2
seeds:
  - name: raw_users
    columns:
      - name: id
        data_tests: [not_null]
models:
  - name: dim_users
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: users
              action: identify
              profile_space: default
              fields:
                user_id: id
                traits: [email]
  - name: dim_members
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: members
              action: track
              profile_space: default
              fields:
                user_id: id
                event_name: {value: Joined}
                properties: [email]
"""

HISTORY_TABLES = {"segment_runs", "segment_record_issues", "segment_mappings", "segment_captures"}
PER_MAPPING = ("state", "acks", "attempts", "pending", "invalid")


def bookkeeping_schema_exists(project: Any) -> bool:
    rows = project.run_sql(
        "select schema_name from information_schema.schemata"
        " where lower(schema_name) = lower('{schema}_segment')",
        fetch="all",
    )
    return len(rows) > 0


def bookkeeping_tables(project: Any) -> set[str]:
    rows = project.run_sql(
        "select table_name from information_schema.tables"
        " where lower(table_schema) = lower('{schema}_segment')",
        fetch="all",
    )
    return {name.lower() for (name,) in rows}


class TestProjectWithoutMappings:
    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls) -> dict[str, Any]:
        # the post-hook line is there, mappings are not (yet)
        return {"models": {"+post-hook": "{{ segment_profiles.capture_changes() }}"}}

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"stg_users.sql": "select 1 as id", "schema.yml": WITHOUT_MAPPINGS_YML}

    def test_run_test_and_build_succeed_and_create_no_bookkeeping(self, project: Any) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        assert not bookkeeping_schema_exists(project)
        # the package's views are built, with their columns and no rows, and pass their tests
        runs = project.run_sql("select count(*) from {schema}.segment_sync_runs", fetch="one")
        assert runs[0] == 0
        run_dbt(["test"])
        run_dbt(["build"])
        assert not bookkeeping_schema_exists(project)


@pytest.mark.usefixtures("sandbox")
class TestProjectWithMappings:
    @pytest.fixture(scope="class")
    @classmethod
    def seeds(cls) -> dict[str, str]:
        return {"raw_users.csv": USERS_CSV}

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {
            "dim_users.sql": "select * from {{ ref('raw_users') }}",
            "dim_members.sql": "select * from {{ ref('raw_users') }}",
            "stg_notes.sql": "select 1 as id",
            "schema.yml": WITH_MAPPINGS_YML,
        }

    def test_only_a_run_that_captures_creates_the_bookkeeping_on_four_threads(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["seed"])
        assert not bookkeeping_schema_exists(project)
        run_dbt(["test", "--select", "raw_users"])
        assert not bookkeeping_schema_exists(project)
        run_dbt(["compile"])
        assert not bookkeeping_schema_exists(project)
        # a run that builds no mapped model captures nothing, so creates nothing
        run_dbt(["run", "--select", "stg_notes"])
        assert not bookkeeping_schema_exists(project)

        # both mapped models and the package's views are built at once, on a fresh warehouse
        run_dbt(["run", "--threads", "4"])
        tables = bookkeeping_tables(project)
        assert HISTORY_TABLES <= tables
        assert {f"{m}__{role}" for m in ("users", "members") for role in PER_MAPPING} <= tables
        code, document = segment(project, "sync")
        assert code == 0, document
        assert len(received(sandbox)) == 4
        # the package's views select from the bookkeeping, and pass their tests
        run_dbt(["test"])
        runs = project.run_sql("select count(*) from {schema}.segment_sync_runs", fetch="one")
        assert runs[0] == 2
