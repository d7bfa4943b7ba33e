"""Batches kept in Arrow columns: the same cuts, bodies and outcomes as Batcher's batches."""

from __future__ import annotations

import random

import orjson
import pyarrow
import pytest

from dbt_segment_profiles.delivery.batching import MAX_BATCH_BYTES, Batcher
from dbt_segment_profiles.delivery.column_batches import (
    ColumnBatch,
    ColumnBatcher,
    written_rows,
)
from dbt_segment_profiles.delivery.ratelimit import RateLimiter
from dbt_segment_profiles.delivery.retry import RetryPolicy
from dbt_segment_profiles.delivery.sender import Sender
from dbt_segment_profiles.messages import MAX_MESSAGE_BYTES
from dbt_segment_profiles.sandbox import Sandbox
from dbt_segment_profiles.warehouse import Acks


def message(i: int, size: int = 0, **extra: object) -> bytes:
    body = {"type": "identify", "userId": str(i), "messageId": f"m-{i}", "traits": {}}
    if size:
        body["traits"] = {"pad": "x" * size}
    body.update(extra)
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


def chunk_of(
    messages: list[bytes | None], first_seq: int = 0, ops: list[str] | None = None
) -> pyarrow.RecordBatch:
    """Rows as Warehouse.stream_written hands them over: each message with its comma."""
    count = len(messages)
    seqs = list(range(first_seq, first_seq + count))
    return pyarrow.record_batch(
        [
            pyarrow.array(seqs, pyarrow.int64()),
            pyarrow.array(ops or ["added"] * count),
            pyarrow.array([f"k{s}" for s in seqs]),
            pyarrow.array([None if s % 5 == 0 else f"h{s}" for s in seqs]),
            pyarrow.array([s % 3 + 1 for s in seqs], pyarrow.int64()),
            pyarrow.array([None if m is None else m + b"," for m in messages], pyarrow.binary()),
        ],
        names=["seq", "op", "key", "hash", "version", "message"],
    )


@pytest.mark.parametrize("seed, max_messages", [(1, 2_500), (2, 7), (3, 100)])
def test_the_cuts_and_bodies_are_batchers_over_any_chunking(seed: int, max_messages: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.choice([0, 10, 300, 3_000, 30_000]) for _ in range(3_000)]
    messages = [message(i, size) for i, size in enumerate(sizes)]
    batcher, columns = Batcher(max_messages=max_messages), ColumnBatcher(max_messages=max_messages)
    expected, got = [], []
    start = 0
    while start < len(messages):
        stop = min(len(messages), start + rng.randint(1, 700))
        for i in range(start, stop):
            full = batcher.add(i, f"k{i}", "added", messages[i], None if i % 5 == 0 else f"h{i}")
            expected += [full] if full else []
        written = written_rows(chunk_of(messages[start:stop], start), MAX_MESSAGE_BYTES)
        got += columns.extend(written.rows, written.lengths)
        start = stop
    expected.append(batcher.flush())
    got.append(columns.flush())
    assert [len(b) for b in got] == [len(b) for b in expected]
    for ours, theirs in zip(got, expected):
        assert ours.body("2026-12-04T00:00:00.000Z") == theirs.body("2026-12-04T00:00:00.000Z")
        assert (ours.seqs, ours.keys, ours.hashes) == (theirs.seqs, theirs.keys, theirs.hashes)
        assert ours.messages == theirs.messages
        assert len(ours.body("x")) <= MAX_BATCH_BYTES
    assert sum(len(b) for b in got) == len(messages)


def test_rows_without_a_message_and_messages_over_the_limit_are_left_out() -> None:
    big = message(3, MAX_MESSAGE_BYTES)
    chunk = chunk_of(
        [message(0), None, message(2), big, message(4)],
        ops=["added", "updated", "deleted", "updated", "added"],
    )
    written = written_rows(chunk, MAX_MESSAGE_BYTES)
    assert written.flagged
    assert written.oversized == [("k3", "updated", len(big))]
    assert written.rows.column(0).to_pylist() == [0, 2, 4]
    assert list(written.lengths) == [len(message(i)) + 1 for i in (0, 2, 4)]

    clean = written_rows(chunk_of([message(0), message(1)]), MAX_MESSAGE_BYTES)
    assert not clean.flagged and clean.oversized == []


def test_a_batch_acknowledged_whole_hands_over_its_columns() -> None:
    ops = ["added", "updated", "added", "deleted"]
    chunk = chunk_of([message(i) for i in range(4)], 10, ops)
    batch = ColumnBatch([chunk.slice(0, 1), chunk.slice(1)])
    assert batch.acks(batch.seqs) == Acks(
        ["k10", "k11", "k12", "k13"], [None, "h11", "h12", "h13"], ops, [2, 3, 1, 2]
    )
    assert batch.op_counts() == {"added": 2, "updated": 1, "deleted": 1}
    # some acknowledged: exactly those
    assert batch.acks([11, 13]) == Acks(
        ["k11", "k13"], ["h11", "h13"], ["updated", "deleted"], [3, 2]
    )


def test_a_400_batch_of_columns_is_halved_until_only_the_bad_message_is_rejected() -> None:
    messages = [message(i) for i in range(16)]
    messages[11] = message(11, userId=None)
    chunk = chunk_of(messages)
    batch = ColumnBatch([chunk.slice(0, 5), chunk.slice(5, 6), chunk.slice(11)])
    with Sandbox(write_key="k") as box:
        sender = Sender(
            f"{box.url}/v1/batch",
            "k",
            RateLimiter(1000),
            policy=RetryPolicy(max_attempts=2, backoff_seconds=0.01, max_backoff_seconds=0.02),
        )
        outcome = sender.deliver(batch)
        assert box.stats.snapshot()["accepted_messages"] == 15
    assert sorted(outcome.acknowledged) == [i for i in range(16) if i != 11]
    assert [(seq, key) for seq, key, _, _ in outcome.rejected] == [(11, "k11")]
    assert outcome.requests == 9
