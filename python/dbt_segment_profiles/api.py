"""The Python API for orchestrators (Airflow, Dagster): the CLI's verbs as functions."""

from __future__ import annotations

import threading
from typing import Any

from .context import Context, load_context, require_valid, select_mappings
from .errors import SegmentProfilesError
from .mappings import Mapping
from .preview import MappingPlan, plan_mappings
from .results import write_results
from .sync_engine import Progress, SyncOptions, SyncResult, sync_mappings


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
) -> SyncResult:
    """Send the pending changes of the selected mappings; raises ConfigError before sending.

    The result carries per-mapping counts (`result.mappings`), `exit_code` (0, 1 or 130) and
    `duration_seconds`; it is also written to target/segment_sync_results.json.
    """
    ctx = load_context(project_dir, profiles_dir, target, vars)
    try:
        mappings = _selected(ctx, select, exclude)
        require_valid(ctx, mappings)
        options = SyncOptions(stop=stop or threading.Event(), progress=progress)
        result = sync_mappings(ctx.warehouse, mappings, ctx.settings.profile_spaces, options)
        write_results(ctx.project.target_path, result)
        return result
    finally:
        ctx.close()


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
        return plan_mappings(ctx.warehouse, mappings, samples)
    finally:
        ctx.close()
