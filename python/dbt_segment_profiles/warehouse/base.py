"""Reading pending changes and writing acknowledgements, in SQL every warehouse shares, on
connections the target's dbt adapter opens."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol, TypeVar

from ..mappings import Mapping
from ..state.issues import IssueStage, record_issues, record_selected_issues
from .connections import AdapterConnections, PendingStream, utc_naive

OPERATIONS = ("added", "updated", "deleted")
T = TypeVar("T")
# how capture_mapping.sql starts the reason it records when the mass-delete guard holds a capture
MASS_DELETE = "mass-delete guard:"
INTERNAL_COLUMNS = ("__sp_seq", "__sp_op", "__sp_key", "__sp_hash", "__sp_version")


class Acks(NamedTuple):
    """What acknowledgements record of each row, exactly what its batch carried, a column
    each: the runner holds them as its batches do, and warehouses load them a column at a time."""

    keys: list[str]
    hashes: list[str | None]
    operations: list[str]
    versions: list[int]

    def extend(self, more: Acks) -> None:
        for column, added in zip(self, more):
            column.extend(added)


def quote(identifier: str) -> str:
    """A double-quoted identifier: nothing from the config reaches SQL unquoted."""
    return '"' + identifier.replace('"', '""') + '"'


# a lane's row SQL rejects and records itself (record_sql_rejections): one with a reason and
# nothing only the builder can judge. An oversize message is not asked about: the builder
# checks the size last, so it would give the row SQL's reason too; and asking would build every
# pending row's message (Postgres computes a subquery's every column before filtering)
_REJECTED_BY_SQL = "__sp_reason is not null and not coalesce(__sp_needs_python, false)"
# a pending row's own columns, first in every stream of it
_INTERNAL_COLUMNS = "p.__sp_seq, p.__sp_op, p.__sp_key, p.__sp_hash, p.__sp_version"


class MappingsLocked(Exception):
    """Another process holds the lock of some mappings: (mapping, who and since when)."""

    def __init__(self, holders: list[tuple[str, str]]):
        super().__init__("; ".join(f"{m}: {h}" for m, h in holders))
        self.holders = holders


@dataclass(frozen=True)
class CaptureStatus:
    """A mapping's row in segment_captures: what its last capture saw and decided."""

    relation_name: str | None
    key_column: str | None
    key_type: str | None
    hash_version: int | None
    pending_added: int | None
    pending_updated: int | None
    pending_deleted: int | None
    state_rows: int | None
    deleting: int | None
    blocked_reason: str | None
    allow_mass_delete: bool | None
    captured_at: datetime | None
    invocation_id: str | None = None


class MessageSql(Protocol):
    """SQL expressions over the pending table (aliased `p`) that write each row's message, as
    the message layer compiles them (`messages/sql_lane.py`); the warehouse only runs them."""

    message: str  # the whole message as text
    reason: str  # why the row is rejected, or NULL
    needs_python: str  # true for rows the Python builder must judge, never NULL
    lets: tuple[tuple[str, str], ...]  # (name, expression) the others read as `p.<name>`


class RecordIssue(NamedTuple):
    """A row that was not acknowledged, and why (rejected before sending, or failed).

    A tuple, not a dataclass: a sync where every row is rejected makes one per row."""

    record_key: str
    operation: str
    reason: str
    kind: str  # rejected | failed


# an issue as the sync hands it over: RecordIssue's fields, in its order. A RecordIssue is one;
# so is the plain tuple `zip` makes in C, where a sync that rejects every row makes one a row
# (1,000,000 of them in 0.10 s, against 0.54-0.65 s as RecordIssues, with the GIL held)
IssueRow = tuple[str, str, str, str]


@dataclass
class RunRecord:
    run_id: str
    mapping_name: str
    profile_space: str
    started_at: datetime
    ended_at: datetime
    status: str
    added: int = 0
    updated: int = 0
    deleted: int = 0
    sent: int = 0
    acknowledged: int = 0
    rejected: int = 0
    failed: int = 0
    invalid_keys: int = 0


RUN_COLUMNS = tuple(RunRecord.__dataclass_fields__)


class Warehouse(AdapterConnections):
    """The SQL every warehouse shares; a subclass per dbt adapter type adds its dialect."""

    timestamp_type = "timestamp"
    # how pending rows are read; a warehouse that keeps insertion order may skip the sort
    stream_order = "order by p.__sp_seq"
    # a message's text as the stream reads it (`{}`: the text): see DuckDBWarehouse
    sent_text_sql = "{}"
    # the dialect in which the message layer may write messages here (its SQL lane), with
    # `column_types` telling it the pending table's types; None: Python builds every message
    message_dialect: str | None = None
    # what a record's key is cast to, as capture casts it
    key_text_type = "varchar(4096)"
    # whether a sync may record issues on a thread of its own (on a connection of its own,
    # side_transaction) while the acknowledger commits on the main one
    records_issues_aside = True
    # whether the rows a lane's SQL rejects may be recorded on a thread (on the writer's
    # connection) while the stream's query runs: where the warehouse is a server, its two
    # sessions work at once; DuckDB runs both in this process, under one memory cap
    records_rejections_beside_stream = False
    # whether the messages a lane wrote whole may be streamed as Arrow columns
    # (stream_columns), sent and acknowledged without a Python object per row
    streams_columns = False
    # a sync hands its issues over once this many have queued (and at the end): the Python
    # objects waiting stay bounded; the warehouse gathers them up to issue_merge_rows
    issue_rows = 10_000
    # the issue recorder merges its stage into the issues table once this many have gathered
    # (state/issues.py IssueStage): each merge is one pass over the mapping's issues
    issue_merge_rows = issue_rows
    # the same when every issue is new (one insert, no pass over the mapping's issues);
    # None: issue_merge_rows
    issue_insert_rows: int | None = None
    # each merge that passes over the mapping's issues gathers this many times the rows of the
    # one before it: log2 passes over a table of issues, rather than one per issue_merge_rows
    issue_merge_growth = 1
    # the issues a query selects (record_selected_issues: the rows SQL rejects), recorded
    # again, are merged this many at a time, each slice in a transaction; None: all at once
    selected_merge_rows: int | None = None

    # whether names carry the target's database: the profile may point at one that is not
    # the session's default (a DuckDB `attach`ed one)
    qualify_database = True

    # names -----------------------------------------------------------------------------
    def quote(self, identifier: str) -> str:
        """An identifier quoted in this warehouse's dialect."""
        return quote(identifier)

    @property
    def database(self) -> str | None:
        if not self.qualify_database:
            return None
        return getattr(self.adapter.config.credentials, "database", None) or None

    def table(self, name: str) -> str:
        if self.database:
            return ".".join(self.quote(part) for part in (self.database, self.schema, name))
        return f"{self.quote(self.schema)}.{self.quote(name)}"

    def mapping_table(self, mapping: Mapping, role: str) -> str:
        return self.table(f"{mapping.name}__{role}")

    # reading ---------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.transaction() as cur:
            cur.execute(sql, params) if params else cur.execute(sql)
            return cur.fetchall() if cur.description else []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.transaction() as cur:
            cur.execute(sql, params) if params else cur.execute(sql)

    def _in_schema(self) -> tuple[str, tuple[str, ...]]:
        """The condition on information_schema.tables for the bookkeeping schema."""
        if self.database:
            return f"table_catalog = {self.param} and table_schema = {self.param}", (
                self.database,
                self.schema,
            )
        return f"table_schema = {self.param}", (self.schema,)

    def table_exists(self, name: str) -> bool:
        condition, params = self._in_schema()
        rows = self.query(
            f"select count(*) from information_schema.tables where {condition} "
            f"and table_name = {self.param}",
            (*params, name),
        )
        return bool(rows and rows[0][0])

    def bookkeeping_tables(self) -> list[str]:
        """The tables of the bookkeeping schema, by name."""
        condition, params = self._in_schema()
        rows = self.query(
            f"select table_name from information_schema.tables where {condition} "
            "order by table_name",
            params,
        )
        return [str(r[0]) for r in rows]

    def drop_table(self, cur: Any, name: str) -> None:
        """Drop a bookkeeping table, inside the caller's transaction."""
        cur.execute(f"drop table if exists {self.table(name)}")

    def rename_table(self, cur: Any, old: str, new: str) -> None:
        """Rename a bookkeeping table (in the same schema), inside the caller's transaction."""
        cur.execute(f"alter table {self.table(old)} rename to {self.quote(new)}")

    def relation_columns(self, relation_name: str) -> list[str] | None:
        """The columns of a relation, or None when it does not exist."""
        try:
            with self.transaction() as cur:
                cur.execute(f"select * from {relation_name} where 1 = 0")
                return [d[0] for d in cur.description]
        except Exception:
            return None

    def _unacknowledged(self, mapping: Mapping, lets: Sequence[tuple[str, str]] = ()) -> str:
        pending = self.mapping_table(mapping, "pending")
        acks = self.mapping_table(mapping, "acks")
        # a pending row is done once an acknowledgement of its change version is recorded
        unacknowledged = (
            f"not exists (select 1 from {acks} as a "
            "where a.record_key = p.__sp_key and a.change_version = p.__sp_version)"
        )
        if lets:
            # `offset 0` keeps Postgres from folding the named values back into every
            # expression that reads them (1.6-2.2 s against 2.2-2.9 s for 200,000 subscriptions);
            # named for the unacknowledged rows only: a sync resumed after most were sent
            # does not compute them for the rest
            named = ", ".join(f"{sql} as {name}" for name, sql in lets)
            named_rows = f"select p.*, {named} from {pending} as p where {unacknowledged} offset 0"
            return f"from ({named_rows}) as p"
        return f"from {pending} as p where {unacknowledged}"

    def capture_status(self, mapping: Mapping) -> CaptureStatus | None:
        """What the mapping's last capture recorded; None before its first one."""
        if not self.table_exists("segment_captures"):
            return None
        rows = self.query(
            "select relation_name, key_column, key_type, hash_version, pending_added, "
            "pending_updated, pending_deleted, state_rows, deleting, blocked_reason, "
            f"allow_mass_delete, captured_at, invocation_id from {self.table('segment_captures')} "
            f"where mapping_name = {self.param}",
            (mapping.name,),
        )
        return CaptureStatus(*rows[0]) if rows else None

    def pending_counts(self, mapping: Mapping) -> dict[str, int]:
        """Unacknowledged changes by operation: the capture's counts less the acks since."""
        counts = dict.fromkeys(OPERATIONS, 0)
        captured = self.capture_status(mapping)
        if captured is None:
            return counts
        counts.update(
            added=int(captured.pending_added or 0),
            updated=int(captured.pending_updated or 0),
            deleted=int(captured.pending_deleted or 0),
        )
        acks = self.mapping_table(mapping, "acks")
        for op, n in self.query(f"select operation, count(*) from {acks} group by operation"):
            if op in counts:
                counts[op] = max(0, counts[op] - int(n))
        return counts

    def invalid_keys(self, mapping: Mapping) -> list[tuple[str | None, str, int]]:
        return [
            (key, reason, int(n))
            for key, reason, n in self.query(
                "select record_key, reason, row_count from "
                f"{self.mapping_table(mapping, 'invalid')} order by reason, record_key"
            )
        ]

    def stream_pending(
        self,
        mapping: Mapping,
        chunk_rows: int = 5_000,
        lane: MessageSql | None = None,
        without_sql_rejections: bool = False,
        flagged_only: bool = False,
    ) -> PendingStream:
        """Pending rows not yet acknowledged: internal columns, then the mapped ones; with a
        lane, also each message's head, context and rejection reason as the warehouse wrote
        them, and whether the builder must judge the row (only then are the mapped columns
        read). `without_sql_rejections`: not the rows SQL rejects (record_sql_rejections
        recorded them); `flagged_only`: only the rows the builder must judge."""
        if lane is None:
            internal, selected, source = self._pending_parts(mapping, ())
            sql = f"select {internal}, {', '.join(selected)} {source} {self.stream_order}"
            return self.stream(sql, chunk_rows)
        sql = self._lane_rows(mapping, lane)
        if flagged_only:
            sql += " where __sp_needs_python"
        elif without_sql_rejections:
            sql += f" where not ({_REJECTED_BY_SQL})"
        return self.stream(sql, chunk_rows)

    def stream_written(self, mapping: Mapping, lane: MessageSql, chunk_rows: int) -> Any:
        """The pending rows whose message the lane wrote whole, as Arrow record batches of
        the pending row's own columns and the message (delivery/column_batches.py), and the
        rows the builder must judge with a NULL message (stream_pending(flagged_only=True)
        reads those); not the rows SQL rejects. Where streams_columns is True."""
        # each message ends with the comma that follows it in a batch, so that a batch's body
        # is the bytes its rows take in the chunk. Not `where __sp_message is not null`:
        # DuckDB would write each message twice
        lane_rows = self._lane_rows(mapping, lane, suffix="','")
        return self.stream_columns(
            "select __sp_seq, __sp_op, __sp_key, __sp_hash, __sp_version, __sp_message "
            f"from ({lane_rows} where not ({_REJECTED_BY_SQL})) as __sp_lane",
            chunk_rows,
        )

    def stream_columns(self, sql: str, chunk_rows: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not stream Arrow columns")

    def _pending_parts(
        self, mapping: Mapping, lets: Sequence[tuple[str, str]]
    ) -> tuple[str, list[str], str]:
        """The internal columns, the mapped ones (temporal ones formatted) and the FROM of the
        unacknowledged pending rows."""
        read = self._reading_as_builder(mapping)
        selected = [f"{read(c, f'p.{self.quote(c)}')} as {self.quote(c)}" for c in mapping.columns]
        internal = _INTERNAL_COLUMNS
        return internal, selected, self._unacknowledged(mapping, lets)

    def _reading_as_builder(self, mapping: Mapping) -> Callable[[str, str], str]:
        """(column, expression) -> the mapped column as the message builder reads it: dates
        and timestamps are formatted by the warehouse, a whole column at a time, in exactly
        the form the builder would give them row by row."""
        kinds = self.temporal_kinds(self.mapping_table(mapping, "pending"))

        def read(column: str, expression: str) -> str:
            kind = kinds.get(column)
            return expression if kind is None else self.iso_utc_sql(expression, kind)

        return read

    def _lane_rows(self, mapping: Mapping, lane: MessageSql, suffix: str = "") -> str:
        """stream_pending's rows with a lane, in its order, as a query a WHERE may follow;
        `suffix`: SQL text each message written ends with."""
        internal = _INTERNAL_COLUMNS
        source = self._unacknowledged(mapping, lane.lets)
        # the mapped columns are read for the flagged rows only: formatted there, not for
        # every row (a timestamp's to_char, 0.3 s per 1,000,000 rows on Postgres)
        selected = [f"p.{self.quote(c)} as {self.quote(c)}" for c in mapping.columns]
        read = self._reading_as_builder(mapping)
        flagged = [
            f"case when __sp_needs_python then {read(c, self.quote(c))} end as {self.quote(c)}"
            for c in mapping.columns
        ]
        # a rejected or flagged row's message is never read: its text stays in the warehouse.
        # A message's size is checked by the runner, as it reads it: asking here would write
        # the message twice (DuckDB computes a subquery's expression per use)
        sent = self.sent_text_sql.format(f"__sp_message || {suffix}" if suffix else "__sp_message")
        written = f"case when __sp_reason is null and not __sp_needs_python then {sent} end"
        return (
            f"select __sp_seq, __sp_op, __sp_key, __sp_hash, __sp_version, {', '.join(flagged)}, "
            f"{written} as __sp_message, __sp_reason, __sp_needs_python as __sp_python "
            f"from (select {internal}, {', '.join(selected)}, {lane.message} as __sp_message, "
            f"{lane.reason} as __sp_reason, "
            f"{lane.needs_python} as __sp_needs_python {source} {self.stream_order}) as __sp_rows"
        )

    def record_sql_rejections(
        self,
        mapping: Mapping,
        lane: MessageSql,
        all_new: bool,
        max_reasons: int,
        aside: bool = False,
    ) -> tuple[int, list[str]]:
        """Record the pending rows the lane's SQL rejects as issues, in the warehouse: they
        never travel to the runner and back (state/issues.py). The number recorded, and the
        first `max_reasons` distinct reasons in the stream's order. `aside`: on the writer
        thread's connection (side_transaction)."""
        # the reason and the flag only: no message is written for a row SQL rejects
        judged = (
            f"select p.__sp_seq, p.__sp_key, p.__sp_op, {lane.reason} as __sp_reason, "
            f"{lane.needs_python} as __sp_needs_python {self._unacknowledged(mapping, lane.lets)}"
        )
        rejected = (
            "select __sp_seq as seq, __sp_key as record_key, __sp_op as operation, "
            f"'rejected' as kind, __sp_reason as reason from ({judged}) as __sp_judged "
            f"where {_REJECTED_BY_SQL}"
        )
        return record_selected_issues(self, mapping.name, rejected, all_new, max_reasons, aside)

    def record_rows(self, mapping: Mapping, key: str) -> PendingStream:
        """One record's row, in stream_pending's layout, whether or not it is pending: from the
        model, with its pending change (operation, hash, version) if one is unacknowledged, else
        as its next change would be; a pending delete of a key the model no longer has comes
        from the pending table. An extra last column says whether the change is pending."""
        pending = self.mapping_table(mapping, "pending")
        state = self.mapping_table(mapping, "state")
        acks = self.mapping_table(mapping, "acks")
        relation = mapping.relation_name
        actual = {c.lower(): c for c in self.relation_columns(relation) or []}
        kinds = self.temporal_kinds(relation)
        selected = []
        for column in mapping.columns:
            name = actual.get(column.lower(), column)
            expression = f"r.{self.quote(name)}"
            if name in kinds:
                expression = self.iso_utc_sql(expression, kinds[name])
            selected.append(f"{expression} as {self.quote(column)}")
        key_column = actual.get(mapping.primary_key.lower(), mapping.primary_key)
        key_text = f"cast(r.{self.quote(key_column)}"
        key_text += f" as {self.key_text_type})"
        p = self.param
        # acknowledged since the last capture counts as the state already
        acked = f"(select max(change_version) from {acks} as l where l.record_key = {key_text}"
        live = f"exists (select 1 from {acks} as l where l.record_key = {key_text} "
        live += "and l.operation <> 'deleted')"
        sql = (
            "select coalesce(p.__sp_seq, 0), coalesce(p.__sp_op, case when s.row_hash is null "
            f"and not {live} then 'added' else 'updated' end), "
            f"{key_text}, coalesce(p.__sp_hash, s.row_hash), "
            "coalesce(p.__sp_version, greatest(coalesce(s.change_version, 0), "
            f"coalesce({acked}), 0)) + 1), "
            f"{', '.join(selected)}, p.__sp_seq is not null as __sp_pending "
            f"from {relation} as r left join {pending} as p on p.__sp_key = {key_text} "
            f"and not exists (select 1 from {acks} as a where a.record_key = p.__sp_key "
            "and a.change_version = p.__sp_version) "
            f"left join {state} as s on s.record_key = {key_text} where {key_text} = {p}"
        )
        rows = self.query(sql, (key,))
        if rows:
            names = [*INTERNAL_COLUMNS, *mapping.columns, "__sp_pending"]
            return PendingStream(names, iter([rows]))
        internal = _INTERNAL_COLUMNS
        mapped = ", ".join(f"p.{self.quote(c)}" for c in mapping.columns)
        rows = self.query(
            f"select {internal}, {mapped}, true {self._unacknowledged(mapping)} "
            f"and p.__sp_key = {p}",
            (key,),
        )
        return PendingStream([*INTERNAL_COLUMNS, *mapping.columns, "__sp_pending"], iter([rows]))

    # writing ---------------------------------------------------------------------------
    @contextmanager
    def column_source(
        self, cur: Any, columns: dict[str, tuple[str, Sequence[Any]]]
    ) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """Python columns (name -> SQL type, values) as a relation of this transaction: SQL to
        select from, and the parameters it binds. Here one list per column, unnested by the
        warehouse: no statement to parse per row, no value spliced into SQL."""
        p = self.param
        selected = ", ".join(
            f"unnest({p}::{kind}[]) as {name}" for name, (kind, _) in columns.items()
        )
        yield f"(select {selected})", tuple(values for _, values in columns.values())

    def append_columns(
        self, cur: Any, table: str, columns: dict[str, tuple[str, Sequence[Any]]]
    ) -> None:
        """Python columns (name -> SQL type, values, none of them NULL) appended to `table`,
        in the caller's transaction."""
        with self.column_source(cur, columns) as (source, params):
            names = ", ".join(columns)
            cur.execute(f"insert into {table} ({names}) select {names} from {source} as c", params)

    def acknowledge(self, mapping: Mapping, acks: Acks) -> None:
        """Record what Segment acknowledged, as the batches carried it, in one transaction."""
        if not acks.keys:
            return
        table = self.mapping_table(mapping, "acks")
        keys, hashes, operations, versions = acks
        columns = {
            "record_key": ("text", keys),
            "row_hash": ("text", hashes),
            "operation": ("text", operations),
            "change_version": ("bigint", versions),
        }
        acked_at = datetime.now(timezone.utc).replace(tzinfo=None)  # UTC, as the runs table
        self.with_memory(lambda: self._insert_acks(table, columns, acked_at))

    def _insert_acks(
        self, table: str, columns: dict[str, tuple[str, Sequence[Any]]], acked_at: datetime
    ) -> None:
        with self.transaction() as cur, self.column_source(cur, columns) as (source, params):
            cur.execute(
                f"insert into {table} (record_key, row_hash, operation, change_version, "
                f"acked_at) select record_key, row_hash, operation, change_version, {self.param} "
                f"from {source} as a",
                # in the order of their placeholders: acked_at's comes before the source's
                (acked_at, *params),
            )

    def record_attempts(self, mapping: Mapping) -> None:
        """Before sending: this sync sets out to send the pending changes. The next capture
        takes those it finds no acknowledgement for as in doubt, and sends their key's current
        value again (macros/state/record_doubts.sql)."""
        self.execute(
            f"update {self.table('segment_captures')} set attempted = true "
            f"where mapping_name = {self.param}",
            (mapping.name,),
        )

    def allow_mass_delete(self, mapping: Mapping) -> None:
        """The user confirmed a blocked capture: its deletes go out, the next capture applies
        the rest."""
        self.execute(
            f"update {self.table('segment_captures')} set allow_mass_delete = true, "
            f"blocked_reason = null where mapping_name = {self.param}",
            (mapping.name,),
        )

    def delete_mapping_rows(self, cur: Any, table: str, mapping_name: str) -> None:
        """Remove a mapping's rows from a shared bookkeeping table (prune, rename), inside the
        caller's transaction."""
        cur.execute(
            f"delete from {self.table(table)} where mapping_name = {self.param}", (mapping_name,)
        )

    def rename_mapping_rows(self, cur: Any, table: str, old: str, new: str) -> None:
        """Move a mapping's rows in a shared bookkeeping table onto a new name."""
        cur.execute(
            f"update {self.table(table)} set mapping_name = {self.param} "
            f"where mapping_name = {self.param}",
            (new, old),
        )

    # locks -------------------------------------------------------------------------------
    def lock_mappings(self, mappings: Sequence[Mapping], wait_seconds: float) -> None:
        """Take each mapping's lock (shared with capture) or raise MappingsLocked."""

    def unlock_mappings(self) -> None:
        """Release every lock lock_mappings took."""

    def has_history(self) -> bool:
        return self.table_exists("segment_runs") and self.table_exists("segment_mappings")

    def stored_fingerprint(self, mapping: Mapping) -> str | None:
        rows = self.query(
            f"select fingerprint from {self.table('segment_mappings')} "
            f"where mapping_name = {self.param}",
            (mapping.name,),
        )
        return rows[0][0] if rows else None

    def store_fingerprint(self, mapping: Mapping, fingerprint: str, definition: str) -> None:
        p = self.param
        with self.transaction() as cur:
            cur.execute(
                f"delete from {self.table('segment_mappings')} where mapping_name = {p}",
                (mapping.name,),
            )
            cur.execute(
                f"insert into {self.table('segment_mappings')} "
                f"(mapping_name, fingerprint, definition, updated_at) "
                f"values ({p}, {p}, {p}, current_timestamp)",
                (mapping.name, fingerprint, definition),
            )

    def record_run(self, run: RunRecord) -> None:
        marks = ", ".join([self.param] * len(RUN_COLUMNS))
        columns = ", ".join(RUN_COLUMNS)
        self.execute(
            f"insert into {self.table('segment_runs')} ({columns}) values ({marks})",
            [utc_naive(getattr(run, c)) for c in RUN_COLUMNS],
        )

    def record_issues(
        self, mapping: Mapping, issues: Sequence[IssueRow], all_new: bool = False
    ) -> None:
        """One row per (mapping, key, operation): reason and last_seen move, attempts grow.
        Set-based (a few statements per call, see state/issues.py), not a query per issue;
        `all_new`: none of them is recorded yet (one insert)."""
        self.with_memory(lambda: record_issues(self, mapping.name, issues, all_new))

    def before_issue_merge(self, cur: Any) -> None:
        """Settings for the rest of a merge's transaction (state/issues.py), before its update
        and insert join the staged issues with the mapping's recorded ones."""

    def analyze_issues(self, cur: Any) -> None:
        """Before a sync's first merge that joins the mapping's recorded issues (IssueStage):
        statistics for the planner, where it keeps them and they may predate the issues a sync
        before this one inserted."""

    def with_memory(self, work: Callable[[], T]) -> T:
        """Run `work` (a transaction of its own, or a stream's first fetch); a warehouse that
        caps its own memory raises the cap and runs it again when it runs out."""
        return work()

    def issue_stage(self, mapping: Mapping, all_new: bool = False) -> IssueStage:
        """Where the issue recorder gathers a sync's issues, merged every
        `issue_merge_rows` (state/issues.py)."""
        return IssueStage(self, mapping.name, all_new)

    def has_recorded_issues(self, mapping: Mapping) -> bool:
        rows = self.query(
            f"select 1 from {self.table('segment_record_issues')} "
            f"where mapping_name = {self.param} limit 1",
            (mapping.name,),
        )
        return bool(rows)

    def clear_resolved_issues(
        self, mapping: Mapping, recorded_since: datetime | None = None
    ) -> None:
        """Forget issues of rows that are no longer pending (acknowledged since, or gone).

        `recorded_since`: when the sync calling began. The issues it recorded (last_seen
        since then) are of rows it found pending and did not get acknowledged, so only the
        others are looked up: where every row was rejected again, the delete's anti join
        probed 1,000,000 issues for nothing (1.4-1.8 s on Postgres, 0.2-0.35 s without).
        A later last_seen can only keep an issue, never delete one."""
        where, params = f"i.mapping_name = {self.param}", [mapping.name]
        if recorded_since is not None:
            where += f" and i.last_seen < {self.param}"
            params.append(utc_naive(recorded_since))
        self.execute(
            f"delete from {self.table('segment_record_issues')} as i "
            f"where {where} and {self._resolved(mapping, 'i.record_key')}",
            tuple(params),
        )

    def _resolved(self, mapping: Mapping, key: str) -> str:
        """True where the record `key` names is no longer pending. An anti join, not a
        `not in` list: Postgres hashes such a list only while it fits in work_mem (probing all
        of it for each row past that), Spark runs it as a nested loop once it is too large to
        broadcast."""
        return f"not exists (select 1 {self._unacknowledged(mapping)} and p.__sp_key = {key})"
