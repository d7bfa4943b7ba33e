"""Committing acknowledgements on a thread of their own, as Segment gives them."""

from __future__ import annotations

import queue
import time

from .mappings import Mapping
from .warehouse import Acks, Warehouse
from .writer_thread import WriterThread

_DONE = Acks([], [], [], [])
# batches whose acknowledgements may wait for the warehouse: when it is slower than Segment, the
# sender waits instead of holding every acknowledged row in memory
MAX_QUEUED_BATCHES = 8
# acknowledgements gathered into one transaction, up to this many rows or this long after the
# first: a DuckDB insert and commit cost about 5 ms of CPU whatever their size (1,000,000 acks
# took 3.9 s of CPU in transactions of 1,000 rows, 1.9 s of 5,000, 1.3 s of 20,000). What is
# not committed when a sync is killed stays pending, and goes again with the same messageIds.
GATHER_ROWS = 20_000
GATHER_SECONDS = 0.5


class Acknowledger(WriterThread[Acks]):
    """Records acknowledged changes as soon as their batch is answered 2xx.

    Building messages never waits for the warehouse: acknowledgements queue up here, and are
    committed together, up to GATHER_ROWS of them or GATHER_SECONDS after the first.
    """

    def __init__(self, warehouse: Warehouse, mapping: Mapping) -> None:
        self.warehouse = warehouse
        self.mapping = mapping
        super().__init__(f"acknowledge-{mapping.name}", MAX_QUEUED_BATCHES, _DONE)

    def put(self, acks: Acks) -> None:
        if acks.keys:
            self._queue.put(acks)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            done = item is _DONE
            # new lists: the queued ones are the batches' own
            acks = Acks([], [], [], [])
            if not done:
                acks.extend(item)
            deadline = time.monotonic() + GATHER_SECONDS
            while not done and len(acks.keys) < GATHER_ROWS:
                try:
                    more = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if more is _DONE:
                    done = True
                else:
                    acks.extend(more)
            if acks.keys:
                self._write(self.warehouse.acknowledge, self.mapping, acks)
            if done:
                return
