"""Segment's official Python client (segment-analytics-python) sending a mapping's pending rows.

Run as a script by bench_delivery.py, in a process of its own so it is measured like
`dbt-segment sync`. The rows are read from DuckDB, and their messageIds computed, before the
clock starts; the timed part is `analytics.identify(...)` per row, `analytics.flush()`, and
waiting until the receiver has counted every message. Writes a JSON result to --result.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import segment.analytics as analytics
from _receiver import read_stats, wait_for_messages

from dbt_segment_profiles.messages.builder import message_id_for

TRAITS = ("email", "plan", "orders", "lifetime_value", "signed_up_at")


def rss_mb() -> float:
    """This process's resident set size now, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load_rows(db: str, table: str, mapping: str, limit: int) -> list[tuple[Any, ...]]:
    """(user_id, email, plan, orders, lifetime_value, signed_up_at, message_id) per row."""
    conn = duckdb.connect(db, read_only=True)
    try:
        rows = conn.execute(
            f"select __sp_key, __sp_op, __sp_hash, user_id, {', '.join(TRAITS)} "
            f"from {table} order by __sp_seq limit {int(limit)}"
        ).fetchall()
    finally:
        conn.close()
    # userIds as the strings dbt-segment sends (the client refuses a user_id of 0: it tests
    # `user_id or anonymous_id`), and the same deterministic messageIds.
    return [
        (str(row[3]), *row[4:], message_id_for(mapping, row[0], row[2], row[1])) for row in rows
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--table", required=True, help="the mapping's pending table")
    parser.add_argument("--mapping", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--host", required=True, help="the receiver's base URL")
    parser.add_argument("--stats-url", required=True)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)

    rows = load_rows(args.db, args.table, args.mapping, args.rows)
    errors: list[str] = []

    def on_error(error: Exception, batch: list[Any]) -> None:
        errors.append(f"{type(error).__name__}: {error} ({len(batch)} messages)")

    analytics.write_key = "bench-write-key"
    analytics.host = args.host
    analytics.sync_mode = False
    analytics.max_queue_size = len(rows) + 1  # never full, so nothing is dropped
    analytics.on_error = on_error
    integrations = {"All": False}
    identify = analytics.identify

    rss_before = rss_mb()
    baseline = read_stats(args.stats_url)["accepted_messages"]
    started = time.perf_counter()
    not_queued = 0
    for user_id, email, plan, orders, lifetime_value, signed_up_at, message_id in rows:
        queued, _ = identify(
            user_id,
            {
                "email": email,
                "plan": plan,
                "orders": orders,
                "lifetime_value": lifetime_value,
                "signed_up_at": signed_up_at,
            },
            integrations=integrations,
            message_id=message_id,
        )
        if not queued:
            not_queued += 1
    enqueued = time.perf_counter()
    analytics.flush()
    snap = wait_for_messages(args.stats_url, baseline + len(rows))
    seconds = time.perf_counter() - started
    analytics.shutdown()

    result = {
        "rows": len(rows),
        "seconds": seconds,
        "enqueue_seconds": enqueued - started,
        "counted": snap["accepted_messages"] - baseline,
        "not_queued": not_queued,
        "errors": errors[:5],
        "error_count": len(errors),
        "rss_before_send_mb": rss_before,
    }
    args.result.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
