"""The connection layer's hooks, over a stand-in adapter: transactions, literals, streaming."""

from __future__ import annotations

import gc
import weakref
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from dbt_segment_profiles.warehouse import Warehouse


class Chunk(list):
    """A fetched chunk that a weak reference can watch (a plain list cannot be)."""


class Cursor:
    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.description: Any = None
        self._rows: list[tuple] = []

    def execute(self, sql: str, params: Any = None) -> None:
        self.handle.log.append((sql, params))
        self._rows = [(i,) for i in range(5)]
        self.description = [("n", None)]

    def fetchall(self) -> list[tuple]:
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, size: int) -> list[tuple]:
        rows, self._rows = self._rows[:size], self._rows[size:]
        return Chunk(rows)

    def close(self) -> None:
        self.handle.log.append(("close", None))


class Handle:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    def cursor(self) -> Cursor:
        return Cursor(self)

    def commit(self) -> None:
        self.log.append(("commit", None))

    def rollback(self) -> None:
        self.log.append(("rollback", None))


class Connections:
    def open(self, connection: Any) -> Any:
        connection.handle = Handle()
        return connection

    def close(self, connection: Any) -> None:
        connection.handle = None


def adapter(database: str | None = None) -> Any:
    credentials = SimpleNamespace(database=database)
    return SimpleNamespace(
        type=lambda: "stand_in",
        config=SimpleNamespace(credentials=credentials),
        connections=Connections(),
    )


class Unbound(Warehouse):
    """A driver without parameter binding (as dbt-spark's session cursor)."""

    binds_parameters = False


def statements(warehouse: Warehouse) -> list[tuple[str, Any]]:
    return warehouse._conn.handle.log


def test_a_driver_without_binding_gets_its_parameters_as_quoted_literals() -> None:
    warehouse = Unbound(adapter(), "s")
    when = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    warehouse.execute("insert into t values (?, ?, ?, ?, ?)", ("it's", None, 3, True, when))
    assert statements(warehouse)[0] == (
        "insert into t values ('it''s', null, 3, true, timestamp '2024-03-01 12:00:00')",
        None,
    )
    with pytest.raises(ValueError, match="2 placeholders for 1 parameters"):
        warehouse.execute("select ?, ?", ("a",))


def test_a_binding_driver_gets_its_parameters_unchanged() -> None:
    warehouse = Warehouse(adapter(), "s")
    warehouse.execute("select ?", ("a",))
    assert statements(warehouse)[0] == ("select ?", ("a",))


def test_a_transaction_inside_another_joins_it() -> None:
    warehouse = Warehouse(adapter(), "s")
    with warehouse.transaction() as cur:
        cur.execute("update a")
        assert warehouse.query("select 1") == [(i,) for i in range(5)]
        cur.execute("update b")
    log = [sql for sql, _ in statements(warehouse)]
    assert log == ["update a", "select 1", "close", "update b", "commit", "close"]


class FailingCommit(Handle):
    """A commit that fails and takes the transaction with it (DuckDB out of memory at a
    checkpoint): there is nothing left to roll back."""

    def commit(self) -> None:
        raise MemoryError("failed to pin block of size 256.0 KiB")

    def rollback(self) -> None:
        raise RuntimeError("cannot rollback - no transaction is active")


def test_a_failed_commit_is_the_error_reported_not_the_rollback_after_it() -> None:
    warehouse = Warehouse(adapter(), "s")
    warehouse.execute("select 1")
    warehouse._conn.handle = FailingCommit()
    with pytest.raises(MemoryError, match="failed to pin block"):
        with warehouse.transaction() as cur:
            cur.execute("insert into t values (1)")
    # and the connection is usable again: the failed block did not leave it inside one
    warehouse._conn.handle = Handle()
    with warehouse.transaction() as cur:
        cur.execute("select 2")
    assert statements(warehouse) == [("select 2", None), ("commit", None), ("close", None)]


def test_tables_carry_the_targets_database_when_it_has_one() -> None:
    assert Warehouse(adapter("side"), "s").table("t") == '"side"."s"."t"'
    assert Warehouse(adapter(), "s").table("t") == '"s"."t"'


def test_streams_read_in_chunks_on_a_connection_of_their_own() -> None:
    warehouse = Warehouse(adapter(), "s")
    stream = warehouse.stream("select n", 2)
    assert stream.columns == ["n"]
    assert list(stream) == [[(0,), (1,)], [(2,), (3,)], [(4,)]]
    assert statements(warehouse) == []
    assert warehouse._reader.handle.log[0] == ("select n", None)
    warehouse.close()
    assert warehouse._opened == []


class ReadingAhead(Warehouse):
    """A driver whose next chunk is fetched on a thread (as Postgres')."""

    read_ahead = True


def test_reading_ahead_gives_the_same_chunks_in_order() -> None:
    warehouse = ReadingAhead(adapter(), "s")
    stream = warehouse.stream("select n", 2)
    assert list(stream) == [[(0,), (1,)], [(2,), (3,)], [(4,)]]
    assert warehouse._reader.handle.log[-1] == ("close", None)
    warehouse.close()


def test_a_stream_closed_early_stops_reading_ahead_and_releases_its_cursor() -> None:
    warehouse = ReadingAhead(adapter(), "s")
    stream = warehouse.stream("select n", 1)
    chunks = iter(stream)
    assert next(chunks) == [(0,)]
    stream.close()
    assert warehouse._reader.handle.log[-1] == ("close", None)
    assert list(chunks) == []
    warehouse.close()


def test_a_stream_holds_no_chunk_its_reader_has_let_go() -> None:
    # pending rows stream in chunks of 10,000: one kept alive for the whole stream is megabytes
    warehouse = Warehouse(adapter(), "s")
    chunks = iter(warehouse.stream("select n", 2))
    first = next(chunks)
    released = weakref.ref(first)
    del first
    assert next(chunks) == [(2,), (3,)]
    gc.collect()
    assert released() is None
    warehouse.close()
