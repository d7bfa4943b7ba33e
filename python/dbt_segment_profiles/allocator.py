"""glibc's malloc arenas, capped for the command-line process.

glibc gives each new thread an arena of its own, up to eight per core, and memory freed in one
arena is not reused by another. A sync runs a reading thread, the acknowledger and a sender
thread per connection besides DuckDB's own: on 1,000,000 rows its peak RSS moved between 241
and 256 MB with the default arenas, and stayed at 238-240 MB with two (three alternations, the
same project), at no measurable cost in time. Only the `dbt-segment` process does this; a
process that imports the runner keeps its own allocator settings.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt's parameter number for the arena limit (malloc.h)
M_ARENA_MAX = -8
COMMAND_LINE_ARENAS = 2


def limit_arenas(arenas: int = COMMAND_LINE_ARENAS) -> bool:
    """Cap the arenas threads created from now on may get; False where there is no glibc, or
    the user chose a limit with MALLOC_ARENA_MAX."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # another libc (musl has no mallopt)
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
