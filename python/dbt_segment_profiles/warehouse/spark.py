"""Spark (dbt-spark): the session's SQL through the adapter's connections, parameters as
literals, pending rows streamed a partition at a time, and every write an append or a rewrite.

Parquet tables (the package's default on Spark) take no UPDATE, DELETE or MERGE: the runner's
acknowledgements are appends, and its other writes (segment_captures' flags, fingerprints,
record issues, rename and prune) rewrite the small shared table whole, as the capture macros do
(macros/utils/rewrite_table.sql): the new rows go to a staging table `<table>__sp_rewrite`, which
is then copied over the table and dropped. A kill during the copy leaves the staging table,
complete, and whoever touches the table next (the runner or `dbt run`) finishes the copy.
Delta, Iceberg and Hudi tables take row-level writes: there the shared SQL's UPDATE and DELETE,
and a MERGE for record issues, are used instead.

Spark has no locks and no transactions: `lock_mappings` takes nothing, so `dbt run` and
`dbt-segment sync` must run one after the other (as `dbt-segment run` does), never at once
(macros/locks/acquire_mapping_lock.sql says the same for capture).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from itertools import islice
from typing import Any

from ..mappings import Mapping
from .base import Acks, IssueRow, Warehouse
from .connections import PendingStream
from .spark_writes import SparkWrites

_TEMPORAL = {"date": "date", "timestamp": "timestamp", "timestamp_ntz": "timestamp_ntz"}
_COMPLEX = ("struct", "array", "map")


class SparkWarehouse(SparkWrites, Warehouse):
    """dbt-spark's connections (`method: session` runs the SQL in this process's SparkSession;
    `thrift` and `http` reach a server). Each dbt connection is a cursor wrapper holding one
    result at a time, so pending rows are streamed on a connection of their own."""

    param = "?"
    # dbt-spark's cursors format parameters with `%` and quote nothing: literals are rendered here
    binds_parameters = False
    # a Spark schema is a database of the session catalog: names are schema.table
    qualify_database = False
    stream_order = "order by p.__sp_seq"
    key_text_type = "string"
    # a recording rewrites the issues table in several statements: on the sync's own thread
    records_issues_aside = False

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    # no transactions: each statement commits by itself
    def _begin(self, handle: Any, cur: Any) -> None:
        pass

    def _commit(self, handle: Any, cur: Any) -> None:
        pass

    def _rollback(self, handle: Any, cur: Any) -> None:
        pass

    def string_literal(self, text: str) -> str:
        """Spark reads `\\` escapes and joins adjacent literals, so `''` is not a quote there."""
        return string_literal(text)

    # reading ---------------------------------------------------------------------------
    def table_exists(self, name: str) -> bool:
        return name in self._tables(name)

    def bookkeeping_tables(self) -> list[str]:
        return sorted(t for t in self._tables() if not t.endswith("__sp_rewrite"))

    def _tables(self, like: str | None = None) -> set[str]:
        """Tables of the bookkeeping schema (none when it does not exist yet)."""
        pattern = f" like {string_literal(like)}" if like else ""
        try:
            rows = self.query(f"show tables in {self.quote(self.schema)}{pattern}")
        except Exception:  # no such schema: no dbt run has captured yet
            return set()
        # rows: (namespace, tableName, isTemporary); temporary views are no tables of ours
        return {str(r[1]) for r in rows if not r[2]}

    def temporal_kinds(self, table: str) -> dict[str, str]:
        return {
            name: _TEMPORAL[kind]
            for name, kind in self.column_types(table).items()
            if kind in _TEMPORAL
        }

    def column_types(self, table: str) -> dict[str, str]:
        with self.transaction() as cur:
            cur.execute(f"select * from {table} where 1 = 0")
            return {d[0]: str(d[1]).lower() for d in cur.description}

    def iso_utc_sql(self, expression: str, kind: str) -> str:
        """As the message builder formats them: `2024-01-02T03:04:05.678Z` in UTC. A TIMESTAMP is
        an instant shown in the session's zone: shifted to show its UTC wall time (as
        spark__hashable_text hashes it); TIMESTAMP_NTZ and DATE have no zone."""
        if kind == "date":
            return f"concat(date_format({expression}, 'yyyy-MM-dd'), 'T00:00:00.000Z')"
        if kind == "timestamp":
            expression = f"to_utc_timestamp({expression}, current_timezone())"
        return (
            f"concat(date_format({expression}, 'yyyy-MM-dd'), 'T', "
            f"date_format({expression}, 'HH:mm:ss.SSS'), 'Z')"
        )

    def stream(self, sql: str, chunk_rows: int) -> PendingStream:
        """Rows of `sql` in chunks of `chunk_rows`, a Spark partition at a time: dbt-spark's
        session cursor has no fetchmany, but keeps the query's DataFrame, which
        `toLocalIterator` brings over partition by partition. Struct, array and map values
        arrive as plain dicts and lists, as the other warehouses' drivers give JSON."""
        if self._reader is None:
            self._reader = self.connect("dbt-segment-reader")
        handle = self._reader.handle
        handle.cursor()
        handle.execute(sql)
        frame = _frame_of(handle)
        if frame is None:
            # not a session connection (thrift, http): its cursor fetches everything at once
            rows = handle.fetchall() or []
            columns = [d[0] for d in handle.description]
            chunks = (rows[i : i + chunk_rows] for i in range(0, len(rows), chunk_rows))
            return PendingStream(columns, (_plain(c) for c in chunks))
        columns = list(frame.columns)
        complex_types = any(field.dataType.typeName() in _COMPLEX for field in frame.schema.fields)

        def chunks() -> Iterator[list[tuple]]:
            rows = frame.toLocalIterator(prefetchPartitions=True)
            try:
                while chunk := list(islice(rows, chunk_rows)):
                    yield _plain(chunk) if complex_types else [tuple(r) for r in chunk]
            finally:
                # an abandoned iterator keeps a JVM thread serving the rest of the result
                close = getattr(rows, "close", None)
                if close is not None:
                    close()
                handle.close()

        return PendingStream(columns, chunks())

    # writing: appends where the table only grows, rewrites or row-level writes elsewhere --
    def acknowledge(self, mapping: Mapping, acks: Acks) -> None:
        """One append per call: a VALUES list of what the batches carried."""
        if not acks.keys:
            return
        acked_at = self.literal(datetime.now(timezone.utc).replace(tzinfo=None))
        lit = self.literal
        values = ", ".join(
            f"({lit(key)}, {lit(row_hash)}, {lit(operation)}, {int(version)})"
            for key, row_hash, operation, version in zip(*acks)
        )
        self.execute(
            f"insert into {self.mapping_table(mapping, 'acks')} "
            "(record_key, row_hash, operation, change_version, acked_at) "
            "select cast(record_key as string), cast(row_hash as string), "
            f"cast(operation as string), cast(change_version as bigint), {acked_at} "
            f"from values {values} as v(record_key, row_hash, operation, change_version)"
        )

    def record_issues(
        self, mapping: Mapping, issues: Sequence[IssueRow], all_new: bool = False
    ) -> None:
        # one rewrite either way: knowing the issues are new saves no pass over the table
        self.record_issues_by_rewrite(mapping.name, issues)


def string_literal(text: str) -> str:
    """A Spark SQL string literal: backslash and quote escaped, nothing else read."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _frame_of(handle: Any) -> Any:
    """The DataFrame of a dbt-spark session cursor's last statement (None on other methods)."""
    cursor = getattr(handle, "_cursor", None)
    return getattr(cursor, "_df", None)


def _plain(rows: list[Any]) -> list[tuple]:
    return [tuple(_python(v) for v in row) for row in rows]


def _python(value: Any) -> Any:
    """Spark's Row (a struct) as a dict, recursively, through arrays and maps."""
    from pyspark.sql import Row

    if isinstance(value, Row):
        return {k: _python(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, list):
        return [_python(v) for v in value]
    if isinstance(value, dict):
        return {k: _python(v) for k, v in value.items()}
    return value
