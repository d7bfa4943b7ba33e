"""DuckDB: the embedded default. One database file, a cursor per concurrent reader."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .base import PendingStream, Warehouse


class DuckDBWarehouse(Warehouse):
    param = "?"

    def __init__(self, schema: str, path: str, project_dir: Path):
        super().__init__(schema)
        import duckdb

        database = Path(path)
        if str(path) != ":memory:" and not database.is_absolute():
            # dbt resolves a relative DuckDB path against the directory dbt runs in
            database = project_dir / database
        self._conn = duckdb.connect(str(database))

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
        self._conn.close()

    def stream(self, sql: str, chunk_rows: int) -> PendingStream:
        # its own connection to the database: acknowledgements commit on others while this
        # result is still being read
        reader = self._conn.cursor()
        reader.execute(sql)
        columns = [d[0] for d in reader.description]

        def chunks() -> Iterator[list[tuple]]:
            try:
                while True:
                    rows = reader.fetchmany(chunk_rows)
                    if not rows:
                        return
                    yield rows
            finally:
                reader.close()

        return PendingStream(columns, chunks())
