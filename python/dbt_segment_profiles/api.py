"""The one path for every verb: the CLI and orchestrators (Airflow, Dagster) both call it.

Every function raises `SegmentProfilesError` (exit code 2 on the CLI) for what a user must fix:
`ConfigError` carries the list of problems; nothing has been sent when either is raised.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .context import Context, blocked_mappings, check, load_context, require_valid
from .delivery.public_api import LookupInterrupted, write_keys
from .errors import ConfigError, ConfigProblem, SegmentProfilesError
from .logs import LOGGER
from .mappings import Mapping
from .preview import MappingPlan, plan_mappings
from .project import dbt_flags
from .results import write_results
from .selection import select_mappings
from .spaces import SpaceListing, spaces_context
from .sync_engine import Progress, SyncOptions, SyncResult, sync_mappings
from .version_check import warn_on_version_mismatch
from .warehouse import MASS_DELETE, MappingsLocked

Vars = str | dict[str, Any] | None


@dataclass
class Selection:
    """What to work on, in dbt's selection syntax plus mapping names."""

    select: Sequence[str] | None = None
    exclude: Sequence[str] | None = None
    selector: str | None = None


@contextlib.contextmanager
def opened(
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: Vars = None,
    wait_seconds: float = 0.0,
) -> Iterator[Context]:
    """The project, its settings and mappings, and (opened on first use) its warehouse."""
    ctx = load_context(project_dir, profiles_dir, target, vars)
    ctx.lock_wait_seconds = wait_seconds
    warn_on_version_mismatch(ctx.project.project_dir, LOGGER)
    try:
        yield ctx
    finally:
        ctx.close()


def selected(ctx: Context, selection: Selection, cli_vars: Vars = None) -> list[Mapping]:
    mappings = select_mappings(
        ctx.project,
        ctx.mappings,
        selection.select,
        selection.exclude,
        selection.selector,
        cli_vars if isinstance(cli_vars, str) else None,
    )
    if not mappings and not ctx.problems:
        raise SegmentProfilesError(
            "no mappings selected",
            hint="declare mappings under config.meta.segment in schema.yml, or check --select",
        )
    return mappings


# validate --------------------------------------------------------------------------------------
def validate_context(ctx: Context, mappings: list[Mapping]) -> list[ConfigProblem]:
    """Every problem sync would refuse: the config first, then each mapping's state."""
    problems = check(ctx, mappings)
    if problems:
        return problems
    by_name = {m.name: m for m in mappings}
    return [
        ConfigProblem(by_name[name].model_name, name, "state", reason)
        for name, reason in blocked_mappings(ctx, mappings).items()
    ]


def validate(
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: Vars = None,
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    selector: str | None = None,
) -> list[ConfigProblem]:
    """The problems `sync` would refuse; an empty list when every selected mapping is ready."""
    with opened(project_dir, profiles_dir, target, vars) as ctx:
        return validate_context(ctx, selected(ctx, Selection(select, exclude, selector), vars))


# plan ----------------------------------------------------------------------------------------
def plan_context(
    ctx: Context, mappings: list[Mapping], samples: int = 3, key: str | None = None
) -> list[MappingPlan]:
    """With `key` (and one mapping): that record's message too, whether or not it is pending."""
    from .preview import plan_record

    require_valid(ctx, mappings, write_keys=False)
    plans = plan_mappings(ctx.warehouse, mappings, samples, blocked_mappings(ctx, mappings))
    if key is not None:
        if len(mappings) != 1:
            raise SegmentProfilesError(
                f"--key needs one mapping; {len(mappings)} are selected",
                hint="name it: `dbt-segment plan MAPPING --key K`",
            )
        plan_record(ctx.warehouse, plans[0], mappings[0], key)
    return plans


def plan(
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: Vars = None,
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    samples: int = 3,
    selector: str | None = None,
    mapping: str | None = None,
    key: str | None = None,
) -> list[MappingPlan]:
    """Segment's "Test Mapping": per mapping, the pending counts by operation and up to
    `samples` messages exactly as sync would send them (or their rejection reasons), and why a
    mapping is blocked, if it is. Sends nothing and changes no state.

    With `mapping` and `key`, that record's exact message (or its rejection) is in the plan's
    `record`, whether or not it is pending ("Test Mapping" for one record).

    Raises ConfigError (with `.problems`) when the config is wrong, SegmentProfilesError when
    the project cannot be read or nothing is selected.
    """
    with opened(project_dir, profiles_dir, target, vars) as ctx:
        mappings = selected(
            ctx, Selection(select or ([mapping] if mapping else None), exclude, selector), vars
        )
        if mapping is not None:
            mappings = [m for m in mappings if m.name == mapping]
        return plan_context(ctx, mappings, samples, key)


# sync ----------------------------------------------------------------------------------------
def sync_context(
    ctx: Context,
    mappings: list[Mapping],
    options: SyncOptions,
    allow_mass_delete: bool = False,
    args: list[str] | None = None,
) -> SyncResult:
    """Check, lock, send what is not blocked, record. The results file is written whatever
    happens, a refusal before sending included (then the error is raised again)."""
    try:
        require_valid(ctx, mappings)
        # before the locks, and before anything is sent: a wrong token or source name stops
        # the sync here, whichever profile space it concerns
        spaces = {m.profile_space for m in mappings}
        options.write_keys = write_keys(
            [s for name, s in ctx.settings.profile_spaces.items() if name in spaces],
            stop=options.stop,
        )
        warehouse = ctx.warehouse
        try:
            warehouse.lock_mappings(mappings, ctx.lock_wait_seconds)
        except MappingsLocked as locked:
            raise SegmentProfilesError(
                "; ".join(
                    f"mapping {name} is being synced by {who}" for name, who in locked.holders
                ),
                hint="nothing was sent: wait for it to end, or pass --wait SECONDS",
            ) from None
    except LookupInterrupted:
        now = datetime.now(timezone.utc)
        stopped = SyncResult(run_id="", started_at=now, ended_at=now, interrupted=True)
        write_results(ctx.project.target_path, stopped, args)
        return stopped
    except SegmentProfilesError as error:
        now = datetime.now(timezone.utc)
        refused = SyncResult(run_id="", started_at=now, ended_at=now, error=str(error))
        write_results(ctx.project.target_path, refused, args)
        raise
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
    write_results(ctx.project.target_path, result, args)
    return result


def sync(
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: Vars = None,
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    wait_seconds: float = 0.0,
    allow_mass_delete: bool = False,
    selector: str | None = None,
) -> SyncResult:
    """Send the pending changes of the selected mappings.

    The result carries per-mapping counts (`result.mappings`), `exit_code` (0; 1 when rows were
    rejected or failed and stay pending; 2 when a mapping was blocked; 130 when `stop` was set)
    and `duration_seconds`; it is also written to target/segment_sync_results.json. Raises
    ConfigError before sending when the config is wrong, SegmentProfilesError when another
    process holds a selected mapping for longer than `wait_seconds`.
    """
    with opened(project_dir, profiles_dir, target, vars, wait_seconds) as ctx:
        mappings = selected(ctx, Selection(select, exclude, selector), vars)
        options = SyncOptions(stop=stop or threading.Event(), progress=progress)
        return sync_context(ctx, mappings, options, allow_mass_delete)


# spaces --------------------------------------------------------------------------------------
def spaces(
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: Vars = None,
    all_sources: bool = False,
) -> list[SpaceListing]:
    """Segment's Profile Space dropdown: per profile space configured with a Public API token,
    the Profile Spaces' sources the token can see (name, slug; never a key), and whether its
    `source` names exactly one of them (`problem` says why not)."""
    with opened(project_dir, profiles_dir, target, vars) as ctx:
        return spaces_context(ctx, all_sources)


# report --------------------------------------------------------------------------------------
def report(
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: Vars = None,
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    runs_per_mapping: int = 50,
    selector: str | None = None,
) -> Path:
    """Write target/segment_report.html from the bookkeeping tables; the page's path."""
    from .reporting.html_report import write_report

    with opened(project_dir, profiles_dir, target, vars) as ctx:
        mappings = selected(ctx, Selection(select, exclude, selector), vars)
        return write_report(ctx, mappings, runs_per_mapping)


# run -----------------------------------------------------------------------------------------
@dataclass
class DbtRun:
    """What `dbt run` did: its exit code and the models it built."""

    exit_code: int
    built: set[str] = field(default_factory=set)
    error: str | None = None


@dataclass
class RunResult:
    """`dbt run`, then a sync of the mappings of the models it built."""

    dbt: DbtRun
    sync: SyncResult | None

    @property
    def exit_code(self) -> int:
        """dbt's code when dbt failed; else the sync's."""
        if self.dbt.exit_code != 0:
            return self.dbt.exit_code
        return self.sync.exit_code if self.sync is not None else 0


def dbt_run(
    dbt_args: Sequence[str],
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: str | None = None,
    dbt_output_to_stderr: bool = False,
) -> DbtRun:
    """`dbt run [dbt_args]` in this process."""
    from dbt.cli.main import dbtRunner

    argv = ["run", *dbt_args]
    for flag, value in (
        ("--project-dir", project_dir),
        ("--profiles-dir", profiles_dir),
        ("--target", target),
        ("--vars", vars),
    ):
        if value:
            argv += [flag, value]
    redirect = contextlib.redirect_stdout(sys.stderr) if dbt_output_to_stderr else None
    with redirect or contextlib.nullcontext():
        outcome = dbtRunner().invoke(argv)
    results = getattr(outcome.result, "results", None) or []
    built = {r.node.unique_id for r in results if str(r.status) == "success"}
    if outcome.success:
        return DbtRun(0, built)
    # dbt's own codes: 1 when nodes failed, 2 when dbt itself could not run
    code = 1 if results else 2
    return DbtRun(code, built, str(outcome.exception or "dbt run failed: see its output"))


def run(
    dbt_args: Sequence[str] = (),
    project_dir: str | None = None,
    profiles_dir: str | None = None,
    target: str | None = None,
    vars: str | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    wait_seconds: float = 0.0,
    allow_mass_delete: bool = False,
) -> RunResult:
    """`dbt run [dbt_args]`, then sync the mappings of the models it built, even when other
    models failed (their changes wait for the next run). `exit_code` is dbt's when it failed."""
    outcome = dbt_run(dbt_args, project_dir, profiles_dir, target, vars)
    return sync_built(
        outcome,
        project_dir,
        profiles_dir,
        target,
        vars,
        SyncOptions(stop=stop or threading.Event(), progress=progress),
        wait_seconds,
        allow_mass_delete,
    )


def sync_built(
    outcome: DbtRun,
    project_dir: str | None,
    profiles_dir: str | None,
    target: str | None,
    vars: str | None,
    options: SyncOptions,
    wait_seconds: float = 0.0,
    allow_mass_delete: bool = False,
    args: list[str] | None = None,
) -> RunResult:
    if not outcome.built:
        LOGGER.info("no mapped model was built: nothing to sync")
        return RunResult(outcome, None)
    with opened(project_dir, profiles_dir, target, vars, wait_seconds) as ctx:
        mappings = [m for m in ctx.mappings if m.model_id in outcome.built]
        if not mappings:
            LOGGER.info("no mapped model was built: nothing to sync")
            return RunResult(outcome, None)
        if outcome.exit_code:
            LOGGER.warning(
                "dbt run failed (exit %s); syncing the %s mapped model(s) it built",
                outcome.exit_code,
                len({m.model_id for m in mappings}),
            )
        return RunResult(outcome, sync_context(ctx, mappings, options, allow_mass_delete, args))


__all__ = [
    "ConfigError",
    "DbtRun",
    "RunResult",
    "SegmentProfilesError",
    "Selection",
    "SpaceListing",
    "dbt_flags",
    "opened",
    "plan",
    "report",
    "run",
    "selected",
    "spaces",
    "sync",
    "validate",
]
