"""The bare sender: the yardstick every path of bench_delivery.py is a share of.

Run as a script, in a process of its own so its wall time (start-up included) compares with a
`dbt-segment sync`'s. It reads the identify path's pending rows straight from the warehouse
(DuckDB: a cursor's fetchmany; Postgres: a psycopg2 server-side cursor), serialises each into an
identify message with orjson, batches them within Segment's limits (2,500 messages, 500 KB) and
posts them over 4 keep-alive connections (a thread each, http.client). Nothing else: no state,
no validation, no acknowledgement writes. Writes a JSON result to --result.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import queue
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

COLUMNS = ("__sp_key", "__sp_hash", "user_id", "email", "plan", "orders", "lifetime_value")
TIMESTAMP = "signed_up_at"
MAX_MESSAGES = 2_500
MAX_BYTES = 500_000 - 1_000  # room for the envelope
CONNECTIONS = 4
CHUNK_ROWS = 10_000
OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


def duckdb_rows(database: str, table: str) -> Iterator[list[tuple]]:
    import duckdb

    connection = duckdb.connect(database, read_only=True)
    try:
        cursor = connection.execute(f"select {', '.join(COLUMNS)}, {TIMESTAMP} from {table}")
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield rows
    finally:
        connection.close()


def postgres_rows(dsn: str, table: str) -> Iterator[list[tuple]]:
    import psycopg2

    connection = psycopg2.connect(dsn)
    try:
        # a named cursor is a server-side one: rows come over as fetchmany asks for them
        cursor = connection.cursor(name="bare_sender")
        cursor.execute(f"select {', '.join(COLUMNS)}, {TIMESTAMP} from {table}")
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield rows
    finally:
        connection.close()


def bodies(chunks: Iterator[list[tuple]]) -> Iterator[tuple[bytes, int]]:
    """Batch request bodies and their message counts."""
    integrations = {"All": False}
    batch: list[bytes] = []
    size = 0
    for rows in chunks:
        for key, row_hash, user_id, email, plan, orders, value, signed_up_at in rows:
            message = orjson.dumps(
                {
                    "type": "identify",
                    "userId": str(user_id),
                    "traits": {
                        "email": email,
                        "plan": plan,
                        "orders": orders,
                        "lifetime_value": value,
                        "signed_up_at": signed_up_at,
                    },
                    "messageId": f"{key}-{row_hash}",
                    "integrations": integrations,
                },
                option=OPTIONS,
            )
            if batch and (len(batch) == MAX_MESSAGES or size + len(message) + 1 > MAX_BYTES):
                yield envelope(batch), len(batch)
                batch, size = [], 0
            batch.append(message)
            size += len(message) + 1
    if batch:
        yield envelope(batch), len(batch)


def envelope(messages: list[bytes]) -> bytes:
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return b'{"batch":[' + b",".join(messages) + b'],"sentAt":"' + sent_at.encode() + b'"}'


def post_all(url: str, write_key: str, requests: Iterator[tuple[bytes, int]]) -> dict[str, Any]:
    parts = urlsplit(url)
    path = (parts.path.rstrip("/") or "") + "/v1/batch"
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    work: queue.Queue[bytes | None] = queue.Queue(maxsize=2 * CONNECTIONS)
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        while (body := work.get()) is not None:
            try:
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                # no retries: the count check of the benchmark reports the messages missing
                status = 0
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    messages = requests_made = 0
    for body, count in requests:
        work.put(body)
        messages += count
        requests_made += 1
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join()
    return {"messages": messages, "requests": requests_made, "statuses": statuses}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--duckdb", help="the DuckDB file")
    source.add_argument("--postgres-dsn", help="a libpq connection string")
    parser.add_argument("--table", required=True, help="the identify path's pending table")
    parser.add_argument("--url", required=True, help="the receiver's base URL")
    parser.add_argument("--write-key", default="bench-write-key")
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    chunks = (
        duckdb_rows(args.duckdb, args.table)
        if args.duckdb
        else postgres_rows(args.postgres_dsn, args.table)
    )
    result = post_all(args.url, args.write_key, bodies(chunks))
    result["seconds"] = time.perf_counter() - started
    args.result.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
