"""DuckDB: the embedded default. One database file, a cursor per concurrent reader."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from importlib.util import find_spec
from typing import Any

import orjson

from ..errors import SegmentProfilesError
from ..logs import LOGGER
from .base import PendingStream, T, Warehouse
from .connections import streamed

# the messages a lane wrote go from DuckDB to Segment in Arrow's columns where pyarrow is
# installed (the arrow extra) and this variable does not say no: about 1 s less per 1,000,000
# rows for 30-35 MB more peak RSS (pyarrow's libraries), which the duckdb extra alone keeps
# below 250 MB. Looked up, not imported: a sync with nothing to send never needs it (0.1 s)
ARROW_ENV = "SEGMENT_PROFILES_ARROW"
_ARROW_OFF = frozenset({"0", "false", "no", "off"})
_HAS_ARROW = all(find_spec(name) is not None for name in ("numpy", "pyarrow"))

# Python columns as DuckDB sees them (Warehouse.column_source), and the types held as integers
_COLUMNS_VIEW = "__segment_profiles_columns"
_INTEGERS = {"int", "integer", "bigint"}
# how a commit that ran out of memory fails (a TransactionException, not an out-of-memory one)
_PIN_FAILED = "failed to pin block"
_LOCK_HOLDER = re.compile(r"lock is held in (\S+) \(PID (\d+)\)")
# the runner's DuckDB session: memory flat as tables grow (its joins stream and spill). DuckDB
# keeps its cap full of cached blocks, so the cap is resident: on 1,000,000 subscriptions rows
# the sync peaked at 261 MiB under 32 MB, 246 under 16; 12 MB failed a checkpoint. 20 MB,
# with acknowledgements gathered by 10,000 and chunks of 1,500 rows: 242 MiB (identify 228)
RUNNER_SETTINGS = {
    "memory_limit": "20MB",
    # one thread: two threads' hash tables for the acks join (an interrupted sync's re-run:
    # 1M pending, most acknowledged) ran out of the cap where one spills; the runner's threads
    # keep both cores busy meanwhile
    "threads": "1",
}
# the runner's cap is doubled, up to this, while a stream's first chunk, a merge of issues or
# a commit of acknowledgements runs out of memory: DuckDB works on 2,048 rows at a time, and
# wide messages need more than the cap every other query of the runner fits in (61 text traits
# of about 100 characters needed 128 MB); so do issues of long reasons recorded again (their
# update's join holds them)
MAX_RUNNER_MEMORY_MB = 1024
_TEMPORAL = {
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


class DuckDBWarehouse(Warehouse):
    """dbt-duckdb's connections: each a cursor of the one database instance dbt-duckdb keeps
    in this process, with the profile's settings, extensions, attachments and plugins."""

    param = "?"
    # pending tables keep insertion (= sequence) order, and a sort would hold every pending row
    # in memory; acknowledgements sort each batch's sequence numbers themselves
    stream_order = ""
    # a BLOB reaches Python as the bytes the runner sends: no str made, then encoded again
    sent_text_sql = "encode({})"
    # the SQL dialect the message layer writes messages in, here (messages/sql_dialect.py)
    message_dialect = "duckdb"
    # DuckDB runs the lane's SQL for the next chunk without the GIL while the last is built
    read_ahead = True
    # each merge's update passes over the mapping's issues, whatever the number of its keys:
    # recording 1,000,000 issues again took 2.7 s in merges of 10,000, 1.7 s in merges of
    # 60,000; with the keys scattered over the table, 14.8 s in merges of 10,000 and 4.2 s of
    # 50,000. Merges of a row group (122,880) or more made the next updates slower. An update
    # holds its rows' old values until it commits: 40,000 or more ran out of the runner's 20 MB
    # cap, which then went up to 40 (1,000,000 issues again: 245 MiB peak); 30,000 fit (222)
    issue_merge_rows = 30_000
    # the same holds for the rows SQL rejects: 1,000,000 recorded again in one update took
    # 18.8 s of a sync's phase, in slices of 30,000 6.5 s (Postgres: one update, 19.8 s,
    # against 23.0 s in growing slices of 100,000 and more)
    selected_merge_rows = issue_merge_rows
    # when every issue is new: DuckDB writes the rows of a transaction that fill a row group
    # (122,880) straight to the database file, where smaller inserts go through the WAL and
    # are compressed again at each checkpoint. 1,000,000 failed rows, all new: the sync
    # waited for the recorder 4.4-5.7 s in merges of 30,000, 2.0-2.1 s in merges of a row
    # group, its phase 14.1-17.6 s against 11.1-11.7 s, at the same peak (each alternated
    # with merges of two row groups: 1.8-2.3 s, 10.6-14.0 s)
    issue_insert_rows = 122_880

    @property
    def streams_columns(self) -> bool:  # type: ignore[override]
        return _HAS_ARROW and os.environ.get(ARROW_ENV, "").strip().lower() not in _ARROW_OFF

    def __init__(self, adapter: Any, schema: str, wait_seconds: float = 0.0):
        self._wait_seconds = wait_seconds
        super().__init__(adapter, schema)
        # Set, not configured, and restored on close: the database instance is dbt's, and
        # shared in this process. A setting in the profile is the user's choice, and stays.
        self._previous_settings: dict[str, str] = {}
        settings = adapter.config.credentials.settings or {}
        profile = {str(k).lower(): v for k, v in settings.items()}
        # the cap is the room of one DuckDB thread: the profile's own threads get it each (two
        # under the one-thread cap failed a checkpoint, fatally, at 400,000 acknowledgements)
        per_thread = int(RUNNER_SETTINGS["memory_limit"].removesuffix("MB"))
        self._memory_mb = per_thread * _thread_count(profile.get("threads"))
        runner = {**RUNNER_SETTINGS, "memory_limit": f"{self._memory_mb}MB"}
        with self.transaction() as cur:
            for name, value in runner.items():
                if name in profile:
                    continue
                cur.execute(f"select current_setting('{name}')")
                self._previous_settings[name] = str(cur.fetchall()[0][0])
                cur.execute(f"set {name} = '{value}'")

    def stream(self, sql: str, chunk_rows: int) -> PendingStream:
        """As Warehouse.stream, under a cap raised as far as its first chunk needs."""
        return self.with_memory(partial(super().stream, sql, chunk_rows))

    def stream_columns(self, sql: str, chunk_rows: int) -> PendingStream:
        """Rows of `sql` as Arrow record batches of `chunk_rows`, read ahead on a thread:
        DuckDB writes them without the GIL, and no Python object is made per row."""
        return self.with_memory(partial(self._stream_columns, sql, chunk_rows))

    def _stream_columns(self, sql: str, chunk_rows: int) -> PendingStream:
        if self._reader is None:
            self._reader = self.connect("dbt-segment-reader")
        # a relation's reader streams; a cursor's result would be read whole first
        reader = self._reader.handle.cursor().sql(sql).to_arrow_reader(chunk_rows)
        fetch = partial(_next_batch, reader)
        return streamed(reader.schema.names, fetch(), fetch, reader.close, ahead=True)

    def with_memory(self, work: Callable[[], T]) -> T:
        """As Warehouse.with_memory: `work` runs again under a doubled cap while it runs out
        of memory, until the cap cannot go higher."""
        while True:
            try:
                return work()
            except Exception as exc:
                if not _out_of_memory(exc) or not self._raise_memory_limit():
                    raise

    def _raise_memory_limit(self) -> bool:
        """Double the runner's own cap (never one the profile set), up to
        MAX_RUNNER_MEMORY_MB; False when it cannot go higher."""
        if "memory_limit" not in self._previous_settings:
            return False
        # under the main connection's lock: the stream and the issue recorder may both ask
        with self.transaction() as cur:
            megabytes = self._memory_mb * 2
            if megabytes > MAX_RUNNER_MEMORY_MB:
                return False
            cur.execute(f"set memory_limit = '{megabytes}MB'")
            LOGGER.info(
                "the sync needs more than %s MB of DuckDB memory at a time: raised to %s MB",
                self._memory_mb,
                megabytes,
            )
            self._memory_mb = megabytes
        return True

    def connect(self, name: str) -> Any:
        """DuckDB admits one process per database file: wait for the other one, or say who
        it is."""
        deadline = time.monotonic() + max(0.0, self._wait_seconds)
        while True:
            try:
                return super().connect(name)
            except Exception as exc:
                text = _lock_error(exc)
                if text is None:
                    raise
                if time.monotonic() >= deadline:
                    holder = _LOCK_HOLDER.search(text)
                    who = (
                        f"process {holder.group(1)} (PID {holder.group(2)})"
                        if holder
                        else "another process"
                    )
                    database = self.adapter.config.credentials.path
                    raise SegmentProfilesError(
                        f"the DuckDB file {database} is in use by {who}: a `dbt run` or another "
                        "`dbt-segment sync` holds it, and DuckDB admits one writer at a time",
                        hint="wait for it to end, or pass --wait SECONDS to wait for it",
                    ) from None
                time.sleep(0.5)

    @contextmanager
    def column_source(
        self, cur: Any, columns: dict[str, tuple[str, Sequence[Any]]]
    ) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """As Warehouse.column_source, the columns handed over as NumPy arrays DuckDB scans in
        bulk: list parameters are converted value by value with the GIL held (about a sixth of
        the CPU time, measured on 100,000 acknowledgements). Without NumPy, as the others."""
        try:
            import numpy
        except ImportError:
            with super().column_source(cur, columns) as source:
                yield source
            return
        arrays = {
            name: numpy.array(values, dtype=numpy.int64 if kind in _INTEGERS else object)
            for name, (kind, values) in columns.items()
        }
        cur.register(_COLUMNS_VIEW, arrays)
        try:
            yield _COLUMNS_VIEW, ()
        finally:
            cur.unregister(_COLUMNS_VIEW)

    # the handle's cursor is the connection itself (a cursor of dbt-duckdb's instance): it
    # has its own transactions, and stays open until the connection is closed
    def _begin(self, handle: Any, cur: Any) -> None:
        cur.begin()

    def _commit(self, handle: Any, cur: Any) -> None:
        cur.commit()

    def _rollback(self, handle: Any, cur: Any) -> None:
        cur.rollback()

    def _release(self, cur: Any) -> None:
        pass

    def _end_stream(self, handle: Any, cur: Any) -> None:
        pass

    def _row_converter(self, description: Any) -> Callable[[list[tuple]], list[tuple]] | None:
        # DuckDB hands JSON columns over as text; Postgres' driver parses them, so do it here
        json_columns = [i for i, d in enumerate(description) if str(d[1]) == "JSON"]
        if not json_columns:
            return None
        return lambda rows: _parse_json(rows, json_columns)

    def close(self) -> None:
        if self._opened:
            self._checkpoint()
            try:
                self._restore_settings()
            except Exception:  # the instance may be gone already; closing goes on
                pass
        super().close()

    def _restore_settings(self) -> None:
        """Each setting back as it was: DuckDB's default by `reset` (exact, where setting the
        shown value again rounds 18.8 GiB to 18.7), else the value it showed."""
        with self.transaction() as cur:
            for name, value in self._previous_settings.items():
                cur.execute(f"reset {name}")
                cur.execute(f"select current_setting('{name}')")
                if str(cur.fetchall()[0][0]) != value:
                    cur.execute(f"set {name} = '{value}'")

    def _checkpoint(self) -> None:
        """What the runner wrote goes into the file now, under its own memory cap. Left to the
        instance's close, the checkpoint would run with the cap lifted and hold every block the
        sync wrote at once: 1M issue rows +150 MB, 5M +1 GB. Under a cap it spills (5M rows:
        +8 MB at a cap of 32 MB). A checkpoint that fails (out of memory, say) invalidates the
        instance, but the WAL stays and the next connection replays it: nothing written is
        lost."""
        with self._lock:
            try:
                self._conn.handle.cursor().execute("checkpoint")
            except Exception:  # the instance is gone or busy: its own close checkpoints
                pass

    def column_types(self, table: str) -> dict[str, str]:
        with self.transaction() as cur:
            cur.execute(f"select * from {table} where 1 = 0")
            return {d[0]: str(d[1]) for d in cur.description}

    def temporal_kinds(self, table: str) -> dict[str, str]:
        types = self.column_types(table)
        return {name: _TEMPORAL[kind] for name, kind in types.items() if kind in _TEMPORAL}

    def iso_utc_sql(self, expression: str, kind: str) -> str:
        if kind == "timestamptz":
            expression = f"timezone('UTC', {expression})"
        return f"strftime({expression}, '%Y-%m-%dT%H:%M:%S.%gZ')"


def _next_batch(reader: Any) -> Any:
    """The reader's next record batch with rows in it; None after the last."""
    while True:
        try:
            chunk = reader.read_next_batch()
        except StopIteration:
            return None
        if chunk.num_rows:
            return chunk


def _wrapped(exc: BaseException) -> Iterator[BaseException]:
    """The error and each it was raised from or during: dbt wraps DuckDB's own."""
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _lock_error(exc: BaseException) -> str | None:
    """The text of DuckDB's "could not set lock" error, wherever dbt wrapped it; else None."""
    for seen in _wrapped(exc):
        text = str(seen)
        if "lock" in text.lower() and ("IO Error" in text or "IOException" in type(seen).__name__):
            return text
    return None


def _out_of_memory(exc: BaseException) -> bool:
    """Whether DuckDB ran out of memory, wherever dbt wrapped its error: in a statement, or in
    a commit that could not pin a block to write (the transaction is rolled back whole)."""
    import duckdb

    return any(
        isinstance(seen, duckdb.OutOfMemoryException)
        or (isinstance(seen, duckdb.TransactionException) and _PIN_FAILED in str(seen))
        for seen in _wrapped(exc)
    )


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


def _thread_count(configured: Any) -> int:
    """The DuckDB threads a profile's `settings: threads:` asks for; 1 when it sets none."""
    try:
        return max(1, int(configured))
    except (TypeError, ValueError):
        return 1
