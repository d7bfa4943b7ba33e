"""The benchmark's receiver: the package's Sandbox in counting mode, in a process of its own.

Run as a script; it writes `{"url": ..., "stats_url": ...}` to --info-file once listening and
serves until SIGTERM/SIGINT. `GET <stats_url>` answers the sandbox's stats snapshot as JSON, so
the benchmark and the measured clients (other processes) can read the message count while it
runs. The counting itself is `Sandbox(count_only=True)`: it counts `"messageId"` occurrences in
each accepted `/v1/batch` body without parsing it. With --always-status, every batch is answered
with that status instead (the benchmark's failing path).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from dbt_segment_profiles.sandbox import Sandbox
from dbt_segment_profiles.sandbox.faults import Faults


def read_stats(stats_url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The receiver's stats snapshot (accepted_messages, requests, statuses, ...)."""
    with urllib.request.urlopen(stats_url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for_messages(
    stats_url: str, target: int, stall_seconds: float = 30.0, poll: float = 0.005
) -> dict[str, Any]:
    """Poll until accepted_messages reaches `target`, or stops moving for `stall_seconds`."""
    last = -1
    last_change = time.monotonic()
    while True:
        snap = read_stats(stats_url)
        count = snap["accepted_messages"]
        if count >= target:
            return snap
        now = time.monotonic()
        if count != last:
            last, last_change = count, now
        elif now - last_change > stall_seconds:
            return snap
        time.sleep(poll)


def start_stats_server(sandbox: Sandbox) -> ThreadingHTTPServer:
    class StatsHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(sandbox.stats.snapshot()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), StatsHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--info-file", type=Path, required=True)
    parser.add_argument(
        "--always-status", type=int, default=None, help="answer every batch with this status"
    )
    args = parser.parse_args(argv)

    # The handler only records the signal: Event.set() could block on a lock the interrupted
    # main thread holds.
    signalled: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda num, _: signalled.append(num))

    sandbox = Sandbox(count_only=True, faults=Faults(always_status=args.always_status)).start()
    stats = start_stats_server(sandbox)
    try:
        info = {"url": sandbox.url, "stats_url": f"http://127.0.0.1:{stats.server_port}/stats"}
        tmp = args.info_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, args.info_file)  # a poller never reads a half-written file
        while not signalled:
            time.sleep(0.2)
    finally:
        stats.shutdown()
        sandbox.stop()
    print(json.dumps(sandbox.stats.snapshot()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
