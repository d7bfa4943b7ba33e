"""Python's cyclic garbage collector, tuned while rows stream.

A sync allocates tens of millions of short-lived tuples, strings and lists (a few dozen per
row), and each 700 allocations start a collection that walks the young objects; every tenth of
those walks the older ones, which after start-up include all of dbt's modules and config. None of
what streams forms cycles (reference counting frees it as it goes), so the walks find nothing:
they were 10-20% of a 1,000,000-row sync's time. While rows stream, what start-up left is frozen
(never walked again) and a collection starts after 100,000 allocations, not 700.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# allocations before a young collection; the older generations keep their ratios
STREAMING_THRESHOLD = 100_000


@contextmanager
def streaming_collector() -> Iterator[None]:
    """Fewer, cheaper collections for the duration; the previous settings come back after."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(STREAMING_THRESHOLD, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
