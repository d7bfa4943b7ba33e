"""Rejected and failed rows, recorded in bulk: a handful of set-based statements per merge.

`segment_record_issues` holds one row per (mapping, key, operation). Issues travel as keys with
the number of their issue, joined in SQL to the few distinct (operation, kind, reason) they
share. No value is ever spliced into SQL: the keys go in bulk (NumPy arrays DuckDB scans; on
Postgres COPY into the stage, array literals for a single call), the reasons as one list per
column the warehouse unnests. A merge resolves them into a temporary table; one update moves
the rows that exist (reason, kind, last_seen, attempts + 1) and one insert adds the others.

Each merge costs its own size plus one pass over the mapping's recorded issues, never a
statement per issue. A sync hands its issues over 10,000 or so at a time, and the recorder
gathers them in the warehouse (IssueStage) up to the warehouse's `issue_merge_rows`: on DuckDB
an update of 10,000 keys scattered over 1,000,000 issues costs nearly what one of 120,000 does,
but past a few hundred thousand one update gets slower per row again (250,000: 3.7 s for
1,000,000 rows, against 1.3 s in merges of 100,000). When every issue is new there is no such
pass, and the recorder gathers up to `issue_insert_rows` for each insert. On Postgres each pass
costs about as much whatever the merge's size (a scan and a hash probe of the whole table), and
each merge there gathers twice the rows of the one before (`issue_merge_growth`).

The rows a lane's SQL rejects never reach the runner: `record_selected_issues` records them
from a query, in the same update and insert, before the sync reads the other rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from functools import partial
from operator import itemgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..warehouse.base import IssueRow, Warehouse

# a sync's issues as they arrive (IssueStage), and with their reasons, merging
STAGE = "segment_record_issues_stage"
RESOLVED = "segment_record_issues_resolved"
# the issues a query selected, numbered in its order (record_selected_issues)
SELECTED = "segment_record_issues_selected"


def latest_per_key(issues: Iterable[IssueRow]) -> list[IssueRow]:
    """One issue per (key, operation), the last one given: a call is one attempt per row."""
    # a later issue of the same (key, operation) replaces the earlier one, as in a loop
    return list({(issue[0], issue[1]): issue for issue in issues}.values())


def record_issues(
    warehouse: Warehouse,
    mapping_name: str,
    issues: Iterable[IssueRow],
    all_new: bool = False,
) -> None:
    """Insert new (key, operation) rows with attempts 1; move reason, kind, last_seen and
    attempts + 1 of the rows already there. One transaction. `all_new`: the caller knows none
    of them is recorded yet (a sync of a mapping that had no issues records each row at most
    once): one insert, without the pass over the mapping's issues."""
    numbered = _Numbered()
    keys, key_numbers = numbered.add(issues)
    if not keys:
        return
    key_columns = {"record_key": ("text", keys), "issue": ("int", key_numbers)}
    with warehouse.transaction() as cur, warehouse.column_source(cur, key_columns) as keyed:
        _merge(cur, warehouse, mapping_name, keyed, numbered, len(keys), all_new)


class IssueStage:
    """A sync's issues gathered on a connection of their own, in a temporary table of keys
    and issue numbers, and merged into `segment_record_issues` once `merge_rows` have
    gathered (and at `close`). Each merge costs one pass over the mapping's recorded issues,
    so bigger merges mean fewer passes; the rows wait in the warehouse, not in Python.

    Each row has at most one issue a sync, so the calls of one merge name distinct
    (key, operation): each call keeps the last of its own."""

    def __init__(self, warehouse: Warehouse, mapping_name: str, all_new: bool) -> None:
        self.warehouse = warehouse
        self.mapping_name = mapping_name
        self.all_new = all_new
        self.merge_rows = (all_new and warehouse.issue_insert_rows) or warehouse.issue_merge_rows
        self.numbered = _Numbered()
        self.staged = 0
        self.created = False
        self.merged = False

    def add(self, issues: Iterable[IssueRow]) -> None:
        keys, key_numbers = self.numbered.add(issues)
        if not keys:
            return
        warehouse = self.warehouse
        key_columns = {"record_key": ("text", keys), "issue": ("int", key_numbers)}
        with warehouse.side_transaction() as cur:
            if not self.created:
                # left by a merge that failed on this connection, for another mapping
                cur.execute(f"drop table if exists {STAGE}")
                cur.execute(f"create temporary table {STAGE} (record_key text, issue integer)")
                self.created = True
            warehouse.append_columns(cur, STAGE, key_columns)
        self.staged += len(keys)
        if self.staged >= self.merge_rows:
            self.merge()

    def merge(self) -> None:
        """Everything staged into the mapping's issues, in one transaction (run again under a
        raised cap where the warehouse ran out of memory: the stage is still there)."""
        if not self.staged:
            return
        self.warehouse.with_memory(self._merge_once)
        self.numbered = _Numbered()
        self.staged = 0
        if not self.all_new:
            self.merge_rows *= self.warehouse.issue_merge_growth

    def _merge_once(self) -> None:
        if not (self.merged or self.all_new):
            # a transaction of its own: the analyze's lock, held to the merge's commit, would
            # hold up another sync's first merge for as long
            with self.warehouse.side_transaction() as cur:
                self.warehouse.analyze_issues(cur)
        with self.warehouse.side_transaction() as cur:
            _merge(
                cur,
                self.warehouse,
                self.mapping_name,
                (STAGE, ()),
                self.numbered,
                self.staged,
                self.all_new,
            )
            cur.execute(f"delete from {STAGE}")
        self.merged = True

    def close(self) -> None:
        """Merge what is left; the stage is dropped."""
        self.merge()
        if self.created:
            with self.warehouse.side_transaction() as cur:
                cur.execute(f"drop table if exists {STAGE}")
            self.created = False


class _Numbered:
    """Issues as keys and the number of their (operation, kind, reason): a call's issues
    share a handful, so each reason travels once, not once per key. Each step over the rows
    runs in C (map, set): the recorder's thread shares the GIL with the sync's (0.25 s per
    1,000,000 issues, against 0.35 s in a loop)."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[str, str, str], int] = {}

    def add(self, issues: Iterable[IssueRow]) -> tuple[list[str], list[int]]:
        """One issue per (key, operation), the last one given (a call is one attempt per row):
        its key, and its number."""
        rows = list(issues)
        keys = list(map(itemgetter(0), rows))
        if len(set(keys)) < len(keys):
            rows = latest_per_key(rows)
            keys = list(map(itemgetter(0), rows))
        whats = list(map(itemgetter(1, 3, 2), rows))  # operation, kind, reason
        numbers = self.numbers
        for what in set(whats):
            numbers.setdefault(what, len(numbers))
        return keys, list(map(numbers.__getitem__, whats))

    def columns(self) -> tuple[list[int], list[str], list[str], list[str]]:
        """The numbers and their (operation, kind, reason), as four lists."""
        reasons = list(self.numbers)
        return (
            list(range(len(reasons))),
            [what[0] for what in reasons],
            [what[1] for what in reasons],
            # Postgres text cannot hold NUL, and a reason may quote a value or a server's answer
            [what[2].replace("\x00", "") for what in reasons],
        )


def _merge(
    cur: Any,
    warehouse: Warehouse,
    mapping_name: str,
    keyed: tuple[str, tuple[Any, ...]],
    numbered: _Numbered,
    rows: int,
    all_new: bool,
) -> None:
    """The issues of `keyed` (a relation of record_key and issue number, and its parameters)
    into the mapping's issues: one insert when all are new, else an update and an insert."""
    p = warehouse.param
    insert = _insert(warehouse)
    # UTC wall time: current_timestamp would be stored in the session's zone
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    staged = (
        f"select k.record_key, r.operation, r.kind, r.reason from {keyed[0]} as k "
        f"join (select unnest({p}::int[]) as issue, unnest({p}::text[]) as operation, "
        f"unnest({p}::text[]) as kind, unnest({p}::text[]) as reason) as r "
        "on r.issue = k.issue"
    )
    reason_columns = numbered.columns()
    warehouse.before_issue_merge(cur)
    if all_new:
        cur.execute(
            f"{insert}({staged}) as s", (mapping_name, now, now, *keyed[1], *reason_columns)
        )
        return
    # one table for the statements below, so the planner has a single join to choose
    cur.execute(f"create temporary table {RESOLVED} as {staged}", (*keyed[1], *reason_columns))
    # without statistics, Postgres may sort the whole issues table for a merge join
    cur.execute(f"analyze {RESOLVED}")
    _merge_resolved(cur, warehouse, mapping_name, rows, now)
    cur.execute(f"drop table {RESOLVED}")


def _merge_resolved(
    cur: Any,
    warehouse: Warehouse,
    mapping_name: str,
    rows: int,
    now: datetime,
    source: str = RESOLVED,
) -> None:
    """The `rows` issues of `source` (record_key, operation, kind, reason: a table, or a
    parenthesised query) into the mapping's issues: an update of those recorded, an insert of
    the others."""
    table = warehouse.table("segment_record_issues")
    p = warehouse.param
    same_row = (
        f"i.mapping_name = {p} and i.record_key = s.record_key and i.operation = s.operation"
    )
    insert = _insert(warehouse)
    cur.execute(
        f"update {table} as i set reason = s.reason, kind = s.kind, "
        f"last_seen = {p}, attempts = i.attempts + 1 "
        f"from {source} as s where {same_row}",
        (now, mapping_name),
    )
    updated = _changed(cur)
    # the table has one row per (mapping, key, operation), so `updated` counts the staged
    # rows that exist: when none or all do, the insert needs no second pass over the table
    if updated < rows:
        if updated:
            cur.execute(
                f"{insert}{source} as s "
                f"where not exists (select 1 from {table} as i where {same_row})",
                (mapping_name, now, now, mapping_name),
            )
        else:
            cur.execute(f"{insert}{source} as s", (mapping_name, now, now))


def record_selected_issues(
    warehouse: Warehouse,
    mapping_name: str,
    select: str,
    all_new: bool,
    max_reasons: int,
    aside: bool = False,
) -> tuple[int, list[str]]:
    """The issues a query selects (seq, record_key, operation, kind, reason; one per key
    and operation) into the mapping's issues, all in the warehouse: the rows a lane's SQL
    rejects, recorded without a trip through the runner (1,000,000 on Postgres: 8.9-12.3 s
    recorded again, where reading them out alone took 11 s). The number recorded, and the
    first `max_reasons` distinct reasons by seq.

    Recorded again, they are merged `selected_merge_rows` at a time, each slice in a
    transaction of its own (all at once where it is None). `aside`: on the writer thread's
    connection (Warehouse.side_transaction), not the main one."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    transaction = warehouse.side_transaction if aside else warehouse.transaction

    def select_them() -> tuple[int, list[str]]:
        with transaction() as cur:
            cur.execute(f"drop table if exists {SELECTED}")
            cur.execute(
                f"create temporary table {SELECTED} as select row_number() over "
                f"(order by seq) as n, s.* from ({select}) as s"
            )
            # without statistics, Postgres may sort the whole issues table for a merge join
            cur.execute(f"analyze {SELECTED}")
            cur.execute(f"select count(*) from {SELECTED}")
            rows = int(cur.fetchall()[0][0])
            cur.execute(
                f"select reason from {SELECTED} group by reason order by min(seq) "
                f"limit {int(max_reasons)}"
            )
            return rows, [str(row[0]) for row in cur.fetchall()]

    def merge(first: int, last: int) -> None:
        with transaction() as cur:
            warehouse.before_issue_merge(cur)
            source = f"(select * from {SELECTED} where n > {first} and n <= {last})"
            if all_new:
                cur.execute(f"{_insert(warehouse)}{source} as s", (mapping_name, now, now))
            else:
                _merge_resolved(cur, warehouse, mapping_name, last - first, now, source)

    try:
        rows, reasons = warehouse.with_memory(select_them)
        if rows and all_new:
            warehouse.with_memory(partial(merge, 0, rows))
        elif rows:
            # statistics that include the last sync's issues (IssueStage._merge_once)
            with transaction() as cur:
                warehouse.analyze_issues(cur)
            first, size = 0, warehouse.selected_merge_rows or rows
            while first < rows:
                last = min(rows, first + size)
                warehouse.with_memory(partial(merge, first, last))
                first = last
    finally:
        with transaction() as cur:
            cur.execute(f"drop table if exists {SELECTED}")
    return rows, reasons


def _insert(warehouse: Warehouse) -> str:
    """An insert of new issues (mapping, now, now as parameters), a FROM to follow."""
    p = warehouse.param
    return (
        f"insert into {warehouse.table('segment_record_issues')} (mapping_name, record_key, "
        "operation, kind, reason, first_seen, last_seen, attempts) "
        f"select {p}, s.record_key, s.operation, s.kind, s.reason, {p}, {p}, 1 from "
    )


def _changed(cur: Any) -> int:
    """Rows the last update changed: DuckDB answers with a row, psycopg2 with rowcount."""
    if cur.description:
        return int(cur.fetchall()[0][0])
    return int(cur.rowcount)
