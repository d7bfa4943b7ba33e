"""Connections to the target's warehouse, opened by its dbt adapter: transactions, parameters
and streaming, with a hook for each thing a driver does its own way."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import partial
from typing import Any

# chunks fetched ahead of the one being built: with one, the reader stood idle whenever building
# a chunk took longer than reading the next (on 1,000,000 subscriptions rows the sync waited
# 1.9-2.4 s for chunks with one ahead, 0.1-0.2 s with four); each is a few megabytes of rows
READ_AHEAD_CHUNKS = 2


def utc_naive(value: Any) -> Any:
    """Timestamps go into the runs table as UTC wall time: a zoned datetime would be stored
    in the session's time zone."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


class PendingStream:
    """Pending rows of one mapping in chunks, with the names of their columns."""

    def __init__(self, columns: Sequence[str], chunks: Iterator[list[tuple]]):
        self.columns = list(columns)
        self._chunks = chunks

    def __iter__(self) -> Iterator[list[tuple]]:
        return self._chunks

    def close(self) -> None:
        """Stop reading early; the cursor is released now, not when garbage is collected."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class AdapterConnections:
    """What every warehouse does with its connections; subclasses say how their driver
    begins and ends transactions, binds parameters and streams rows."""

    param = "?"
    # False for a driver that cannot bind parameters: each is rendered as a literal instead
    binds_parameters = True
    # True for a driver that waits on a server (GIL released) for each fetch: the next chunk
    # is fetched on a thread while the caller works through the last one
    read_ahead = False

    def __init__(self, adapter: Any, schema: str):
        self.adapter = adapter
        self.schema = schema
        # one connection, one transaction at a time: the acknowledger's thread commits while
        # the sync records issues, and neither may commit or roll back the other's statements
        self._lock = threading.RLock()
        self._depth = 0  # transaction blocks open on the main connection (by the lock's owner)
        self._opened: list[Any] = []
        self._conn = self.connect("dbt-segment")
        self._reader: Any = None
        # a writer thread's own connection (side_transaction), opened when first needed
        self._side: Any = None
        self._side_lock = threading.Lock()

    # connections -----------------------------------------------------------------------
    def connect(self, name: str) -> Any:
        """A new dbt `Connection`, opened by the adapter's own ConnectionManager with the
        profile's credentials (every option of the target applies); `.handle` is the driver's
        DB-API connection."""
        from dbt.adapters.contracts.connection import Connection

        connection = Connection(
            type=self.adapter.type(), name=name, credentials=self.adapter.config.credentials
        )
        connection = self.adapter.connections.open(connection)
        self._opened.append(connection)
        return connection

    def close(self) -> None:
        for connection in reversed(self._opened):
            try:
                self.adapter.connections.close(connection)
            except Exception:  # closing is best effort: the work is committed or rolled back
                pass
        self._opened = []
        self._reader = None
        self._side = None

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor whose statements commit together when the block ends without error; a
        block inside another (on the same thread) joins the transaction around it."""
        with self._lock:
            self._depth += 1
            try:
                with self._transaction_on(self._conn.handle, self._depth == 1) as cur:
                    yield cur
            finally:
                self._depth -= 1

    @contextmanager
    def side_transaction(self) -> Iterator[Any]:
        """A transaction on a connection of its own, for one writer thread: it does not wait
        for the main connection's transactions, and what it stages in temporary tables
        outlives each transaction (the issue recorder merges its stage every so many rows)."""
        with self._side_lock:
            if self._side is None:
                self._side = self.connect("dbt-segment-writer")
            with self._transaction_on(self._side.handle, True) as cur:
                yield cur

    @contextmanager
    def _transaction_on(self, handle: Any, outermost: bool) -> Iterator[Any]:
        cur = handle.cursor()
        if outermost:
            self._begin(handle, cur)
        try:
            yield cur if self.binds_parameters else InliningCursor(cur, self)
            if outermost:
                self._commit(handle, cur)
        except BaseException:
            if outermost:
                try:
                    self._rollback(handle, cur)
                except Exception:
                    # the error that ended the block is the one to report: a commit that
                    # failed (DuckDB out of memory at a checkpoint) leaves no transaction,
                    # and "cannot rollback" would hide why
                    pass
            raise
        finally:
            self._release(cur)

    # a DB-API driver opens a transaction with the first statement; others override these
    def _begin(self, handle: Any, cur: Any) -> None:
        pass

    def _commit(self, handle: Any, cur: Any) -> None:
        handle.commit()

    def _rollback(self, handle: Any, cur: Any) -> None:
        handle.rollback()

    def _release(self, cur: Any) -> None:
        cur.close()

    def literal(self, value: Any) -> str:
        """A value as a SQL literal, for drivers that cannot bind parameters."""
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float, Decimal)):
            return repr(value) if isinstance(value, float) else str(value)
        if isinstance(value, datetime):
            return f"timestamp '{utc_naive(value).isoformat(sep=' ')}'"
        if isinstance(value, date):
            return f"date '{value.isoformat()}'"
        if isinstance(value, (list, tuple)):
            return f"array({', '.join(self.literal(v) for v in value)})"
        return self.string_literal(str(value))

    def string_literal(self, text: str) -> str:
        """A quoted string in standard SQL; a warehouse with other escapes overrides this."""
        return "'" + text.replace("'", "''") + "'"

    def inline(self, sql: str, params: Sequence[Any]) -> str:
        """`sql` with each placeholder replaced by its parameter as a literal."""
        parts = sql.split(self.param)
        if len(parts) != len(params) + 1:
            raise ValueError(f"{len(parts) - 1} placeholders for {len(params)} parameters")
        out = [parts[0]]
        for value, part in zip(params, parts[1:]):
            out += [self.literal(value), part]
        return "".join(out)

    def stream(self, sql: str, chunk_rows: int) -> PendingStream:
        """Rows of `sql` in chunks of `chunk_rows`, read with the driver's `fetchmany` on a
        connection of their own: acknowledgements commit on the main one meanwhile."""
        if self._reader is None:
            self._reader = self.connect("dbt-segment-reader")
        reader = self._reader
        cur = self._stream_cursor(reader.handle)
        if self.binds_parameters:
            cur.execute(sql)
        else:
            InliningCursor(cur, self).execute(sql)
        # a server-side cursor describes its columns once the first rows are fetched
        first = self._fetch(cur, chunk_rows)
        return streamed(
            [d[0] for d in cur.description],
            first,
            partial(self._fetch, cur, chunk_rows),
            partial(self._end_stream, reader.handle, cur),
            self.read_ahead,
            self._row_converter(cur.description),
        )

    # how a warehouse streams: its cursor, its fetch, what it converts, how it ends
    def _stream_cursor(self, handle: Any) -> Any:
        return handle.cursor()

    def _fetch(self, cur: Any, chunk_rows: int) -> list[tuple]:
        return cur.fetchmany(chunk_rows)

    def _row_converter(self, description: Any) -> Callable[[list[tuple]], list[tuple]] | None:
        return None

    def _end_stream(self, handle: Any, cur: Any) -> None:
        cur.close()


def streamed(
    columns: Sequence[str],
    first: Any,
    fetch: Callable[[], Any],
    end: Callable[[], None],
    ahead: bool,
    convert: Callable[[Any], Any] | None = None,
) -> PendingStream:
    """A stream of `first`, then of each `fetch()` until one is empty, each converted, read
    ahead on a thread where `ahead`; `end()` runs once it is read or closed."""
    held = [first]

    def fetched() -> Iterator[Any]:
        # taken out of `held`: a name the closure kept would pin the first chunk (5,000 rows,
        # megabytes) in memory until the whole stream is read
        chunk = held.pop()
        while chunk:
            yield chunk
            chunk = fetch()

    def chunks() -> Iterator[Any]:
        try:
            for chunk in read_ahead(fetched()) if ahead else fetched():
                yield convert(chunk) if convert else chunk
        finally:
            end()

    return PendingStream(columns, chunks())


def read_ahead(
    chunks: Iterator[list[tuple]], depth: int = READ_AHEAD_CHUNKS
) -> Iterator[list[tuple]]:
    """The same chunks, up to `depth` next ones already fetched on a thread while the caller
    holds the last: the server's work and the caller's overlap. A few chunks ahead, so memory
    stays flat; the thread is done when this generator ends or is closed."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segment-read-ahead")
    try:
        # one worker runs the fetches in the order they were asked for
        ahead = deque(pool.submit(next, chunks, None) for _ in range(depth))
        while True:
            rows = ahead.popleft().result()
            if rows is None:
                return
            ahead.append(pool.submit(next, chunks, None))
            yield rows
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class InliningCursor:
    """A cursor for a driver without parameter binding: parameters become literals."""

    def __init__(self, cursor: Any, warehouse: AdapterConnections):
        self._cursor = cursor
        self._warehouse = warehouse

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if params:
            sql = self._warehouse.inline(sql, params)
        return self._cursor.execute(sql)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)
