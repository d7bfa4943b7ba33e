"""Renders every dispatched macro of the package for adapters, with no warehouse.

    python tests/adapters/render_macros.py ADAPTER OUTPUT.json [ADAPTER OUTPUT.json ...]

`dbt run-operation render_all` runs in a scratch copy of tests/adapters/render_project with a
profile of that adapter (made-up credentials: no connection is ever opened). The adapter's
methods that would reach the warehouse answer from here instead: `execute` records each statement
and returns a plausible result, relations exist, columns are the model's or the state's layout.
Writes {"dispatch": {macro: variant}, "statements": [sql, ...]} per adapter. Runs under any
Python that has dbt and the adapters (Databricks needs a venv of its own:
scripts/ensure_databricks_venv.sh). Several adapters render one after the other in one process:
importing dbt and building its config schemas cost more CPU than a render.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).resolve().parent / "render_project"
DISPATCH = re.compile(r"adapter\.dispatch\('(\w+)', 'segment_profiles'\)")

ADAPTERS: dict[str, tuple[str, dict[str, Any]]] = {
    "snowflake": (
        "dbt.adapters.snowflake:SnowflakeAdapter",
        {
            "account": "acme",
            "user": "dbt",
            "password": "unused",
            "database": "analytics",
            "warehouse": "transforming",
            "schema": "analytics",
        },
    ),
    "bigquery": (
        "dbt.adapters.bigquery:BigQueryAdapter",
        {"method": "oauth", "project": "acme-analytics", "dataset": "analytics"},
    ),
    "redshift": (
        "dbt.adapters.redshift:RedshiftAdapter",
        {
            "host": "acme.redshift.amazonaws.com",
            "user": "dbt",
            "password": "unused",
            "port": 5439,
            "dbname": "analytics",
            "schema": "analytics",
        },
    ),
    "spark": (
        "dbt.adapters.spark:SparkAdapter",
        {"method": "session", "host": "NA", "schema": "analytics"},
    ),
    "databricks": (
        "dbt.adapters.databricks:DatabricksAdapter",
        {
            "host": "acme.cloud.databricks.com",
            "http_path": "/sql/1.0/warehouses/unused",
            "token": "unused",
            "catalog": "main",
            "schema": "analytics",
        },
    ),
}

# the mapped model's columns as each warehouse reports their types
MODEL_TYPES = {
    "snowflake": ("NUMBER(38,0)", "VARCHAR(256)", "TIMESTAMP_TZ"),
    "bigquery": ("INT64", "STRING", "TIMESTAMP"),
    "redshift": ("integer", "character varying(256)", "timestamp with time zone"),
    "spark": ("int", "string", "timestamp"),
    "databricks": ("int", "string", "timestamp"),
}
STATE = ("record_key", "row_hash", "change_version", "synced_at")
LEGACY_STATE = ("record_key", "row_hash", "synced_at")
CAPTURES = (
    "mapping_name",
    "relation_name",
    "key_column",
    "key_type",
    "hash_version",
    "captured_at",
    "pending_added",
    "pending_updated",
    "pending_deleted",
    "state_rows",
    "deleting",
    "blocked_reason",
    "allow_mass_delete",
    "invocation_id",
    "attempted",
)


class Column:
    """What the macros read of a column: its name and data type."""

    def __init__(self, name: str, data_type: str) -> None:
        self.name = self.column = name
        self.data_type = self.dtype = data_type


def dispatchers() -> list[str]:
    """Every macro of the package that is a dispatcher, by name."""
    found: set[str] = set()
    for path in (ROOT / "macros").rglob("*.sql"):
        found.update(DISPATCH.findall(path.read_text()))
    return sorted(found)


def render(adapter: str) -> dict[str, Any]:
    import agate
    from dbt.adapters.contracts.connection import AdapterResponse
    from dbt.adapters.factory import reset_adapters
    from dbt.cli.main import dbtRunner

    module, _, name = ADAPTERS[adapter][0].partition(":")
    adapter_class = getattr(importlib.import_module(module), name)
    statements: list[str] = []
    chosen: dict[str, str] = {}
    key_type, text_type, time_type = MODEL_TYPES[adapter]

    def execute(
        self: Any, sql: str, auto_begin: bool = False, fetch: bool = False, limit: Any = None
    ) -> Any:
        statements.append(sql)
        lowered = " ".join(sql.lower().split())
        if lowered.startswith("select count(*)"):
            table = agate.Table([[1]], ["count"])
        elif lowered.startswith("show tables"):
            table = agate.Table(
                [["analytics_segment", "found", False]], ["namespace", "tableName", "isTemporary"]
            )
        else:
            table = agate.Table([], ["result"])
        return AdapterResponse(_message="OK"), table

    def get_relation(self: Any, database: Any, schema: str, identifier: str) -> Any:
        return self.Relation.create(
            database=database, schema=schema, identifier=identifier, type="table"
        )

    def get_columns_in_relation(self: Any, relation: Any) -> list[Column]:
        identifier = relation.identifier
        if identifier == "dim_users":
            return [
                Column("user_id", key_type),
                Column("email", text_type),
                Column("plan", text_type),
                Column("seen_at", time_type),
            ]
        if identifier == "segment_captures":
            return [Column(c, text_type) for c in CAPTURES]
        if identifier.startswith("legacy_"):
            return [Column(c, text_type) for c in LEGACY_STATE]
        return [Column(c, text_type) for c in STATE]

    def nothing(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    def listen(event: Any) -> None:
        if event.info.name == "JinjaLogInfo" and event.data.msg.startswith("SP_DISPATCH "):
            _, macro, variant = event.data.msg.split()
            chosen[macro] = variant

    with tempfile.TemporaryDirectory(prefix=f"sp-render-{adapter}-") as scratch:
        project = Path(scratch) / "project"
        shutil.copytree(PROJECT, project)
        # the package as `dbt deps` would install a local one, without a second dbt invocation
        (project / "dbt_packages").mkdir()
        (project / "dbt_packages" / "segment_profiles").symlink_to(ROOT, target_is_directory=True)
        profile = {"type": adapter, "threads": 1, **ADAPTERS[adapter][1]}
        (project / "profiles.yml").write_text(
            yaml.safe_dump({"render_macros": {"target": "dev", "outputs": {"dev": profile}}})
        )
        where = ["--project-dir", str(project), "--profiles-dir", str(project)]
        runner = dbtRunner(callbacks=[listen])
        patches = [
            mock.patch.object(adapter_class, "execute", execute),
            mock.patch.object(adapter_class, "get_relation", get_relation),
            mock.patch.object(adapter_class, "get_columns_in_relation", get_columns_in_relation),
            mock.patch.object(adapter_class, "create_schema", nothing),
            mock.patch.object(adapter_class, "drop_relation", nothing),
            mock.patch.object(adapter_class, "commit_if_has_connection", nothing),
            mock.patch.object(adapter_class, "clear_transaction", nothing),
            mock.patch.object(adapter_class, "release_connection", nothing),
            mock.patch.object(adapter_class, "cleanup_connections", nothing),
        ]
        for patch in patches:
            patch.start()
        try:
            arguments = json.dumps({"dispatchers": dispatchers()})
            result = runner.invoke(
                [
                    "run-operation",
                    "render_all",
                    "--args",
                    arguments,
                    *where,
                    "--quiet",
                    "--no-partial-parse",
                    "--no-version-check",
                    "--no-send-anonymous-usage-stats",
                ]
            )
            if not result.success:
                raise SystemExit(f"dbt run-operation failed for {adapter}: {result.exception}")
        finally:
            # unregistered while its connection methods are still patched: the next adapter's
            # invocation would otherwise clean this one's made-up connections up for real
            reset_adapters()
            for patch in patches:
                patch.stop()
    return {"dispatch": chosen, "statements": statements}


if __name__ == "__main__":
    pairs = sys.argv[1:]
    if not pairs or len(pairs) % 2:
        raise SystemExit(__doc__)
    from dbt_common.tests import enable_test_caching

    # the cache dbt's own `project` fixture turns on: Jinja's parse of each macro file, kept
    # by its text, so the adapters after the first reuse dbt's and the package's macros
    # (4 adapters: 23 s of CPU against 27 s)
    enable_test_caching()
    for adapter, output in zip(pairs[::2], pairs[1::2], strict=True):
        Path(output).write_text(json.dumps(render(adapter), indent=1))
