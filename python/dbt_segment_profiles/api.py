"""The Python API for orchestrators (Airflow, Dagster): the CLI's verbs as functions."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .context import Context, blocked_mappings, load_context, require_valid, select_mappings
from .errors import SegmentProfilesError
from .mappings import Mapping
from .preview import MappingPlan, plan_mappings
from .results import write_results
from .sync_engine import Progress, SyncOptions, SyncResult, sync_mappings
from .warehouse import MASS_DELETE, MappingsLocked


def _selected(ctx: Context, select: list[str] | None, exclude: list[str] | None) -> list[Mapping]:
    mappings = select_mappings(ctx.mappings, select, exclude)
    if not mappings and not ctx.problems:
        raise SegmentProfilesError("no mappings selected")
    return mappings


def sync(
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: str | dict[str, Any] | None = None,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    wait_seconds: float = 0.0,
    allow_mass_delete: bool = False,
) -> SyncResult:
    """Send the pending changes of the selected mappings; raises ConfigError before sending.

    The result carries per-mapping counts (`result.mappings`), `exit_code` (0, 1, 2 when a
    mapping was blocked, or 130) and `duration_seconds`; it is also written to
    target/segment_sync_results.json. Raises SegmentProfilesError when another process holds a
    selected mapping for longer than `wait_seconds`.
    """
    ctx = load_context(project_dir, profiles_dir, target, vars)
    ctx.lock_wait_seconds = wait_seconds
    try:
        mappings = _selected(ctx, select, exclude)
        options = SyncOptions(stop=stop or threading.Event(), progress=progress)
        return sync_context(ctx, mappings, options, allow_mass_delete)
    finally:
        ctx.close()


def sync_context(
    ctx: Context, mappings: list[Mapping], options: SyncOptions, allow_mass_delete: bool = False
) -> SyncResult:
    """The one sync path (the CLI's too): check, lock, send what is not blocked, record."""
    require_valid(ctx, mappings)
    warehouse = ctx.warehouse
    try:
        warehouse.lock_mappings(mappings, ctx.lock_wait_seconds)
    except MappingsLocked as locked:
        raise SegmentProfilesError(
            "; ".join(f"mapping {name} is being synced by {who}" for name, who in locked.holders),
            hint="nothing was sent: wait for it to end, or pass --wait SECONDS",
        ) from None
    try:
        # read under the lock: a capture that just ended has recorded what it decided
        blocked = blocked_mappings(ctx, mappings)
        if allow_mass_delete:
            for mapping in mappings:
                captured = warehouse.capture_status(mapping)
                if captured is not None and (captured.blocked_reason or "").startswith(
                    MASS_DELETE
                ):
                    warehouse.allow_mass_delete(mapping)
                    del blocked[mapping.name]
        options.blocked = blocked
        result = sync_mappings(warehouse, mappings, ctx.settings.profile_spaces, options)
    finally:
        warehouse.unlock_mappings()
    write_results(ctx.project.target_path, result)
    return result


def plan(
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: str | dict[str, Any] | None = None,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
    samples: int = 3,
) -> list[MappingPlan]:
    """Pending counts and sample messages per mapping, exactly as sync would send them."""
    ctx = load_context(project_dir, profiles_dir, target, vars)
    try:
        mappings = _selected(ctx, select, exclude)
        require_valid(ctx, mappings, write_keys=False)
        return plan_mappings(ctx.warehouse, mappings, samples, blocked_mappings(ctx, mappings))
    finally:
        ctx.close()


def report(
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: str | dict[str, Any] | None = None,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
    runs_per_mapping: int = 50,
) -> Path:
    """Write target/segment_report.html from the bookkeeping tables; the page's path."""
    from .reporting.html_report import write_report

    ctx = load_context(project_dir, profiles_dir, target, vars)
    try:
        return write_report(ctx, _selected(ctx, select, exclude), runs_per_mapping)
    finally:
        ctx.close()
