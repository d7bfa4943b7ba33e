"""Postgres: a server-side cursor streams pending rows, a second connection acknowledges."""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from ..mappings import Mapping
from .base import MappingsLocked, PendingStream, Warehouse, quote

_cursor_names = itertools.count()
# type OIDs of date, timestamp and timestamptz
_TEMPORAL = {1082: "date", 1114: "timestamp", 1184: "timestamptz"}
# the advisory lock space of this package: capture (macros/locks/acquire_mapping_lock.sql) and
# sync take the same (class, hashtext(schema.mapping)) lock
LOCK_CLASS = 24167


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
        self._locked: list[str] = []

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

    def rename_table(self, cur: Any, old: str, new: str) -> None:
        super().rename_table(cur, old, new)
        # the key index capture creates is named after its table: follow the new name
        cur.execute(
            f"alter index if exists {self.table(old + '_key')} rename to {quote(new + '_key')}"
        )

    def lock_mappings(self, mappings: Sequence[Mapping], wait_seconds: float) -> None:
        deadline = time.monotonic() + max(0.0, wait_seconds)
        since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        # who holds the lock is what a second sync or a waiting capture reports
        self.execute(
            "select set_config('application_name', %s, false)",
            (f"dbt-segment sync (pid {os.getpid()} on {socket.gethostname()}, since {since})",),
        )
        waiting = [m.name for m in mappings]
        while True:
            for name in list(waiting):
                rows = self.query(
                    f"select pg_try_advisory_lock({LOCK_CLASS}, hashtext(%s) & 2147483647)",
                    (self._lock_key(name),),
                )
                if rows[0][0]:
                    self._locked.append(name)
                    waiting.remove(name)
            if not waiting:
                return
            if time.monotonic() >= deadline:
                holders = [(name, self._lock_holder(name)) for name in waiting]
                self.unlock_mappings()
                raise MappingsLocked(holders)
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))

    def unlock_mappings(self) -> None:
        for name in self._locked:
            self.query(
                f"select pg_advisory_unlock({LOCK_CLASS}, hashtext(%s) & 2147483647)",
                (self._lock_key(name),),
            )
        self._locked = []

    def _lock_key(self, mapping_name: str) -> str:
        return f"{self.schema}.{mapping_name}"

    def _lock_holder(self, mapping_name: str) -> str:
        rows = self.query(
            "select coalesce(nullif(a.application_name, ''), 'a session'), a.pid, "
            "to_char(coalesce(a.xact_start, a.backend_start) at time zone 'UTC', "
            "'YYYY-MM-DD HH24:MI:SS') from pg_locks as l join pg_stat_activity as a "
            "on a.pid = l.pid where l.locktype = 'advisory' and l.granted "
            f"and l.classid = {LOCK_CLASS} and l.objid = (hashtext(%s) & 2147483647)::oid",
            (self._lock_key(mapping_name),),
        )
        if not rows:
            return "another session (it has just ended)"
        name, pid, since = rows[0]
        if name.startswith("dbt-segment sync"):
            return name
        return f"{name} (pid {pid}, since {since} UTC)"

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
