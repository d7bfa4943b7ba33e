"""Shared fixtures: dbt's own test project fixtures, a warehouse per --profile, the sandbox."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["dbt.tests.fixtures.project"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def _load_pg_server() -> Any:
    # tests/ is not a package; load the helper by path so every import mode finds it
    if "tests.pg_server" in sys.modules:
        return sys.modules["tests.pg_server"]
    spec = importlib.util.spec_from_file_location(
        "tests.pg_server", REPO_ROOT / "tests" / "pg_server.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["tests.pg_server"] = module
    spec.loader.exec_module(module)
    return module


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--profile",
        action="store",
        default="duckdb",
        choices=("duckdb", "postgres"),
        help="the warehouse functional tests run on",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "duckdb_only: a feature only DuckDB has (Python models); deselected elsewhere"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # deselected, not skipped: Postgres has no Python models, so there is nothing to run there
    if config.getoption("--profile") == "duckdb":
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("duckdb_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def profile_type(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--profile")


@pytest.fixture(scope="session")
def postgres_server(profile_type: str) -> Iterator[Any]:
    if profile_type != "postgres":
        yield None
        return
    server = _load_pg_server().start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def warehouse_target(
    profile_type: str, postgres_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    if profile_type == "postgres":
        return {
            "type": "postgres",
            "threads": 4,
            "host": postgres_server.host,
            "port": postgres_server.port,
            "user": postgres_server.user,
            "pass": postgres_server.password,
            "dbname": postgres_server.dbname,
        }
    return {
        "type": "duckdb",
        "threads": 4,
        "path": str(tmp_path_factory.getbasetemp() / "segment_tests.duckdb"),
    }


@pytest.fixture(scope="class")
def dbt_profile_target(warehouse_target: dict[str, Any]) -> dict[str, Any]:
    return dict(warehouse_target)
