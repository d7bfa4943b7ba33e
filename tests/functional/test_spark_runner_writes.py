"""The runner's writes on Spark parquet tables, which take no UPDATE, DELETE or MERGE: each one
the shared SQL does with those (capture flags, fingerprints, record issues, rename and prune) as
an append or a whole-table rewrite, and a rewrite a kill interrupted finished on the next open."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from dbt_segment_profiles.warehouse import Acks, RecordIssue
from dbt_segment_profiles.warehouse.spark import SparkWarehouse
from segment_testing import ProjectWithoutThePackage

pytestmark = pytest.mark.spark_only

TABLES = {
    "segment_captures": "mapping_name string, blocked_reason string, "
    "allow_mass_delete boolean, attempted boolean",
    "segment_mappings": "mapping_name string, fingerprint string, definition string, "
    "updated_at timestamp",
    "segment_record_issues": "mapping_name string, record_key string, operation string, "
    "kind string, reason string, first_seen timestamp, last_seen timestamp, attempts bigint",
    "m__pending": "__sp_key string, __sp_version bigint",
    "m__acks": "record_key string, row_hash string, operation string, change_version bigint, "
    "acked_at timestamp",
}


class TestRunnerWritesOnParquet(ProjectWithoutThePackage):
    def test_flags_fingerprints_issues_and_renames_rewrite_the_table(self, project: Any) -> None:
        schema = project.test_schema
        for name, columns in TABLES.items():
            project.run_sql(f"create table {schema}.{name} ({columns}) using parquet")
        project.run_sql(
            f"insert into {schema}.segment_captures values ('m', 'guard', false, false), "
            "('other', 'guard', false, false)"
        )
        project.run_sql(f"insert into {schema}.m__pending values ('a', 1), ('b', 1)")
        project.run_sql(
            f"insert into {schema}.segment_record_issues values ('other', 'a', 'added', "
            "'failed', 'x', current_timestamp(), current_timestamp(), 3)"
        )

        def rows(sql: str) -> list[tuple]:
            return sorted(tuple(r) for r in project.run_sql(sql.format(s=schema), fetch="all"))

        warehouse = SparkWarehouse(project.adapter, schema)
        m = SimpleNamespace(name="m")
        try:
            warehouse.record_attempts(m)
            warehouse.allow_mass_delete(m)
            assert rows("select * from {s}.segment_captures") == [
                ("m", None, True, True),
                ("other", "guard", False, False),
            ]

            warehouse.store_fingerprint(m, "f1", "d")
            warehouse.store_fingerprint(m, "f2", "it's \\ d")
            assert warehouse.stored_fingerprint(m) == "f2"
            assert rows("select mapping_name, definition from {s}.segment_mappings") == [
                ("m", "it's \\ d")
            ]

            tricky = "can't be \\ sent: 'quoted' ?"
            warehouse.record_issues(
                m,
                [
                    RecordIssue("a", "added", tricky, "rejected"),
                    RecordIssue("b", "added", "HTTP 503", "failed"),
                ],
            )
            warehouse.record_issues(m, [RecordIssue("a", "added", "HTTP 500", "failed")])
            issues = "select mapping_name, record_key, kind, reason, attempts"
            issues += " from {s}.segment_record_issues"
            assert rows(issues) == [
                ("m", "a", "failed", "HTTP 500", 2),
                ("m", "b", "failed", "HTTP 503", 1),
                ("other", "a", "failed", "x", 3),
            ]

            # a is acknowledged: its issue is resolved, b's stays, other mappings' are untouched
            warehouse.acknowledge(m, Acks(["a"], ["h"], ["added"], [1]))
            # but not by a sync that began before a's issue was last seen: it recorded that one
            warehouse.clear_resolved_issues(m, datetime(2020, 1, 1))
            assert len(rows(issues)) == 3
            warehouse.clear_resolved_issues(m)
            assert rows(issues) == [
                ("m", "b", "failed", "HTTP 503", 1),
                ("other", "a", "failed", "x", 3),
            ]

            with warehouse.transaction() as cur:
                warehouse.rename_mapping_rows(cur, "segment_record_issues", "other", "renamed")
                warehouse.delete_mapping_rows(cur, "segment_record_issues", "m")
            assert rows(issues) == [("renamed", "a", "failed", "x", 3)]
        finally:
            warehouse.close()

        # a kill during the copy over segment_mappings: its files gone, the staging table whole
        project.run_sql(
            f"create table {schema}.segment_mappings__sp_rewrite using parquet as "
            "select 'z' as mapping_name, 'fz' as fingerprint, 'dz' as definition, "
            "current_timestamp() as updated_at"
        )
        project.run_sql(f"truncate table {schema}.segment_mappings")
        reopened = SparkWarehouse(project.adapter, schema)
        try:
            assert reopened.stored_fingerprint(SimpleNamespace(name="z")) == "fz"
            assert "segment_mappings__sp_rewrite" not in reopened._tables()
        finally:
            reopened.close()
