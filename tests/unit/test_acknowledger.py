"""The acknowledger's queue: bounded, so a slow warehouse slows the sender instead of memory
growing with every acknowledged row."""

from __future__ import annotations

import threading
from typing import Any

from dbt_segment_profiles.acknowledger import MAX_QUEUED_BATCHES, Acknowledger
from dbt_segment_profiles.warehouse import Acks


class SlowWarehouse:
    """Commits only once let go: what a warehouse slower than Segment looks like to the queue."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.committed: list[str] = []

    def acknowledge(self, mapping: Any, acks: Acks) -> None:
        self.go.wait(30)
        self.committed += acks.keys


def test_a_slow_warehouse_holds_the_sender_not_the_acknowledged_rows() -> None:
    warehouse = SlowWarehouse()
    acknowledger = Acknowledger(warehouse, type("M", (), {"name": "m"})())  # type: ignore[arg-type]
    batches = [Acks([f"k{i}"], ["h"], ["added"], [0]) for i in range(3 * MAX_QUEUED_BATCHES)]
    put_all = threading.Thread(target=lambda: [acknowledger.put(b) for b in batches])
    put_all.start()
    put_all.join(2)
    # one commit holds what had queued (at most MAX_QUEUED_BATCHES + 1), as many more queue: the
    # rest must wait
    assert put_all.is_alive()
    warehouse.go.set()
    put_all.join(30)
    assert not put_all.is_alive()
    acknowledger.close()
    assert sorted(warehouse.committed) == sorted(b.keys[0] for b in batches)
    # the batches' own lists are left as they were
    assert all(len(b.keys) == 1 for b in batches)
