"""Shared fixtures: dbt's own test project fixtures, a warehouse per --profile, the sandbox."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["dbt.tests.fixtures.project"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def _load_helper(name: str) -> Any:
    # tests/ is not a package; load the helper by path so every import mode finds it
    qualified = f"tests.{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, REPO_ROOT / "tests" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--profile",
        action="store",
        default="duckdb",
        choices=("duckdb", "postgres", "spark"),
        help="the warehouse functional tests run on",
    )


def pytest_configure(config: pytest.Config) -> None:
    # dbt's own answer, without inspect.stack() over pytest's deep stack (see the module)
    _load_helper("flag_source").install()
    # dbt's config schemas, which the runner keeps on disk, in a directory of this run's own
    if "DBT_SEGMENT_CACHE_DIR" not in os.environ:
        os.environ["DBT_SEGMENT_CACHE_DIR"] = tempfile.mkdtemp(prefix="segment-cache-")
        # removed at exit, after the runner's own exit handler has saved the cache into it
        # (exit handlers run last registered first; the runner registers its own later)
        atexit.register(shutil.rmtree, os.environ["DBT_SEGMENT_CACHE_DIR"], ignore_errors=True)
    # dbt writes every event of every invocation to logs/dbt.log at debug level, formatted
    # whether read or not: test_state_trust and test_change_capture took 88 s of CPU against
    # 100 s without it (medians of four alternations each). Only the tests that read that
    # file (test_write_key_secrecy) ask for it back.
    os.environ.setdefault("DBT_LOG_LEVEL_FILE", "none")
    config.addinivalue_line(
        "markers",
        "duckdb_only: about DuckDB itself (Python models, the runner's memory cap); "
        "deselected elsewhere",
    )
    config.addinivalue_line(
        "markers", "postgres_only: about Postgres' own connection options; deselected elsewhere"
    )
    config.addinivalue_line(
        "markers",
        "spark: runs under --profile spark too (a Spark session is slow: only these run there)",
    )
    config.addinivalue_line(
        "markers", "spark_only: about Spark itself (its JVM, its metastore); deselected elsewhere"
    )
    config.addinivalue_line(
        "markers",
        "slow: a module of minutes, not seconds; collected first, so that under xdist one worker "
        "starts it at once while the other takes the rest",
    )


def _runs_on(profile: str, item: pytest.Item) -> bool:
    if profile == "spark":
        return bool(item.get_closest_marker("spark") or item.get_closest_marker("spark_only"))
    if item.get_closest_marker("spark_only"):
        return False
    if item.get_closest_marker("postgres_only"):
        return profile == "postgres"
    return profile == "duckdb" or not item.get_closest_marker("duckdb_only")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # deselected, not skipped: Postgres has no Python models, so there is nothing to run there;
    # on Spark each test costs seconds, so only the few marked for it run
    profile = config.getoption("--profile")
    kept, dropped = [], []
    for item in items:
        (kept if _runs_on(profile, item) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # a stable sort: each module and class stays in one piece and in its own order
    items[:] = sorted(kept, key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def profile_type(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--profile")


@pytest.fixture(scope="session")
def postgres_server(profile_type: str) -> Iterator[Any]:
    """The warehouse on --profile postgres; on --profile spark, the home of the Hive metastore."""
    if profile_type not in ("postgres", "spark"):
        yield None
        return
    server = _load_helper("pg_server").start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def spark_settings(
    profile_type: str, postgres_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str] | None]:
    """The Spark settings of the whole run, with this process's SparkSession started (its JVM
    takes seconds): dbt-spark's `method: session` cursor joins it, and a child process given
    the same settings sees the same tables. None unless --profile spark."""
    if profile_type != "spark":
        yield None
        return
    helper = _load_helper("spark_session")
    settings = helper.spark_settings(tmp_path_factory.mktemp("spark"), postgres_server)
    helper.prepare_metastore(helper.start_spark(settings))
    try:
        yield settings
    finally:
        # before the metastore's PostgreSQL goes: the session holds connections to it
        helper.stop_spark()


@pytest.fixture(scope="session")
def warehouse_target(
    profile_type: str,
    postgres_server: Any,
    spark_settings: dict[str, str] | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    if profile_type == "spark":
        return {
            "type": "spark",
            "method": "session",
            "host": "NA",
            # one thread: the session is shared, and its current database is per session
            "threads": 1,
            "schema": "segment_tests",
            "server_side_parameters": dict(spark_settings or {}),
        }
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
