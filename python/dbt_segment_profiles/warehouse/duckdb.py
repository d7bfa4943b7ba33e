"""DuckDB: the embedded default. One database file, a cursor per concurrent reader."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from ..errors import SegmentProfilesError
from ..mappings import Mapping
from .base import PendingStream, SqlMessages, Warehouse
from .duckdb_messages import sql_messages as duckdb_sql_messages

_LOCK_HOLDER = re.compile(r"lock is held in (\S+) \(PID (\d+)\)")
# enough for the runner's joins to stream and spill; keeps sync memory flat as tables grow
MEMORY_LIMIT = "32MB"
_TEMPORAL = {
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


class DuckDBWarehouse(Warehouse):
    param = "?"
    # pending tables keep insertion (= sequence) order, and a sort would hold every pending row
    # in memory; acknowledgements sort each batch's sequence numbers themselves
    stream_order = ""
    byte_length_sql = "strlen"

    def __init__(self, schema: str, path: str, project_dir: Path, wait_seconds: float = 0.0):
        super().__init__(schema)
        import duckdb

        database = Path(path)
        if str(path) != ":memory:" and not database.is_absolute():
            # dbt resolves a relative DuckDB path against the directory dbt runs in
            database = project_dir / database
        self._conn = _connect(duckdb, str(database), wait_seconds)
        # DuckDB's buffer pool would otherwise grow with the tables read; bounded, it spills to
        # disk. Set, not passed to connect, and restored on close: dbt may share the database
        # instance in this process.
        rows = self._conn.execute("select current_setting('memory_limit')").fetchall()
        self._previous_memory_limit = str(rows[0][0])
        self._conn.execute(f"set memory_limit = '{MEMORY_LIMIT}'")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        cur = self._conn.cursor()
        cur.begin()
        try:
            yield cur
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
        finally:
            cur.close()

    def close(self) -> None:
        self._conn.execute(f"set memory_limit = '{self._previous_memory_limit}'")
        self._conn.close()

    def column_types(self, table: str) -> dict[str, str]:
        with self.transaction() as cur:
            cur.execute(f"select * from {table} where 1 = 0")
            return {d[0]: str(d[1]) for d in cur.description}

    def temporal_kinds(self, table: str) -> dict[str, str]:
        types = self.column_types(table)
        return {name: _TEMPORAL[kind] for name, kind in types.items() if kind in _TEMPORAL}

    def sql_messages(self, mapping: Mapping) -> SqlMessages | None:
        return duckdb_sql_messages(
            mapping, self.column_types(self.mapping_table(mapping, "pending"))
        )

    def iso_utc_sql(self, expression: str, kind: str) -> str:
        if kind == "timestamptz":
            expression = f"timezone('UTC', {expression})"
        return f"strftime({expression}, '%Y-%m-%dT%H:%M:%S.%gZ')"

    def stream(self, sql: str, chunk_rows: int) -> PendingStream:
        # its own connection to the database: acknowledgements commit on others while this
        # result is still being read
        reader = self._conn.cursor()
        reader.execute(sql)
        columns = [d[0] for d in reader.description]
        # DuckDB hands JSON columns over as text; Postgres' driver parses them, so do it here
        json_columns = [i for i, d in enumerate(reader.description) if str(d[1]) == "JSON"]

        def chunks() -> Iterator[list[tuple]]:
            try:
                while True:
                    rows = reader.fetchmany(chunk_rows)
                    if not rows:
                        return
                    yield _parse_json(rows, json_columns) if json_columns else rows
            finally:
                reader.close()

        return PendingStream(columns, chunks())


def _connect(duckdb: Any, database: str, wait_seconds: float) -> Any:
    """DuckDB admits one process per database file: wait for the other one, or say who it is."""
    deadline = time.monotonic() + max(0.0, wait_seconds)
    while True:
        try:
            return duckdb.connect(database)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise
            if time.monotonic() >= deadline:
                holder = _LOCK_HOLDER.search(text)
                who = (
                    f"process {holder.group(1)} (PID {holder.group(2)})"
                    if holder
                    else "another process"
                )
                raise SegmentProfilesError(
                    f"the DuckDB file {database} is in use by {who}: a `dbt run` or another "
                    "`dbt-segment sync` holds it, and DuckDB admits one writer at a time",
                    hint="wait for it to end, or pass --wait SECONDS to wait for it",
                ) from None
            time.sleep(0.5)


def _parse_json(rows: list[tuple], indexes: list[int]) -> list[tuple]:
    parsed = []
    for row in rows:
        values = list(row)
        for i in indexes:
            if values[i] is not None:
                try:
                    values[i] = orjson.loads(values[i])
                except orjson.JSONDecodeError:
                    pass  # left as text: the message builder sends it as a string
        parsed.append(tuple(values))
    return parsed
