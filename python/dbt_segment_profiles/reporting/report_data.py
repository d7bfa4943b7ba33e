"""What the sync report shows, read from the bookkeeping tables: plain data, no HTML.

Everything comes from the tables the runner and the capture write (`segment_runs`,
`segment_record_issues`, `segment_captures`, `<mapping>__invalid`, and the pending and
acknowledged changes behind `pending_counts`), so the page says what the tables say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from ..mappings import Mapping
from ..warehouse import CaptureStatus, Warehouse

# the reasons a page lists per mapping, the keys it shows per reason, the invalid keys it lists
TOP_REASONS = 5
SAMPLE_KEYS = 5
INVALID_KEY_ROWS = 10


@dataclass(frozen=True)
class RunPoint:
    """One sync of one mapping, as `segment_runs` recorded it."""

    run_id: str
    started_at: datetime | None
    status: str
    sent: int
    acknowledged: int
    rejected: int
    failed: int
    invalid_keys: int


@dataclass(frozen=True)
class ReasonSummary:
    """Rows not acknowledged now for one reason: how many, and a few of their keys."""

    kind: str  # rejected | failed
    reason: str
    rows: int
    sample_keys: tuple[str, ...]


@dataclass(frozen=True)
class InvalidKey:
    """A key the last capture could not send (NULL or duplicated), with its row count."""

    record_key: str | None
    reason: str
    row_count: int


@dataclass(frozen=True)
class LastError:
    """What went wrong last: a capture held now, or the latest run that did not succeed."""

    status: str  # blocked, or a run's status: partial | error | interrupted
    at: datetime | None
    message: str
    run_id: str | None = None
    resolved: bool = False  # a later sync succeeded


@dataclass(frozen=True)
class MappingReport:
    name: str
    model_name: str
    action: str
    profile_space: str
    runs: tuple[RunPoint, ...]  # oldest first
    pending: dict[str, int]
    open_issues: int
    top_reasons: tuple[ReasonSummary, ...]
    invalid_rows: int  # rows of the last capture not sent for their key
    invalid_keys: tuple[InvalidKey, ...]  # the first INVALID_KEY_ROWS of them
    invalid_key_count: int
    last_error: LastError | None


@dataclass(frozen=True)
class SyncReport:
    project_name: str
    target_name: str
    schema: str
    generated_at: datetime
    mappings: tuple[MappingReport, ...]


def gather_report(
    warehouse: Warehouse,
    mappings: list[Mapping],
    project_name: str,
    target_name: str,
    runs_per_mapping: int = 50,
) -> SyncReport:
    """Read what the report shows for each mapping; mappings never synced show empty."""
    has = {
        name: warehouse.table_exists(name)
        for name in ("segment_runs", "segment_record_issues", "segment_captures")
    }
    reports = [
        _mapping_report(warehouse, mapping, has, runs_per_mapping)
        for mapping in sorted(mappings, key=lambda m: m.name)
    ]
    return SyncReport(
        project_name=project_name,
        target_name=target_name,
        schema=warehouse.schema,
        generated_at=datetime.now(timezone.utc),
        mappings=tuple(reports),
    )


def _mapping_report(
    warehouse: Warehouse, mapping: Mapping, has: dict[str, bool], runs_per_mapping: int
) -> MappingReport:
    runs = _runs(warehouse, mapping, runs_per_mapping) if has["segment_runs"] else ()
    reasons, open_issues, latest = (
        _issues(warehouse, mapping) if has["segment_record_issues"] else ((), 0, None)
    )
    captured = warehouse.capture_status(mapping) if has["segment_captures"] else None
    pending = warehouse.pending_counts(mapping) if captured is not None else {}
    invalid = _invalid_keys(warehouse, mapping)
    return MappingReport(
        name=mapping.name,
        model_name=mapping.model_name,
        action=mapping.action,
        profile_space=mapping.profile_space,
        runs=runs,
        pending=pending or {"added": 0, "updated": 0, "deleted": 0},
        open_issues=open_issues,
        top_reasons=reasons,
        invalid_rows=sum(k.row_count for k in invalid),
        invalid_keys=tuple(invalid[:INVALID_KEY_ROWS]),
        invalid_key_count=len(invalid),
        last_error=_last_error(runs, captured, latest),
    )


def _runs(warehouse: Warehouse, mapping: Mapping, limit: int) -> tuple[RunPoint, ...]:
    rows = warehouse.query(
        "select run_id, started_at, status, sent, acknowledged, rejected, failed, invalid_keys "
        f"from {warehouse.table('segment_runs')} where mapping_name = {warehouse.param} "
        f"order by started_at desc, run_id desc limit {max(1, int(limit))}",
        (mapping.name,),
    )
    points = [RunPoint(str(r[0]), r[1], str(r[2]), *(int(n or 0) for n in r[3:])) for r in rows]
    return tuple(reversed(points))


def _issues(
    warehouse: Warehouse, mapping: Mapping
) -> tuple[tuple[ReasonSummary, ...], int, tuple[str, datetime | None] | None]:
    """The top reasons with sample keys, the number of open issues, and the latest reason."""
    table = warehouse.table("segment_record_issues")
    p = warehouse.param
    # a few keys per (kind, reason) and the count of each reason, in one pass over the issues
    rows = warehouse.query(
        "select kind, reason, record_key, n from (select kind, reason, record_key, "
        "count(*) over (partition by kind, reason) as n, row_number() over "
        "(partition by kind, reason order by length(record_key), record_key) as r "
        f"from {table} where mapping_name = {p}) as ranked where r <= {SAMPLE_KEYS}",
        (mapping.name,),
    )
    grouped: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for kind, reason, key, n in rows:
        grouped.setdefault((str(kind), str(reason)), (int(n), []))[1].append(str(key))
    ordered = sorted(grouped.items(), key=lambda item: (-item[1][0], item[0]))
    reasons = tuple(
        ReasonSummary(kind, reason, n, tuple(sorted(keys, key=_key_order)))
        for (kind, reason), (n, keys) in ordered[:TOP_REASONS]
    )
    latest = warehouse.query(
        f"select reason, last_seen from {table} where mapping_name = {p} "
        "order by last_seen desc, reason limit 1",
        (mapping.name,),
    )
    open_issues = sum(n for n, _ in grouped.values())
    return reasons, open_issues, (str(latest[0][0]), latest[0][1]) if latest else None


def _key_order(key: str) -> tuple[int, str]:
    """Shorter keys first: numeric keys read in numeric order (2, 10, 100)."""
    return len(key), key


def _invalid_keys(warehouse: Warehouse, mapping: Mapping) -> list[InvalidKey]:
    if not warehouse.table_exists(f"{mapping.name}__invalid"):
        return []
    return [InvalidKey(key, reason, n) for key, reason, n in warehouse.invalid_keys(mapping)]


def _last_error(
    runs: tuple[RunPoint, ...],
    captured: CaptureStatus | None,
    latest_issue: tuple[str, datetime | None] | None,
) -> LastError | None:
    if captured is not None and captured.blocked_reason:
        return LastError("blocked", captured.captured_at, captured.blocked_reason)
    failing = [run for run in runs if run.status != "success"]
    if not failing:
        return None
    run = failing[-1]
    if run is not runs[-1]:
        message = "a later sync succeeded: what this one left pending was acknowledged since"
        return LastError(run.status, run.started_at, message, run.run_id, resolved=True)
    if latest_issue is not None:
        message = latest_issue[0]
    else:
        message = f"the sync ended {run.status}; its output said why"
    return LastError(run.status, run.started_at, message, run.run_id)
