"""Postgres: a server-side cursor streams pending rows, a second connection acknowledges."""

from __future__ import annotations

import io
import itertools
import json
import os
import socket
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import orjson

from ..iso_sql import pg_iso_utc
from ..mappings import Mapping
from .base import Acks, MappingsLocked, Warehouse, quote

_cursor_names = itertools.count()
# type OIDs of date, timestamp and timestamptz
_TEMPORAL = {1082: "date", 1114: "timestamp", 1184: "timestamptz"}
# COPY's text format: these characters of a value are written as escapes
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# the advisory lock space of this package: capture (macros/locks/acquire_mapping_lock.sql) and
# sync take the same (class, hashtext(schema.mapping)) lock
LOCK_CLASS = 24167
# the least work_mem an issue merge's transaction runs with (before_issue_merge)
MERGE_WORK_MEM_MB = 64


class PostgresWarehouse(Warehouse):
    """dbt-postgres' connections (psycopg2): a server-side cursor streams pending rows on a
    second connection while the first commits acknowledgements."""

    param = "%s"
    timestamp_type = "timestamptz"
    # psycopg2 releases the GIL while a FETCH waits for the server
    read_ahead = True
    # the rejections' statements beside the stream's query, each on a core: 1,000,000 rows
    # that SQL rejects again took the query 2.5 s and their recording 4.5 s, one after the other
    records_rejections_beside_stream = True
    message_dialect = "postgres"
    # no sort: it built every pending row's message before the first one was read (and
    # spilled them to disk past work_mem); unsorted, the server builds each fetch while the
    # runner sends the last, as on DuckDB (acknowledgements sort each batch's sequence numbers
    # themselves). `offset 0` keeps the lane a subquery of its own: flattened into the outer
    # select, each message's SQL ran once per reference to it (5x slower on identify)
    stream_order = "offset 0"
    # each call's update joins the mapping's whole issues table (a hash join over a scan): at
    # 10,000 a call, 200,000 rows rejected again spent 20 scans on the join alone
    issue_rows = 50_000
    # each merge is an update that passes over the mapping's issues, dead rows included:
    # 1,000,000 issues recorded again took 12 s in merges of 50,000, 8.1 s of 100,000, 6.5 s of
    # 200,000 (and about as long in fewer). But the last merge waits for the end of the sync:
    # at 200,000 rows, merges of 100,000 overlapped the stream best (phases of 1.55-1.66 s,
    # against 1.61-2.19 s and 1.99-2.07 s). The stage waits in the server's temporary tables
    issue_merge_rows = 100_000
    # past the first merge, each pass over 1,000,000 issues costs about as much for 100,000
    # keys as for 400,000 (a scan and a hash probe of every row, 1.1 of its 1.4 s): merges of
    # 100,000, 200,000, 400,000 and the rest took 3.5-5 s where ten of 100,000 took 10-11 s
    issue_merge_growth = 2

    def __init__(self, adapter: Any, schema: str, wait_seconds: float = 0.0):
        import psycopg2.extras

        # JSON and JSONB arrive as Python objects, like DuckDB's STRUCT and MAP
        psycopg2.extras.register_default_json(globally=True, loads=_json_loads)
        psycopg2.extras.register_default_jsonb(globally=True, loads=_json_loads)
        super().__init__(adapter, schema)
        self._locked: list[str] = []

    def connect(self, name: str) -> Any:
        connection = super().connect(name)
        handle = connection.handle
        # a `role` dbt set on connecting belongs to the session, not to a transaction of ours
        # that may roll back
        handle.commit()
        # the runner commits its own transactions (a profile's `autocommit: true` is for dbt's
        # statements), and a server-side cursor needs one
        if handle.autocommit:
            handle.autocommit = False
        return connection

    def clear_resolved_issues(
        self, mapping: Mapping, recorded_since: datetime | None = None
    ) -> None:
        with self.transaction() as cur:
            # the issues this sync has just recorded: 200,000 failed rows took minutes, not 0.3 s
            _hash_joins_only(cur)
            super().clear_resolved_issues(mapping, recorded_since)

    def before_issue_merge(self, cur: Any) -> None:
        # issues an earlier sync has just inserted, not yet analyzed: the statistics show the
        # mapping as a handful of rows (1,000,000 rejected rows recorded again right after
        # their first sync ran one update for over ten minutes; a hash join takes seconds)
        _hash_joins_only(cur)
        # the merges grow (issue_merge_growth): a hash of 400,000 keys spilled out of the
        # default 4 MB (times hash_mem_multiplier) in batches; never lowered where set higher
        cur.execute(
            f"select set_config('work_mem', '{MERGE_WORK_MEM_MB}MB', true) "
            f"where pg_size_bytes(current_setting('work_mem')) < {MERGE_WORK_MEM_MB} * 1048576"
        )

    def analyze_issues(self, cur: Any) -> None:
        # issues inserted by the sync before this one, before autovacuum analyzed them: the
        # statistics put the mapping at a handful of rows, and the update hashed all of its
        # issues instead of the staged keys. For 100,000 keys among 1,000,000 issues: 1.75-1.85
        # s against 1.26 s in 4 MB (16 batches); in the merges' 64 MB as fast, but a 76 MB hash
        # against 8 MB, and a table ten times larger would spill again. It samples 30,000 rows
        # whatever the table's size: 0.2-0.3 s for 1,200,000 issues
        cur.execute(f"analyze {self.table('segment_record_issues')}")

    def acknowledge(self, mapping: Mapping, acks: Acks) -> None:
        """As Warehouse.acknowledge, through COPY: a tenth of the client's CPU time of the
        array literals an insert binds, and less of the server's."""
        if not acks.keys:
            return
        acked_at = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
        keys, hashes, operations, versions = acks
        # keys are the model's text: escaped one by one only when some need it
        if _needs_escapes("".join(keys)):
            keys = tuple(_copy_text(key) for key in keys)
        hashes = tuple(_copy_text(row_hash) for row_hash in hashes)
        tail = f"\t{acked_at}\n"
        lines = [
            f"{key}\t{row_hash}\t{op}\t{version}{tail}"
            for key, row_hash, op, version in zip(keys, hashes, operations, versions)
        ]
        columns = "record_key, row_hash, operation, change_version, acked_at"
        with self.transaction() as cur:
            cur.copy_expert(
                f"copy {self.mapping_table(mapping, 'acks')} ({columns}) from stdin",
                io.StringIO("".join(lines)),
            )

    def append_columns(
        self, cur: Any, table: str, columns: dict[str, tuple[str, Sequence[Any]]]
    ) -> None:
        """As Warehouse.append_columns, through COPY: 200,000 issue keys staged in 0.1 s, where
        array literals took 0.5 s."""
        texts = []
        for kind, values in columns.values():
            if kind != "text":
                texts.append(map(str, values))
            elif _needs_escapes("".join(values)):
                texts.append(map(_copy_text, values))
            else:
                texts.append(values)
        lines = "\n".join(map("\t".join, zip(*texts)))
        cur.copy_expert(
            f"copy {table} ({', '.join(columns)}) from stdin", io.StringIO(lines + "\n")
        )

    def temporal_kinds(self, table: str) -> dict[str, str]:
        with self.transaction() as cur:
            cur.execute(f"select * from {table} where 1 = 0")
            types = {d[0]: d[1] for d in cur.description}
        return {name: _TEMPORAL[oid] for name, oid in types.items() if oid in _TEMPORAL}

    def column_types(self, table: str) -> dict[str, str]:
        """Each column's type as format_type() names it (`numeric(10,2)`, `text[]`,
        `timestamp with time zone`): the names the SQL lane's Postgres dialect reads."""
        return dict(
            self.query(
                "select attname, format_type(atttypid, atttypmod) from pg_attribute "
                "where attrelid = cast(%s as regclass) and attnum > 0 and not attisdropped "
                "order by attnum",
                (table,),
            )
        )

    def iso_utc_sql(self, expression: str, kind: str) -> str:
        # the SQL lane writes the same text (messages/sql_dialect.py)
        return pg_iso_utc(expression, kind)

    def drop_table(self, cur: Any, name: str) -> None:
        # the package's segment_sync_invalid_keys view selects from every mapping's invalid
        # table: it goes too, and the next `dbt run` builds it over the mappings declared then
        cur.execute(f"drop table if exists {self.table(name)} cascade")

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

    def _stream_cursor(self, handle: Any) -> Any:
        # a cursor is planned for its first tenth by default: with no sort in the way, that
        # plan may probe the acknowledgements row by row (a nested loop); every row is read.
        # A stream of 200,000 rows right after a reset (the acks' statistics stale) once spent
        # over nine minutes in FETCH at full CPU, where the hash anti join takes seconds. JIT
        # compiles the lane's long expressions for longer than it saves: 2.2-2.5 s against
        # 2.8-4.0 s for 200,000 jsonb rows, in psql
        with handle.cursor() as settings:
            settings.execute("set local cursor_tuple_fraction = 1")
            _hash_joins_only(settings)
            if handle.server_version >= 110000:  # jit exists from Postgres 11
                settings.execute("set local jit = off")
        # a named cursor is a server-side one: rows come over as fetchmany asks for them
        return handle.cursor(name=f"segment_pending_{next(_cursor_names)}")

    def _end_stream(self, handle: Any, cur: Any) -> None:
        if not handle.closed:
            cur.close()
            handle.rollback()


def _needs_escapes(text: str) -> bool:
    return "\\" in text or "\t" in text or "\n" in text or "\r" in text


def _copy_text(value: str | None) -> str:
    """A value in COPY's text format: NULL as \\N, the separators escaped."""
    if value is None:
        return "\\N"
    return value.translate(_COPY_ESCAPES) if _needs_escapes(value) else value


def _json_loads(text: str | bytes) -> Any:
    """orjson where it can (several times faster); the standard library for what orjson
    refuses, such as an integer wider than 64 bits."""
    try:
        return orjson.loads(text)
    except ValueError:  # orjson.JSONDecodeError is one
        return json.loads(text)


def _hash_joins_only(cur: Any) -> None:
    """No nested loops for the rest of this transaction. The runner's anti joins read every row
    of tables it has just written, whose statistics lag behind: a plan for the few rows they
    show probes the inner table once per outer row, which takes minutes at 200,000 rows."""
    cur.execute("set local enable_nestloop = off")
