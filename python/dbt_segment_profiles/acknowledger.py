"""Committing acknowledgements on a thread of their own, as Segment gives them."""

from __future__ import annotations

import queue

from .mappings import Mapping
from .warehouse import Acks, Warehouse
from .writer_thread import WriterThread

_DONE = Acks([], [], [], [])
# batches whose acknowledgements may wait for the warehouse: when it is slower than Segment, the
# sender waits instead of holding every acknowledged row in memory
MAX_QUEUED_BATCHES = 8


class Acknowledger(WriterThread[Acks]):
    """Records acknowledged changes as soon as their batch is answered 2xx.

    Building messages never waits for the warehouse: acknowledgements queue up here, and
    whatever has queued while the last transaction ran is committed together in the next one.
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
            while not done:
                try:
                    more = self._queue.get_nowait()
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
