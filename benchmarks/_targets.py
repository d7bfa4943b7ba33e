"""Where the delivery benchmark's models live: a DuckDB file, or a throwaway Postgres server.

Each target gives the dbt profile output, a way to query the warehouse from the benchmark's own
process (count checks), and the bare sender's arguments for reading the same rows.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Protocol

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent


class Target(Protocol):
    kind: str

    def profile_output(self) -> dict[str, Any]: ...

    def query(self, sql: str) -> list[tuple]: ...

    def bare_source(self) -> list[str]: ...

    def close(self) -> None: ...


class DuckDBTarget:
    kind = "duckdb"

    def __init__(self, workdir: Path):
        self.database = workdir / "bench.duckdb"

    def profile_output(self) -> dict[str, Any]:
        return {"type": "duckdb", "path": str(self.database), "threads": 1}

    def query(self, sql: str) -> list[tuple]:
        import duckdb

        connection = duckdb.connect(str(self.database), read_only=True)
        try:
            return connection.execute(sql).fetchall()
        finally:
            connection.close()

    def bare_source(self) -> list[str]:
        return ["--duckdb", str(self.database)]

    def close(self) -> None:
        pass


class PostgresTarget:
    """A private cluster started as the test suite starts it (tests/pg_server.py): initdb in a
    temporary directory, as the `postgres` system user under root, on a free loopback port."""

    kind = "postgres"

    def __init__(self) -> None:
        helper = REPO_ROOT / "tests" / "pg_server.py"
        spec = importlib.util.spec_from_file_location("pg_server", helper)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["pg_server"] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        self.server = module.start_postgres()

    def profile_output(self) -> dict[str, Any]:
        s = self.server
        return {
            "type": "postgres",
            "host": s.host,
            "port": s.port,
            "user": s.user,
            "password": s.password,
            "dbname": s.dbname,
            "schema": "public",
            "threads": 1,
        }

    def query(self, sql: str) -> list[tuple]:
        import psycopg2

        connection = psycopg2.connect(self.server.dsn())
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            connection.close()

    def bare_source(self) -> list[str]:
        return ["--postgres-dsn", self.server.dsn()]

    def close(self) -> None:
        self.server.stop()


def open_target(kind: str, workdir: Path) -> Target:
    return PostgresTarget() if kind == "postgres" else DuckDBTarget(workdir)
