"""Issue 11, item 1: the runner connects through the target's dbt adapter, so every option of
the user's profile applies to its queries, and renders vars.segment_profiles as dbt does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt.tests.util import run_dbt

from dbt_segment_profiles.context import load_context
from segment_testing import (
    USERS_YML,
    acknowledged_keys,
    by_mapping,
    received,
    segment,
    segment_project_config,
    users_model_sql,
)

ROWS = 25
SUFFIX_ENV = "SEGMENT_TEST_SCHEMA_SUFFIX"


def synced_user_ids(sandbox: Any) -> list[str]:
    return sorted({m["userId"] for m in received(sandbox)})


def runner_context(project: Any) -> Any:
    return load_context(str(project.project_root), str(project.profiles_dir))


@pytest.mark.duckdb_only
class TestDuckDBProfileOptions:
    """settings, extensions and an attached database where the mapped model lives."""

    @pytest.fixture(scope="class")
    @classmethod
    def dbt_profile_target(
        cls, warehouse_target: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
    ) -> dict[str, Any]:
        side = tmp_path_factory.mktemp("attached") / "side.duckdb"
        return {
            **warehouse_target,
            # a session setting: a connection opened without the profile would not have it;
            # and DuckDB's own threads, which the runner keeps and caps the memory of
            "settings": {"TimeZone": "Asia/Kathmandu", "threads": 2},
            "attach": [{"path": str(side), "alias": "side"}],
            # models and bookkeeping live in the attached database
            "database": "side",
        }

    @pytest.fixture(scope="class")
    @classmethod
    def profiles_config_update(cls, dbt_profile_target: Any, unique_schema: str) -> Any:
        target = {**dbt_profile_target, "schema": unique_schema}
        # DuckDB 2.0 downloads every extension it installs, even its built-in ones: offline,
        # a target with one cannot connect, the runner's connections included
        extended = {**target, "extensions": ["parquet"]}
        outputs = {"default": target, "with_extension": extended}
        return {"test": {"outputs": outputs, "target": "default"}}

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(ROWS), "schema.yml": USERS_YML}

    def test_a_model_in_an_attached_database_syncs_with_the_profiles_settings(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert by_mapping(document)["users"]["acknowledged"] == ROWS
        assert synced_user_ids(sandbox) == sorted(str(i) for i in range(ROWS))
        bookkeeping = f"side.{project.test_schema}_segment"
        assert len(acknowledged_keys(project, "users", bookkeeping)) == ROWS

        ctx = runner_context(project)
        try:
            (users,) = ctx.mappings
            assert users.relation_name.startswith('"side".')
            warehouse = ctx.warehouse
            # the setting holds on the runner's connection and on its streaming reader
            assert warehouse.query("select current_setting('TimeZone')") == [("Asia/Kathmandu",)]
            stream = warehouse.stream("select current_setting('TimeZone')", 10)
            assert [row for chunk in stream for row in chunk] == [("Asia/Kathmandu",)]
            # the profile's two threads, each with the room the runner's one thread has (under
            # one thread's cap, two failed a checkpoint, fatally, at 400,000 acknowledgements)
            assert warehouse.query("select current_setting('threads')") == [(2,)]
            assert warehouse.query("select current_setting('memory_limit')") == [
                (duckdb_memory_limit("40MB"),)
            ]
        finally:
            ctx.close()

        code, document = segment(project, "sync")
        assert code == 0 and by_mapping(document)["users"]["sent"] == 0

    def test_the_profiles_extensions_are_installed_by_the_runners_connection(
        self, project: Any, sandbox: Any
    ) -> None:
        code, document = segment(project, "validate", "--target", "with_extension")
        assert code == 2
        line, hint = document["error"].splitlines()
        assert hint.startswith("  -> ")
        assert line.startswith(
            "cannot connect to the duckdb warehouse of target 'with_extension': "
        )
        assert 'extension "parquet"' in line


@pytest.mark.postgres_only
class TestPostgresProfileOptions:
    """sslmode, search_path and keepalives_idle reach the runner's connections."""

    @pytest.fixture(scope="class")
    @classmethod
    def dbt_profile_target(cls, warehouse_target: dict[str, Any]) -> dict[str, Any]:
        if warehouse_target["type"] != "postgres":
            return dict(warehouse_target)
        return {
            **warehouse_target,
            "sslmode": "disable",
            "search_path": "pg_catalog, public",
            "keepalives_idle": 37,
        }

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(ROWS), "schema.yml": USERS_YML}

    def test_the_profiles_connection_options_apply_and_a_sync_works(
        self, project: Any, sandbox: Any
    ) -> None:
        run_dbt(["deps"])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert by_mapping(document)["users"]["acknowledged"] == ROWS
        assert synced_user_ids(sandbox) == sorted(str(i) for i in range(ROWS))

        ctx = runner_context(project)
        try:
            warehouse = ctx.warehouse
            assert warehouse.query("show search_path") == [("pg_catalog, public",)]
            assert warehouse.query("select ssl from pg_stat_ssl where pid = pg_backend_pid()") == [
                (False,)
            ]
            dsn = warehouse._conn.handle.get_dsn_parameters()
            assert (dsn["sslmode"], dsn["keepalives_idle"]) == ("disable", "37")
            stream = warehouse.stream("select current_setting('search_path')", 10)
            assert [row for chunk in stream for row in chunk] == [("pg_catalog, public",)]
        finally:
            ctx.close()


class TestJinjaInThePackageVars:
    """{{ target.name }} and {{ env_var(...) }} in vars.segment_profiles, as dbt renders them."""

    @pytest.fixture(scope="class")
    @classmethod
    def project_config_update(cls, unique_schema: str) -> dict[str, Any]:
        schema = unique_schema + "_{{ target.name }}_{{ env_var('" + SUFFIX_ENV + "') }}"
        return segment_project_config({"schema": schema})

    @pytest.fixture(scope="class")
    @classmethod
    def models(cls) -> dict[str, str]:
        return {"dim_users.sql": users_model_sql(ROWS), "schema.yml": USERS_YML}

    def test_target_and_env_var_render_and_a_missing_variable_is_named(
        self, project: Any, sandbox: Any, unique_schema: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(SUFFIX_ENV, "blue")
        run_dbt(["deps"])
        run_dbt(["run"])
        code, document = segment(project, "sync")
        assert code == 0, document
        assert by_mapping(document)["users"]["acknowledged"] == ROWS
        schema = f"{unique_schema}_default_blue"
        assert len(acknowledged_keys(project, "users", schema)) == ROWS
        assert len(synced_user_ids(sandbox)) == ROWS

        monkeypatch.delenv(SUFFIX_ENV)
        code, document = segment(project, "sync")
        assert code == 2
        assert document["error"].splitlines() == [
            f"env_var('{SUFFIX_ENV}') is used in the dbt config but the variable is not set",
            f"  -> export {SUFFIX_ENV}=... or give env_var a default",
        ]
        assert len(received(sandbox)) == ROWS


def test_a_profile_that_needs_a_missing_variable_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEGMENT_TEST_NO_SUCH_PATH", raising=False)
    (tmp_path / "dbt_project.yml").write_text(
        "name: p\nversion: '1.0'\nprofile: p\nconfig-version: 2\n"
    )
    (tmp_path / "profiles.yml").write_text(
        "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: \"{{ env_var('SEGMENT_TEST_NO_SUCH_PATH') }}\"\n"
    )
    probe = type("Project", (), {"project_root": tmp_path, "profiles_dir": tmp_path})
    code, document = segment(probe, "validate")
    assert code == 2
    assert document["error"].splitlines()[0] == (
        "env_var('SEGMENT_TEST_NO_SUCH_PATH') is used in the dbt config but the variable is "
        "not set"
    )


def duckdb_memory_limit(value: str) -> str:
    """`value` as DuckDB reports a memory_limit set to it."""
    with duckdb.connect() as connection:
        connection.execute(f"set memory_limit = '{value}'")
        (row,) = connection.execute("select current_setting('memory_limit')").fetchall()
    return str(row[0])
