"""Committing acknowledgements on a thread of their own, as Segment gives them."""

from __future__ import annotations

import queue
import threading
import time

from .mappings import Mapping
from .warehouse import Acks, Warehouse
from .writer_thread import WriterThread

_DONE = Acks([], [], [], [])
# acknowledgements gathered into one transaction, up to this many rows or this long after the
# first: a DuckDB insert and commit cost about 5 ms of CPU whatever their size (1,000,000 acks
# took 3.9 s of CPU in transactions of 1,000 rows, 1.9 s of 5,000, 1.3 s of 20,000); each row
# waits in memory until committed, twice (queued, and gathered): 10,000 took 6 MiB less of a
# 1,000,000-row sync's peak than 20,000. What is not committed when a sync is killed stays
# pending, and goes again with the same messageIds.
GATHER_ROWS = 10_000
GATHER_SECONDS = 0.5
# acknowledged rows that may wait for the warehouse: when it is slower than Segment, the sender
# waits instead of holding every acknowledged row in memory. Counted in rows, not batches: a
# batch holds 1 to 2,500 messages, and eight of 770 subscriptions messages (the bound in
# batches this replaces) filled while one gathering committed, holding the sender 1.0-2.6 s of
# a 1,000,000-row sync. Each row is about 250 bytes of the batch's own lists.
MAX_QUEUED_ROWS = GATHER_ROWS


class Acknowledger(WriterThread[Acks]):
    """Records acknowledged changes as soon as their batch is answered 2xx.

    Building messages never waits for the warehouse: acknowledgements queue up here, and are
    committed together, up to GATHER_ROWS of them or GATHER_SECONDS after the first.
    """

    def __init__(self, warehouse: Warehouse, mapping: Mapping) -> None:
        self.warehouse = warehouse
        self.mapping = mapping
        self._queued_rows = 0
        self._room = threading.Condition()
        super().__init__(f"acknowledge-{mapping.name}", 0, _DONE)

    def put(self, acks: Acks) -> None:
        """Hand a batch's acknowledgements over; waits while MAX_QUEUED_ROWS wait already."""
        rows = len(acks.keys)
        if not rows:
            return
        with self._room:
            self._room.wait_for(lambda: self._queued_rows < MAX_QUEUED_ROWS)
            self._queued_rows += rows
        self._queue.put(acks)

    def _take(self, timeout: float | None = None) -> Acks:
        item = self._queue.get(timeout=timeout)
        if item is not _DONE:
            with self._room:
                self._queued_rows -= len(item.keys)
                self._room.notify_all()
        return item

    def _run(self) -> None:
        while True:
            item = self._take()
            done = item is _DONE
            # new lists: the queued ones are the batches' own
            acks = Acks([], [], [], [])
            if not done:
                acks.extend(item)
            deadline = time.monotonic() + GATHER_SECONDS
            while not done and len(acks.keys) < GATHER_ROWS:
                try:
                    more = self._take(max(0.0, deadline - time.monotonic()))
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
