"""The benchmarks' children: run to completion, timed, with their own peak memory."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CHILD_TIMEOUT = 1800.0


@dataclass
class ChildRun:
    returncode: int
    peak_rss_mb: float
    wall_seconds: float
    stdout: str
    stderr: str


def run_measured(
    args: list[str], env: dict[str, str], cwd: Path, log_dir: Path, name: str
) -> ChildRun:
    """Run a child to completion; its wall time and its own peak RSS (ru_maxrss, os.wait4)."""
    out_path, err_path = log_dir / f"{name}.out", log_dir / f"{name}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
        watchdog = threading.Timer(CHILD_TIMEOUT, _kill, (process.pid,))
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return ChildRun(
        process.returncode,
        usage.ru_maxrss / 1024,  # KB on Linux
        wall,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
    )


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_checked(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Run a set-up step; exit with its output if it fails. Its wall time."""
    print(f"$ {shlex.join(args)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, text=True, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started
