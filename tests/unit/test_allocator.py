"""The command line's malloc arenas: capped at two, whatever the threads."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

# starts threads that each allocate (glibc gives a new thread a new arena until the limit), then
# has glibc print its arenas
CHILD = """
import ctypes, sys, threading
from dbt_segment_profiles.allocator import limit_arenas
limited = limit_arenas() if sys.argv[1] == "limit" else False
hold, ready, release = [], threading.Barrier(7), threading.Event()
def work():
    hold.append([bytearray(64) for _ in range(2000)])
    ready.wait()
    release.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
ready.wait()
ctypes.CDLL(None).malloc_stats()
release.set()
print(limited)
"""


def arenas(mode: str, arena_max: str | None = None) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    if arena_max is not None:
        env["MALLOC_ARENA_MAX"] = arena_max
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, env=env, check=True
    )
    return len(re.findall(r"^Arena \d+:", done.stderr, flags=re.M)), done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas: Linux only")
def test_the_command_line_caps_arenas_at_two_and_keeps_a_users_choice() -> None:
    default, _ = arenas("default")
    limited, said = arenas("limit")
    assert default > 2  # without the cap, six threads get arenas of their own
    assert (limited, said) == (2, "True")
    # MALLOC_ARENA_MAX set by the user wins: the runner leaves the allocator alone
    chosen, said = arenas("limit", arena_max="4")
    assert (chosen, said) == (4, "False")
