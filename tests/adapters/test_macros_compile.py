"""Every dispatched macro renders for Snowflake, BigQuery, Redshift, Spark and Databricks.

No warehouse: render_macros.py runs `dbt run-operation` with each adapter's plugin and dbt's Jinja
environment, records the statements instead of executing them (Spark itself is run for real by
scripts/spark_capture_check.py). Here: which variant dispatch picks per adapter, that each
statement parses in that warehouse's dialect (sqlglot), and that nothing only DuckDB or Postgres
understands reaches the others.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from render_macros import dispatchers  # noqa: E402

ADAPTERS = ["snowflake", "bigquery", "redshift", "spark", "databricks"]
DATABRICKS_PYTHON = (
    Path(os.environ.get("DATABRICKS_VENV", ROOT / ".venv-databricks")) / "bin" / "python"
)

# the variants dispatch must pick where the default would not run (all others: default__)
VARIANTS: dict[str, dict[str, str]] = {
    "snowflake": {
        "hashable_text": "snowflake__hashable_text",
        "pending_from_changes_sql": "snowflake__pending_from_changes_sql",
        "scratch_table": "snowflake__scratch_table",
    },
    "bigquery": {
        "hashable_text": "bigquery__hashable_text",
        "scratch_table": "bigquery__scratch_table",
    },
    "redshift": {
        "acquire_mapping_lock": "redshift__acquire_mapping_lock",
        "ensure_state": "redshift__ensure_state",
        "hashable_text": "redshift__hashable_text",
        "row_hash": "redshift__row_hash",
        "scratch_table": "postgres__scratch_table",
        "text_type": "redshift__text_type",
    },
    "spark": {
        name: f"spark__{name}"
        for name in [
            "acquire_mapping_lock",
            "apply_unsent_changes_from",
            "bookkeeping_file_format",
            "bookkeeping_table_options",
            "clear_table",
            "ensure_history",
            "ensure_state",
            "finish_interrupted_rewrite",
            "fold_acknowledgements",
            "forget_acknowledged",
            "hashable_text",
            "pending_from_changes_sql",
            "rebaseline_state",
            "record_capture",
            "rehash_state",
            "replace_rows",
            "replace_table",
            "rewrite_table",
            "row_level_writes",
            "scratch_table",
        ]
    },
}
VARIANTS["databricks"] = {
    **VARIANTS["spark"],
    **{
        name: f"databricks__{name}"
        for name in [
            "apply_unsent_changes_from",
            "bookkeeping_file_format",
            "fold_acknowledgements",
            "rebaseline_state",
            "rehash_state",
        ]
    },
}


def python_for(adapter: str) -> Path | None:
    """The Python that has this adapter installed, or None."""
    if adapter == "databricks":
        return DATABRICKS_PYTHON if DATABRICKS_PYTHON.exists() else None
    return Path(sys.executable) if importlib.util.find_spec(f"dbt.adapters.{adapter}") else None


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each adapter's render: one process per Python (this one's adapters one after the other,
    Databricks' venv beside it), a dbt parse per adapter."""
    out = tmp_path_factory.mktemp("rendered")
    by_python: dict[Path, list[str]] = {}
    for adapter in ADAPTERS:
        python = python_for(adapter)
        if python is not None:
            by_python.setdefault(python, []).append(adapter)
    running = {
        tuple(adapters): subprocess.Popen(
            [
                str(python),
                str(HERE / "render_macros.py"),
                *(arg for a in adapters for arg in (a, str(out / f"{a}.json"))),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=out,
        )
        for python, adapters in by_python.items()
    }
    results: dict[str, Any] = {}
    for adapters, process in running.items():
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"{', '.join(adapters)}:\n{output[-4000:]}"
        for adapter in adapters:
            results[adapter] = json.loads((out / f"{adapter}.json").read_text())
    return results


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest, rendered: dict[str, Any]) -> str:
    if request.param not in rendered:
        hint = (
            "bash scripts/ensure_databricks_venv.sh"
            if request.param == "databricks"
            else f'pip install -e ".[{request.param}]"'
        )
        pytest.skip(f"dbt-{request.param} is not installed: {hint}")
    return request.param


def flat(sql: str) -> str:
    return " ".join(sql.lower().split())


def test_the_render_calls_every_dispatcher_of_the_package() -> None:
    source = (HERE / "render_project" / "macros" / "render_all.sql").read_text()
    called = set(re.findall(r"segment_profiles\.(\w+)\(", source))
    assert set(dispatchers()) - called == set()


def test_dispatch_picks_the_adapters_variant_where_the_default_would_not_run(
    adapter: str, rendered: dict[str, Any]
) -> None:
    chosen = rendered[adapter]["dispatch"]
    assert sorted(chosen) == dispatchers()
    assert {m: v for m, v in chosen.items() if v != f"default__{m}"} == VARIANTS[adapter]


def test_every_statement_parses_in_the_warehouses_dialect(
    adapter: str, rendered: dict[str, Any]
) -> None:
    import sqlglot

    statements = rendered[adapter]["statements"]
    assert len(statements) > 100
    for sql in statements:
        if flat(sql).startswith("show tables"):
            continue  # sqlglot reads SHOW as an opaque command
        assert sqlglot.parse(sql, read=adapter), sql


def test_nothing_only_duckdb_or_postgres_understands_reaches_the_warehouse(
    adapter: str, rendered: dict[str, Any]
) -> None:
    for sql in map(flat, rendered[adapter]["statements"]):
        assert "at time zone" not in sql, sql
        assert "advisory" not in sql and "create unique index" not in sql, sql
        assert "::" not in sql, sql
        if adapter in ("bigquery", "spark", "databricks"):
            assert "create temporary table" not in sql, sql
        if adapter != "bigquery":
            assert "to_hex(" not in sql, sql


def test_row_hashes_use_the_warehouses_own_functions(
    adapter: str, rendered: dict[str, Any]
) -> None:
    sql = "\n".join(map(flat, rendered[adapter]["statements"]))
    expected = {
        "snowflake": "md5(cast(",
        "bigquery": "to_hex(md5(cast(",
        "redshift": "md5(case when",
        "spark": "md5(cast(concat(",
        "databricks": "md5(cast(concat(",
    }[adapter]
    assert expected in sql
    if adapter == "redshift":
        assert "len(" in sql and "length(" not in sql
        # text is a varchar(256) there: nothing is cast to it
        assert " as text)" not in sql and "varchar(65535)" in sql
    if adapter in ("spark", "databricks"):
        assert "to_utc_timestamp(" in sql and "current_timezone()" in sql
    if adapter == "snowflake":
        assert "convert_timezone('utc'" in sql and "row_number() over ()" not in sql


def test_parquet_state_on_spark_is_written_by_whole_table_rewrites_only(
    rendered: dict[str, Any],
) -> None:
    if "spark" not in rendered:
        pytest.skip("dbt-spark is not installed")
    statements = list(map(flat, rendered["spark"]["statements"]))
    for sql in statements:
        assert not sql.startswith(("delete", "update", "merge")), sql
        if sql.startswith("create table"):
            assert " using parquet " in f"{sql} ", sql
        if sql.startswith("insert overwrite"):
            # never the table the statement reads: Spark refuses that
            target = sql.split()[3]
            assert f"from {target} " not in f"{sql} ", sql
    assert any(
        s.startswith("insert overwrite table analytics_segment.users__state ") for s in statements
    )


def test_delta_state_on_databricks_is_merged_not_rewritten(rendered: dict[str, Any]) -> None:
    if "databricks" not in rendered:
        pytest.skip("the Databricks venv is missing: bash scripts/ensure_databricks_venv.sh")
    statements = list(map(flat, rendered["databricks"]["statements"]))
    assert any(s.startswith("merge into") and "users__state" in s for s in statements)
    assert not any("__sp_rewrite" in s for s in statements)
    assert all(" using delta" in s for s in statements if s.startswith("create table if not"))


def test_bigquery_scratch_tables_expire_by_themselves(rendered: dict[str, Any]) -> None:
    if "bigquery" not in rendered:
        pytest.skip("dbt-bigquery is not installed")
    statements = map(flat, rendered["bigquery"]["statements"])
    created = [s for s in statements if s.startswith("create") and "__sp_scratch" in s.split()[4]]
    assert created and all("expiration_timestamp" in s for s in created)
