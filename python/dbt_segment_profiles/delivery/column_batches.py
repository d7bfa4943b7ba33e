"""Batches of messages the warehouse wrote whole, kept in the Arrow columns it handed them over
in: no Python object per row on the way from the warehouse to Segment and back into the
acknowledgements (DuckDB; warehouse/duckdb.py streams them).

A chunk's columns are the pending row's own, then the message with the comma that follows it
in a batch (Warehouse.stream_written): a batch's body is the bytes its rows take in their
chunks, copied once. The batches are cut exactly where Batcher cuts them, and behave as its
batches do for the sender and the sync (acknowledged whole, halved, failed); their columns
become Python lists only once a batch is answered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy
import pyarrow

from ..warehouse.base import Acks
from .batching import (
    _ENVELOPE_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_MESSAGES,
    Batch,
    counted,
    fill_stop,
)

# a chunk's columns, by position: sequence, operation, key, hash, change version, message
SEQ, OP, KEY, HASH, VERSION, MESSAGE = range(6)


class ColumnBatch:
    """Messages with the pending changes they carry, as slices of the chunks they came in."""

    def __init__(self, parts: list[pyarrow.RecordBatch]) -> None:
        self.parts = parts
        self._length = sum(part.num_rows for part in parts)

    def __len__(self) -> int:
        return self._length

    def _column(self, at: int) -> list[Any]:
        return [value for part in self.parts for value in part.column(at).to_pylist()]

    @property
    def seqs(self) -> list[int]:
        return self._column(SEQ)

    @property
    def ops(self) -> list[str]:
        return self._column(OP)

    @property
    def keys(self) -> list[str]:
        return self._column(KEY)

    @property
    def hashes(self) -> list[str | None]:
        return self._column(HASH)

    @property
    def versions(self) -> list[int]:
        return self._column(VERSION)

    @property
    def messages(self) -> list[bytes]:
        return [message[:-1] for message in self._column(MESSAGE)]

    def body(self, sent_at: str) -> bytes:
        """The request body: each part's messages as they lie in their chunk, the last comma
        left out, in one copy."""
        pieces = [b'{"batch":[', *(_bytes_of(part.column(MESSAGE)) for part in self.parts)]
        pieces[-1] = pieces[-1][:-1]
        pieces.append(b'],"sentAt":"' + sent_at.encode() + b'"}')
        return b"".join(pieces)

    def acks(self, acknowledged: list[int]) -> Acks:
        """As Batch.acks, in Python lists: DuckDB takes them as NumPy arrays (it would import
        pandas to scan Arrow's, 50 MB of a sync's peak)."""
        if len(acknowledged) == self._length:
            return Acks(self.keys, self.hashes, self.ops, self.versions)
        return self.as_batch().acks(acknowledged)

    def op_counts(self) -> Counter[str]:
        return counted(self.ops)

    def halves(self) -> tuple[ColumnBatch, ColumnBatch]:
        mid = self._length // 2
        first: list[pyarrow.RecordBatch] = []
        second: list[pyarrow.RecordBatch] = []
        start = 0
        for part in self.parts:
            cut = min(max(mid - start, 0), part.num_rows)
            if cut:
                first.append(part.slice(0, cut))
            if cut < part.num_rows:
                second.append(part.slice(cut))
            start += part.num_rows
        return ColumnBatch(first), ColumnBatch(second)

    def as_batch(self) -> Batch:
        """The same batch in Python lists."""
        batch = Batch(self.seqs, self.keys, self.ops, self.messages, self.hashes, self.versions)
        batch.size = _ENVELOPE_BYTES + sum(len(m) + 1 for m in batch.messages)
        return batch


def _bytes_of(values: pyarrow.Array) -> memoryview:
    """The bytes of a binary array's values, back to back, where they lie (no copy)."""
    offsets = _offsets(values)
    return memoryview(values.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


@dataclass
class WrittenRows:
    """A chunk's rows to send, with the bytes each takes in a batch (its message and
    comma); whether it had rows the builder must judge (left out: no message was written for
    them); and the key, operation and size of each message over Segment's limit (left out
    too: rejected)."""

    rows: pyarrow.RecordBatch
    lengths: numpy.ndarray
    flagged: bool
    oversized: list[tuple[str, str, int]]


def written_rows(chunk: pyarrow.RecordBatch, max_message_bytes: int) -> WrittenRows:
    """The lengths come from the message column's offsets (numpy): pyarrow's compute
    functions, and the pages of its library they touch, are only needed when rows are left
    out."""
    messages = chunk.column(MESSAGE)
    lengths = numpy.diff(_offsets(messages))
    too_long = lengths > max_message_bytes + 1
    flagged = messages.null_count > 0
    if not flagged and not too_long.any():
        return WrittenRows(chunk, lengths, False, [])
    import pyarrow.compute as pc

    keep = numpy.logical_and(~too_long, messages.is_valid().to_numpy(zero_copy_only=False))
    oversized: list[tuple[str, str, int]] = []
    if too_long.any():
        at = pyarrow.array(too_long)
        sizes = [int(length) - 1 for length in lengths[too_long]]
        keys, ops = (pc.filter(chunk.column(c), at).to_pylist() for c in (KEY, OP))
        oversized = list(zip(keys, ops, sizes))
    return WrittenRows(chunk.filter(pyarrow.array(keep)), lengths[keep], flagged, oversized)


def _offsets(values: pyarrow.Array) -> numpy.ndarray:
    """Where each of a binary array's values starts in its data, and where the last ends."""
    width = numpy.int64 if pyarrow.types.is_large_binary(values.type) else numpy.int32
    offsets = numpy.frombuffer(values.buffers()[1], dtype=width)
    return offsets[values.offset : values.offset + len(values) + 1]


class ColumnBatcher:
    """Batcher's cuts over chunks of Arrow columns: the same batches, whose rows stay in the
    chunks' columns."""

    def __init__(
        self, max_bytes: int = MAX_BATCH_BYTES, max_messages: int = MAX_BATCH_MESSAGES
    ) -> None:
        self.max_bytes = max_bytes
        self.max_messages = max_messages
        self._parts: list[pyarrow.RecordBatch] = []
        self._size = _ENVELOPE_BYTES
        self._count = 0

    def extend(self, chunk: pyarrow.RecordBatch, lengths: numpy.ndarray) -> list[ColumnBatch]:
        """Add a chunk's rows, with the bytes each takes in a batch (its message and comma);
        the batches filled, handed back."""
        full: list[ColumnBatch] = []
        ends = list(accumulate(lengths.tolist(), initial=0))
        start, count = 0, len(lengths)
        while start < count:
            stop = fill_stop(
                ends, start, self._size, self._count, self.max_bytes, self.max_messages
            )
            if stop == start:
                full.append(self._cut())
                continue
            self._parts.append(chunk.slice(start, stop - start))
            self._count += stop - start
            self._size += ends[stop] - ends[start]
            start = stop
            if start < count:
                full.append(self._cut())
        return full

    def _cut(self) -> ColumnBatch:
        batch = ColumnBatch(self._parts)
        self._parts, self._size, self._count = [], _ENVELOPE_BYTES, 0
        return batch

    def flush(self) -> ColumnBatch | None:
        return self._cut() if self._count else None
