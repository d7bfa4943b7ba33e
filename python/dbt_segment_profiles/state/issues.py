"""Rejected and failed rows, recorded in bulk: a handful of set-based statements per call.

`segment_record_issues` holds one row per (mapping, key, operation). A call stages its issues
in a temporary table with one statement: the keys with the number of their issue, joined to the
few distinct (operation, kind, reason) they share. The values travel as one list per column,
unnested by the warehouse (DuckDB binds the lists natively, psycopg2 sends them as escaped array
literals), so no value is ever spliced into SQL. Then one update moves the rows that exist
(reason, kind, last_seen, attempts + 1) and one insert adds the others.

Each call costs its own size plus one pass over the mapping's recorded issues, never a statement
per issue; callers bound the size of a call (the sync records every 10,000 or so: on DuckDB one
update of many more rows scattered over the table gets much slower per row).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..warehouse.base import RecordIssue, Warehouse

STAGE = "segment_record_issues_stage"


def latest_per_key(issues: Iterable[RecordIssue]) -> list[RecordIssue]:
    """One issue per (key, operation), the last one given: a call is one attempt per row."""
    # a later issue of the same (key, operation) replaces the earlier one, as in a loop
    return list({(issue[0], issue[1]): issue for issue in issues}.values())


def record_issues(
    warehouse: Warehouse,
    mapping_name: str,
    issues: Iterable[RecordIssue],
    all_new: bool = False,
) -> None:
    """Insert new (key, operation) rows with attempts 1; move reason, kind, last_seen and
    attempts + 1 of the rows already there. One transaction. `all_new`: the caller knows none
    of them is recorded yet (a sync of a mapping that had no issues records each row at most
    once): one insert, without the pass over the mapping's issues."""
    rows = latest_per_key(issues)
    if not rows:
        return
    numbers: dict[tuple[str, str, str], int] = {}
    keys, key_numbers = [], []
    for issue in rows:
        # Postgres text cannot hold NUL, and a reason may quote a value or a server's answer
        what = (issue.operation, issue.kind, issue.reason.replace("\x00", ""))
        keys.append(issue.record_key)
        key_numbers.append(numbers.setdefault(what, len(numbers)))
    reasons = list(numbers)

    table = warehouse.table("segment_record_issues")
    p = warehouse.param
    same_row = (
        f"i.mapping_name = {p} and i.record_key = s.record_key and i.operation = s.operation"
    )
    key_columns = {"record_key": ("text", keys), "issue": ("int", key_numbers)}
    reason_columns = (
        list(range(len(reasons))),
        [what[0] for what in reasons],
        [what[1] for what in reasons],
        [what[2] for what in reasons],
    )
    insert = (
        f"insert into {table} (mapping_name, record_key, operation, kind, reason, "
        "first_seen, last_seen, attempts) "
        f"select {p}, s.record_key, s.operation, s.kind, s.reason, {p}, {p}, 1 from "
    )
    # UTC wall time: current_timestamp would be stored in the session's zone
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with warehouse.transaction() as cur, warehouse.column_source(cur, key_columns) as keyed:
        staged = (
            f"select k.record_key, r.operation, r.kind, r.reason from {keyed[0]} as k "
            f"join (select unnest({p}::int[]) as issue, unnest({p}::text[]) as operation, "
            f"unnest({p}::text[]) as kind, unnest({p}::text[]) as reason) as r "
            "on r.issue = k.issue"
        )
        if all_new:
            cur.execute(
                f"{insert}({staged}) as s", (mapping_name, now, now, *keyed[1], *reason_columns)
            )
            return
        # one table for the statements below, so the planner has a single join to choose
        cur.execute(f"create temporary table {STAGE} as {staged}", (*keyed[1], *reason_columns))
        # without statistics, Postgres may sort the whole issues table for a merge join
        cur.execute(f"analyze {STAGE}")
        cur.execute(
            f"update {table} as i set reason = s.reason, kind = s.kind, "
            f"last_seen = {p}, attempts = i.attempts + 1 "
            f"from {STAGE} as s where {same_row}",
            (now, mapping_name),
        )
        updated = _changed(cur)
        # the table has one row per (mapping, key, operation), so `updated` counts the staged
        # rows that exist: when none or all do, the insert needs no second pass over the table
        if updated < len(rows):
            if updated:
                cur.execute(
                    f"{insert}{STAGE} as s "
                    f"where not exists (select 1 from {table} as i where {same_row})",
                    (mapping_name, now, now, mapping_name),
                )
            else:
                cur.execute(f"{insert}{STAGE} as s", (mapping_name, now, now))
        cur.execute(f"drop table {STAGE}")


def _changed(cur: Any) -> int:
    """Rows the last update changed: DuckDB answers with a row, psycopg2 with rowcount."""
    if cur.description:
        return int(cur.fetchall()[0][0])
    return int(cur.rowcount)
