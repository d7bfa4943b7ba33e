"""Sending each mapping's pending changes and recording what Segment acknowledged."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import partial
from itertools import chain, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from .acknowledger import Acknowledger
from .collector import streaming_collector
from .delivery.batching import Batch, Batcher
from .delivery.public_api import write_keys
from .delivery.ratelimit import RateLimiter
from .delivery.retry import RetryPolicy
from .delivery.sender import AuthFailed, BatchOutcome, Sender
from .fingerprint import definition, fingerprint
from .issue_recorder import IssueRecorder
from .mappings import Mapping
from .messages import (
    MAX_MESSAGE_BYTES,
    MessagePlan,
    Rejection,
    compile_mapping,
    compile_plan,
    oversize,
)
from .messages.sql_lane import SqlLane, lane_for
from .settings import ProfileSpace
from .warehouse import IssueRow, PendingStream, RunRecord, Warehouse

if TYPE_CHECKING:
    from .delivery.column_batches import ColumnBatcher

# rows of messages the warehouse wrote whole read at a time as Arrow columns (_send_columns)
COLUMN_CHUNK_ROWS = 2_048
# rows read at a time, with READ_AHEAD_CHUNKS more read ahead (warehouse/connections.py): on
# 1,000,000 subscriptions rows 3,000 with one ahead peaked at 247-248 MB against 253-255 for
# 5,000, at the same speed; two of 2,000 ahead hold as many rows as one of 3,000 beside the
# chunk being built (252-253 MB against 254-256), and the reader idles less; 1,500 took 2-5
# MiB less again, at the same speed
CHUNK_ROWS = 1_500


@dataclass
class MappingResult:
    """What one mapping's sync did: the counts users see and the run table records."""

    mapping: str
    model: str
    action: str
    profile_space: str
    pending: dict[str, int] = field(default_factory=dict)
    invalid_keys: int = 0
    sent: int = 0
    acknowledged: int = 0
    rejected: int = 0
    failed: int = 0
    requests: int = 0
    acknowledged_by_operation: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0
    status: str = "success"
    error: str | None = None
    reasons: list[str] = field(default_factory=list)
    region_note: str | None = None
    unique_id: str = ""  # the model's, as in dbt's manifest and run_results.json

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.failed == 0 and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SyncResult:
    run_id: str
    started_at: datetime
    ended_at: datetime | None = None
    mappings: list[MappingResult] = field(default_factory=list)
    interrupted: bool = False
    # why the sync stopped before sending anything (configuration, a lock held elsewhere...)
    error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        if self.error is not None:
            return 2
        if any(m.status == "blocked" for m in self.mappings):
            return 2
        return 0 if all(m.ok for m in self.mappings) else 1

    @property
    def duration_seconds(self) -> float:
        end = self.ended_at or datetime.now(timezone.utc)
        return (end - self.started_at).total_seconds()


Progress = Callable[[MappingResult, int], None]


@dataclass
class SyncOptions:
    chunk_rows: int = CHUNK_ROWS
    stop: threading.Event = field(default_factory=threading.Event)
    progress: Progress | None = None
    # called when a mapping starts sending and when it is over (stopped early included)
    progress_start: Progress | None = None
    progress_done: Progress | None = None
    max_reasons: int = 5
    # mapping name -> why it must not be sent now (its result says so; the exit code is 2)
    blocked: dict[str, str] = field(default_factory=dict)
    # profile space name -> its write key, looked up before the sync (delivery.public_api);
    # a space missing here reads its write_key_env
    write_keys: dict[str, str] = field(default_factory=dict, repr=False)


class _SpaceSender:
    """One sender, thread pool and rate limit per profile space, shared by its mappings."""

    def __init__(self, space: ProfileSpace, options: SyncOptions) -> None:
        self.space = space
        write_key = options.write_keys.get(space.name)
        if write_key is None:
            write_key = write_keys([space], stop=options.stop)[space.name]
        self.sender = Sender(
            space.batch_url,
            write_key,
            RateLimiter(space.requests_per_second),
            policy=RetryPolicy(
                max_attempts=space.max_attempts,
                backoff_seconds=space.backoff_seconds,
                max_backoff_seconds=space.max_backoff_seconds,
            ),
            use_gzip=space.gzip,
            timeout=space.timeout_seconds,
            stop=options.stop,
        )
        self.pool = ThreadPoolExecutor(
            max_workers=space.connections, thread_name_prefix=f"segment-{space.name}"
        )
        self.auth_error: AuthFailed | None = None

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def sync_mappings(
    warehouse: Warehouse,
    mappings: list[Mapping],
    spaces: dict[str, ProfileSpace],
    options: SyncOptions | None = None,
) -> SyncResult:
    """Sync every mapping; acknowledged rows go into the state batch by batch."""
    options = options or SyncOptions()
    result = SyncResult(run_id=uuid.uuid4().hex, started_at=datetime.now(timezone.utc))
    senders: dict[str, _SpaceSender] = {}
    try:
        with streaming_collector():
            for mapping in mappings:
                if mapping.name in options.blocked:
                    blocked = _blocked(warehouse, mapping, options.blocked[mapping.name])
                    result.mappings.append(blocked)
                    continue
                space_sender = senders.get(mapping.profile_space)
                if space_sender is None:
                    space_sender = senders[mapping.profile_space] = _SpaceSender(
                        spaces[mapping.profile_space], options
                    )
                mapping_result = _sync_one(warehouse, mapping, space_sender, options, result)
                result.mappings.append(mapping_result)
                if options.stop.is_set():
                    result.interrupted = True
                    break
    finally:
        for space_sender in senders.values():
            space_sender.close()
        result.ended_at = datetime.now(timezone.utc)
    return result


def _blocked(warehouse: Warehouse, mapping: Mapping, reason: str) -> MappingResult:
    result = MappingResult(
        mapping.name,
        mapping.model_name,
        mapping.action,
        mapping.profile_space,
        unique_id=mapping.model_id,
    )
    result.pending = warehouse.pending_counts(mapping)
    result.status = "blocked"
    result.error = reason
    return result


def _sync_one(
    warehouse: Warehouse,
    mapping: Mapping,
    space_sender: _SpaceSender,
    options: SyncOptions,
    run: SyncResult,
) -> MappingResult:
    started = time.monotonic()
    started_at = datetime.now(timezone.utc)
    result = MappingResult(
        mapping.name,
        mapping.model_name,
        mapping.action,
        mapping.profile_space,
        unique_id=mapping.model_id,
    )
    result.pending = warehouse.pending_counts(mapping)
    result.invalid_keys = sum(n for _, _, n in warehouse.invalid_keys(mapping))
    result.acknowledged_by_operation = dict.fromkeys(result.pending, 0)
    if warehouse.stored_fingerprint(mapping) is None:
        warehouse.store_fingerprint(mapping, fingerprint(mapping), definition(mapping))
    issues: list[IssueRow] = []
    # each row is recorded at most once a sync: with none recorded before, every issue this
    # sync records is new, and goes in without a pass over the mapping's issues
    had_issues = warehouse.has_recorded_issues(mapping)
    all_new = False
    if space_sender.auth_error is not None:
        result.error = _auth_message(space_sender)
    elif sum(result.pending.values()):
        # written ahead: whatever happens to the sends, the next capture knows they may have
        # reached Segment
        warehouse.record_attempts(mapping)
        all_new = not had_issues
        total = sum(result.pending.values())
        if options.progress_start is not None:
            options.progress_start(result, total)
        try:
            _MappingSender(
                warehouse, mapping, space_sender, options, result, issues, all_new
            ).run()
        finally:
            if options.progress_done is not None:
                options.progress_done(result, total)
        if space_sender.auth_error is not None:
            result.error = _auth_message(space_sender)
    space = space_sender.space
    if result.acknowledged and space.endpoint is None:
        # Segment's FAQ: data sent to the wrong region is accepted and then dropped
        result.region_note = (
            f"sent to the {space.region.upper()} region ({space.base_url}); if your Segment "
            f"workspace is in {'the EU' if space.region == 'us' else 'the US'}, nothing will "
            f"show up: set region: {'eu' if space.region == 'us' else 'us'} on profile space "
            f"{space.name!r}"
        )
    # the rest, also when interrupted: they are facts
    warehouse.record_issues(mapping, issues, all_new)
    # with none recorded before, every issue is this sync's own, of a row it did not get
    # acknowledged: nothing is resolved (a pass over 1,000,000 new issues: 0.4 s of CPU), and
    # the delete's anti join would still read every unacknowledged row (0.2-0.35 s of a sync
    # with nothing pending over 1,000,000 rows)
    if had_issues:
        warehouse.clear_resolved_issues(mapping, started_at)
    result.duration_seconds = time.monotonic() - started
    if options.stop.is_set():
        result.status = "interrupted"
    elif result.error:
        result.status = "error"
    elif not result.ok:
        result.status = "partial"
    warehouse.record_run(
        RunRecord(
            run_id=run.run_id,
            mapping_name=mapping.name,
            profile_space=mapping.profile_space,
            started_at=started_at,
            ended_at=datetime.now(timezone.utc),
            status=result.status,
            added=result.pending.get("added", 0),
            updated=result.pending.get("updated", 0),
            deleted=result.pending.get("deleted", 0),
            sent=result.sent,
            acknowledged=result.acknowledged,
            rejected=result.rejected,
            failed=result.failed,
            invalid_keys=result.invalid_keys,
        )
    )
    return result


class _StopSending(Exception):
    """Sending stops: interrupted, or the profile space refused the write key."""


class _MappingSender:
    """Streams one mapping's pending rows into batches, and settles each batch's outcome."""

    def __init__(
        self,
        warehouse: Warehouse,
        mapping: Mapping,
        space_sender: _SpaceSender,
        options: SyncOptions,
        result: MappingResult,
        issues: list[IssueRow],
        all_new: bool = False,
    ) -> None:
        self.warehouse = warehouse
        self.mapping = mapping
        self.space_sender = space_sender
        self.options = options
        self.result = result
        self.issues = issues
        self.all_new = all_new
        self.total = sum(result.pending.values())
        self.in_flight: deque[tuple[Batch, Future[BatchOutcome]]] = deque()
        # bounded so memory does not grow with the number of rows when Segment is slower
        self.max_in_flight = space_sender.space.connections * 2
        # where the warehouse takes them on a thread of their own (see issue_recorder.py)
        self.recorder: IssueRecorder | None = None
        # the operations and reasons of the issues not yet handed over, each text once: the
        # warehouse gives each row a string of its own, and a call's issues share a handful
        self.texts: dict[str, str] = {}
        self.shared = self.texts.setdefault  # shared(text, text): the copy kept

    def run(self) -> None:
        plan, lane = _plan_and_lane(self.warehouse, self.mapping)
        rejections: ThreadPoolExecutor | None = None
        recorded: Future[tuple[int, list[str]]] | None = None
        if lane is not None:
            # the rows SQL rejects are recorded where they are, and not read: beside the
            # stream where the warehouse runs both at once (they are not in the stream), else
            # before any thread starts (an error here leaves none behind)
            record = partial(
                self.warehouse.record_sql_rejections,
                self.mapping,
                lane,
                self.all_new,
                self.options.max_reasons,
            )
            if self.warehouse.records_rejections_beside_stream:
                rejections = ThreadPoolExecutor(1, thread_name_prefix="segment-sql-rejections")
                recorded = rejections.submit(record, aside=True)
            else:
                self._note_sql_rejections(*record())
        try:
            self._stream_and_send(plan, lane)
        finally:
            if rejections is not None:
                rejections.shutdown(wait=True)
        if recorded is not None:
            self._note_sql_rejections(*recorded.result())

    def _note_sql_rejections(self, rejected: int, reasons: list[str]) -> None:
        """The rows SQL rejected, counted; their reasons first, as the stream's order has
        them (a reason the builder gave while they were recorded comes after)."""
        self.result.rejected += rejected
        noted, self.result.reasons = self.result.reasons, []
        for reason in [*reasons, *noted]:
            _note_reason(self.result, reason, self.options.max_reasons)

    def _stream_and_send(self, plan: MessagePlan, lane: SqlLane | None) -> None:
        acknowledger = Acknowledger(self.warehouse, self.mapping)
        self.acknowledger = acknowledger
        if self.warehouse.records_issues_aside:
            self.recorder = IssueRecorder(self.warehouse, self.mapping, self.all_new)
        try:
            columnar = lane is not None and self.warehouse.streams_columns
            if not (columnar and self._sent_as_columns(plan, lane)):
                self._send_stream(
                    plan,
                    lane is not None,
                    self.warehouse.stream_pending(
                        self.mapping, self.options.chunk_rows, lane, without_sql_rejections=True
                    ),
                )
        except _StopSending:
            pass
        finally:
            wait([future for _, future in self.in_flight])
            self._drain()
            try:
                acknowledger.close()
            finally:
                if self.recorder is not None:
                    # the rest joins the stage's last merge: a pass over the mapping's issues
                    # less than recording it on its own (0.7 s at 1,000,000 on Postgres)
                    self._hand_over_issues()
                    self.recorder.close()

    def _sent_as_columns(self, plan: MessagePlan, lane: SqlLane) -> bool:
        """Send the rows as the warehouse's Arrow columns (_send_columns), then the rows the
        builder must judge in a stream of their own; False, with nothing sent, when most of
        the first chunk's rows are the builder's (as when every row is): read them as rows."""
        stream = self.warehouse.stream_written(self.mapping, lane, COLUMN_CHUNK_ROWS)
        try:
            chunks = iter(stream)
            first = next(chunks, None)
            if first is None:
                return True
            if _mostly_flagged(first):
                return False
            flagged = self._send_columns(chain([first], chunks))
        finally:
            stream.close()
        if flagged:
            self._send_stream(
                plan,
                True,
                self.warehouse.stream_pending(
                    self.mapping, self.options.chunk_rows, lane, flagged_only=True
                ),
            )
        return True

    def _send_stream(self, plan: MessagePlan, sql_built: bool, stream: PendingStream) -> None:
        try:
            self._build_and_send(stream, plan, sql_built)
        finally:
            stream.close()

    def _build_and_send(self, stream: PendingStream, plan: MessagePlan, sql_built: bool) -> None:
        builder = compile_mapping(self.mapping, stream.columns, plan)
        build = builder.build
        batcher = Batcher(max_messages=self.space_sender.space.batch_size)
        add = batcher.add
        # with sql_built, the warehouse wrote each message whole (the last three columns:
        # message, rejection reason, flag); only flagged rows carry their mapped columns, and go
        # through the builder. The rows it rejected are recorded already, and not in the
        # stream (Warehouse.record_sql_rejections)
        width = len(stream.columns)
        message_at, flag_at = width - 3, width - 1
        # row: sequence, operation, key, hash, change version, then the mapped columns
        for chunk in stream:
            # every message written by the warehouse: batched a chunk at a time
            if sql_built and chunk and not any(map(itemgetter(flag_at), chunk)):
                if self._send_written(chunk, batcher, message_at):
                    chunk = ()
            for row in chunk:
                if sql_built and not row[flag_at]:
                    message = _as_bytes(row[message_at])
                    if len(message) > MAX_MESSAGE_BYTES:
                        message = oversize(len(message))
                else:
                    message = build(row, row[1], row[2], row[3], row[4])
                if type(message) is bytes:
                    full = add(row[0], row[2], row[1], message, row[3], row[4])
                    if full is not None:
                        self._submit(full)
                else:
                    self._reject(row, message)
            self._chunk_done()
        self._submit_last(batcher)

    def _chunk_done(self) -> None:
        """After each chunk: settle what was answered, hand issues over, report, and stop
        here too (when every row is rejected, nothing is submitted)."""
        self._drain()
        self._record_issues()
        if self.options.progress is not None:
            self.options.progress(self.result, self.total)
        if self._stopping():
            raise _StopSending

    def _submit_last(self, batcher: Batcher | ColumnBatcher) -> None:
        last = batcher.flush()
        if last is not None:
            self._submit(last)

    def _send_columns(self, stream: Iterable[Any]) -> bool:
        """Send the messages the warehouse wrote whole, as Arrow record batches
        (delivery/column_batches.py); True when the stream had rows the builder must judge
        (without a message: they are left to a stream of their own)."""
        from .delivery.column_batches import ColumnBatcher, written_rows

        batcher = ColumnBatcher(max_messages=self.space_sender.space.batch_size)
        flagged = False
        for chunk in stream:
            written = written_rows(chunk, MAX_MESSAGE_BYTES)
            flagged = flagged or written.flagged
            for key, op, size in written.oversized:
                self._reject((None, op, key), oversize(size))
            for full in batcher.extend(written.rows, written.lengths):
                self._submit(full)
            self._chunk_done()
        self._submit_last(batcher)
        return flagged

    def _send_written(self, chunk: list[tuple], batcher: Batcher, message_at: int) -> bool:
        """Rows the warehouse wrote whole (none flagged): messages, batched in order; False,
        with nothing sent, when one is over Segment's limit. The columns read are taken out
        of the rows in C, each on its own (transposing all of them took 0.49 s per 1,000,000
        subscriptions rows, these 0.21 s)."""
        messages = list(map(itemgetter(message_at), chunk))
        if type(messages[0]) is str:
            messages = list(map(str.encode, messages))
        if max(map(len, messages)) > MAX_MESSAGE_BYTES:
            return False
        seqs, ops, keys, hashes, versions = (
            list(map(itemgetter(at), chunk)) for at in (0, 1, 2, 3, 4)
        )
        for full in batcher.extend(seqs, keys, ops, messages, hashes, versions):
            self._submit(full)
        return True

    def _add_issues(
        self, keys: Iterable[str], ops: list[str], reasons: list[str], kind: str
    ) -> None:
        """Issues of these rows, their texts shared, in C-level passes: when every row is
        rejected or fails, this runs for every row of the sync."""
        text = self.shared
        texts, shared_reasons = map(text, ops, ops), map(text, reasons, reasons)
        self.issues.extend(zip(keys, texts, shared_reasons, repeat(kind)))
        for reason in dict.fromkeys(reasons):
            _note_reason(self.result, reason, self.options.max_reasons)

    def _reject(self, row: tuple, rejection: Rejection) -> None:
        text = self.shared
        op, reason = text(row[1], row[1]), text(rejection.reason, rejection.reason)
        self.issues.append((row[2], op, reason, "rejected"))
        self.result.rejected += 1
        _note_reason(self.result, rejection.reason, self.options.max_reasons)

    def _record_issues(self) -> None:
        if len(self.issues) >= self.warehouse.issue_rows:
            self._hand_over_issues()

    def _hand_over_issues(self) -> None:
        """The issues gathered so far, to the recorder (or the warehouse, where none runs)."""
        if self.recorder is not None:
            # a copy: the list is the sync's, and its rows go on arriving
            self.recorder.put(list(self.issues))
        else:
            self.warehouse.record_issues(self.mapping, self.issues, self.all_new)
        self.issues.clear()
        self.texts.clear()

    def _stopping(self) -> bool:
        return (
            self.options.stop.is_set()
            or self.space_sender.auth_error is not None
            or self.acknowledger.error is not None
            or (self.recorder is not None and self.recorder.error is not None)
        )

    def _submit(self, batch: Batch) -> None:
        space_sender = self.space_sender
        if self._stopping():
            # the batch's rows stay pending: the next sync sends them
            raise _StopSending
        self.result.sent += len(batch)
        future = space_sender.pool.submit(space_sender.sender.deliver, batch)
        self.in_flight.append((batch, future))
        while len(self.in_flight) >= self.max_in_flight:
            wait([self.in_flight[0][1]])
            self._drain()

    def _drain(self) -> None:
        settled = False
        while self.in_flight and self.in_flight[0][1].done():
            batch, future = self.in_flight.popleft()
            self._settle(batch, future.result())
            settled = True
        if settled and self.options.progress is not None:
            self.options.progress(self.result, self.total)

    def _settle(self, batch: Batch, outcome: BatchOutcome) -> None:
        result = self.result
        acknowledged = outcome.acknowledged
        if acknowledged:
            self.acknowledger.put(batch.acks(acknowledged))
            result.acknowledged += len(acknowledged)
            if len(acknowledged) == len(batch):
                acknowledged_ops = batch.op_counts()
            else:
                acked = set(acknowledged)
                acknowledged_ops = Counter(o for s, o in zip(batch.seqs, batch.ops) if s in acked)
            for op, n in acknowledged_ops.items():
                result.acknowledged_by_operation[op] += n
        result.requests += outcome.requests
        for entries, kind in ((outcome.rejected, "rejected"), (outcome.failed, "failed")):
            if entries:
                ops, reasons = (list(map(itemgetter(at), entries)) for at in (2, 3))
                self._add_issues(map(itemgetter(1), entries), ops, reasons, kind)
        result.rejected += len(outcome.rejected)
        result.failed += len(outcome.failed)
        if outcome.auth_error is not None and self.space_sender.auth_error is None:
            self.space_sender.auth_error = outcome.auth_error


def _plan_and_lane(warehouse: Warehouse, mapping: Mapping) -> tuple[MessagePlan, SqlLane | None]:
    """The mapping's message plan, and the SQL the warehouse writes its messages with where
    it can (both the lane and the builder follow the plan)."""
    dialect = warehouse.message_dialect
    if dialect is None:
        return compile_plan(mapping), None
    plan = compile_plan(
        mapping, warehouse.column_types(warehouse.mapping_table(mapping, "pending"))
    )
    return plan, lane_for(plan, dialect)


def _mostly_flagged(chunk: Any) -> bool:
    """Whether most of a chunk of written messages are rows the builder must judge (no
    message was written for them): the rows are then better read as rows."""
    from .delivery.column_batches import MESSAGE

    return chunk.column(MESSAGE).null_count * 2 > chunk.num_rows


def _as_bytes(message: bytes | str) -> bytes:
    """A message the warehouse wrote, as sent: DuckDB hands over bytes, Postgres text."""
    return message if type(message) is bytes else message.encode()


def _note_reason(result: MappingResult, reason: str, limit: int) -> None:
    if len(result.reasons) < limit and reason not in result.reasons:
        result.reasons.append(reason)


def _auth_message(space_sender: _SpaceSender) -> str:
    error = space_sender.auth_error
    space = space_sender.space
    if space.write_key_env:
        origin = f"check the environment variable {space.write_key_env}"
    else:
        origin = (
            f"it is the write key of source {space.source!r}, looked up with the Public API "
            f"token in {space.public_api_token_env}: check the source"
        )
    return (
        f"profile space {space.name!r} refused the write key "
        f"(HTTP {error.status if error else '?'})"
        f": {origin} and the region ({space.region}, {space.base_url})"
    )
