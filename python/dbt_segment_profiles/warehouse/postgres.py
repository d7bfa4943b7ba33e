"""Postgres: a server-side cursor streams pending rows, a second connection acknowledges."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .base import PendingStream, Warehouse

_cursor_names = itertools.count()
# type OIDs of date, timestamp and timestamptz
_TEMPORAL = {1082: "date", 1114: "timestamp", 1184: "timestamptz"}


class PostgresWarehouse(Warehouse):
    param = "%s"
    timestamp_type = "timestamptz"

    def __init__(self, schema: str, target: dict[str, Any]):
        super().__init__(schema)
        import psycopg2
        import psycopg2.extras

        # JSON and JSONB arrive as Python objects, like DuckDB's STRUCT and MAP
        psycopg2.extras.register_default_json(globally=True)
        psycopg2.extras.register_default_jsonb(globally=True)
        self._connect_args = {
            "host": target.get("host"),
            "port": int(target.get("port", 5432)),
            "user": target.get("user"),
            "password": target.get("password") or target.get("pass"),
            "dbname": target.get("dbname") or target.get("database"),
            "sslmode": target.get("sslmode"),
            "connect_timeout": int(target.get("connect_timeout", 10)),
            "application_name": "dbt-segment-profiles",
        }
        self._connect_args = {k: v for k, v in self._connect_args.items() if v is not None}
        self._conn = psycopg2.connect(**self._connect_args)
        # one connection, one transaction at a time: the acknowledger's thread commits while
        # the sync records issues, and neither may commit or roll back the other's statements
        self._lock = threading.RLock()
        self._reader = None

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                yield cur
                self._conn.commit()
            except BaseException:
                self._conn.rollback()
                raise
            finally:
                cur.close()

    def temporal_kinds(self, table: str) -> dict[str, str]:
        with self.transaction() as cur:
            cur.execute(f"select * from {table} where 1 = 0")
            types = {d[0]: d[1] for d in cur.description}
        return {name: _TEMPORAL[oid] for name, oid in types.items() if oid in _TEMPORAL}

    def iso_utc_sql(self, expression: str, kind: str) -> str:
        if kind == "date":
            return f"""to_char({expression}, 'YYYY-MM-DD"T00:00:00.000Z"')"""
        if kind == "timestamptz":
            expression = f"({expression} at time zone 'UTC')"
        return f"""to_char({expression}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""

    def close(self) -> None:
        self._conn.close()
        if self._reader is not None:
            self._reader.close()

    def stream(self, sql: str, chunk_rows: int) -> PendingStream:
        import psycopg2

        if self._reader is None or self._reader.closed:
            self._reader = psycopg2.connect(**self._connect_args)
        cur = self._reader.cursor(name=f"segment_pending_{next(_cursor_names)}")
        cur.itersize = chunk_rows
        cur.execute(sql)
        first = cur.fetchmany(chunk_rows)
        columns = [d[0] for d in cur.description]
        reader = self._reader

        def chunks() -> Iterator[list[tuple]]:
            try:
                rows = first
                while rows:
                    yield rows
                    rows = cur.fetchmany(chunk_rows)
            finally:
                if not reader.closed:
                    cur.close()
                    reader.rollback()

        return PendingStream(columns, chunks())
