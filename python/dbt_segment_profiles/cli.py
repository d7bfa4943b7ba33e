"""`dbt-segment`: validate, plan, sync, status, report, reset, sandbox, with dbt's own flags."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from . import __version__
from .context import (
    Context,
    blocked_mappings,
    check,
    load_context,
    require_valid,
    select_mappings,
)
from .errors import ConfigError, ConfigProblem, SegmentProfilesError
from .report import Reporter
from .sync_engine import SyncOptions
from .version_check import warn_on_version_mismatch

EXIT_OK, EXIT_ROWS_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_project_arguments(parser: argparse.ArgumentParser, selection: bool = True) -> None:
    parser.add_argument("--project-dir", help="the dbt project (default: $DBT_PROJECT_DIR or .)")
    parser.add_argument("--profiles-dir", help="where profiles.yml is (as dbt resolves it)")
    parser.add_argument("--target", "-t", help="the dbt target (default: the profile's target)")
    parser.add_argument("--vars", help="YAML mapping of vars, as `dbt run --vars`")
    if selection:
        parser.add_argument(
            "--select", "-s", action="append", help="mapping names, model names or tag:NAME"
        )
        parser.add_argument("--exclude", action="append", help="mappings to leave out")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--quiet", "-q", action="store_true", help="only errors and the summary")


def _add_sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another sync or `dbt run` holding a mapping (default 0)",
    )
    parser.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="send the captures the mass-delete guard (max_deleted_percent) stopped",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbt-segment",
        description="Send the rows your dbt models changed to Segment Profiles.",
    )
    parser.add_argument("--version", action="version", version=f"dbt-segment {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check every mapping; exit 2 on problems")
    _add_project_arguments(validate)

    plan = commands.add_parser("plan", help="pending counts and sample messages, sending nothing")
    _add_project_arguments(plan)
    plan.add_argument("--samples", type=int, default=3, help="sample messages per mapping")

    sync = commands.add_parser("sync", help="send pending changes to Segment")
    _add_project_arguments(sync)
    _add_sync_arguments(sync)

    status = commands.add_parser("status", help="the last runs per mapping")
    _add_project_arguments(status)
    status.add_argument("--limit", type=int, default=5, help="runs per mapping")

    reset = commands.add_parser("reset", help="send every row again, or take them as synced")
    _add_project_arguments(reset)
    reset.add_argument("mapping", help="the mapping to reset")
    reset.add_argument(
        "--rebaseline",
        action="store_true",
        help="take the current rows as synced: send nothing for them",
    )
    reset.add_argument(
        "--yes",
        action="store_true",
        help="with --rebaseline: mark the pending changes it reports as sent without sending",
    )

    report = commands.add_parser("report", help="target/segment_report.html: the sync history")
    _add_project_arguments(report)
    report.add_argument("--runs", type=int, default=50, help="runs per mapping in the charts")

    rename = commands.add_parser(
        "rename", help="move a renamed mapping's state, history and fingerprint to its new name"
    )
    _add_project_arguments(rename, selection=False)
    rename.add_argument("old", help="the name the mapping had")
    rename.add_argument("new", help="the name it is declared with now")

    prune = commands.add_parser(
        "prune", help="list (and with --yes drop) the bookkeeping of mappings no longer declared"
    )
    _add_project_arguments(prune, selection=False)
    prune.add_argument("--yes", action="store_true", help="drop what it lists")

    run = commands.add_parser(
        "run",
        help="`dbt run [dbt args]`, then sync the mappings of the models that built",
        description="Other arguments (--select, --full-refresh, ...) go to `dbt run` as given.",
    )
    _add_project_arguments(run, selection=False)
    _add_sync_arguments(run)

    from .sandbox import add_sandbox_arguments

    sandbox = commands.add_parser("sandbox", help="a local Segment-compatible receiver")
    add_sandbox_arguments(sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if extra and args.command != "run":
        build_parser().parse_args(argv)  # reports the unknown arguments and exits 2
    if args.command == "sandbox":
        from .sandbox import sandbox_command

        return sandbox_command(args)
    reporter = Reporter(json_output=args.json, quiet=args.quiet)
    built: set[str] | None = None
    if args.command == "run":
        built = _dbt_run(args, extra, reporter)
        if built is None:
            return EXIT_CONFIG
        args.select, args.exclude = None, None
    try:
        ctx = load_context(args.project_dir, args.profiles_dir, args.target, args.vars)
    except SegmentProfilesError as exc:
        reporter.error(str(exc))
        return EXIT_CONFIG
    warn_on_version_mismatch(ctx.project.project_dir, reporter)
    if built is not None:
        ctx.mappings = [m for m in ctx.mappings if m.model_id in built]
        if not ctx.mappings:
            reporter.note("no mapped model was built: nothing to sync")
            ctx.close()
            return EXIT_OK
    try:
        return COMMANDS[args.command](ctx, args, reporter)
    except ConfigError as exc:
        reporter.config_problems(exc.problems, str(exc.hint or ""))
        return EXIT_CONFIG
    except SegmentProfilesError as exc:
        reporter.error(str(exc))
        return EXIT_CONFIG
    finally:
        ctx.close()


def _dbt_run(args: argparse.Namespace, dbt_args: list[str], reporter: Reporter) -> set[str] | None:
    """Run `dbt run` in this process; the unique ids of the models it built, None if it failed."""
    from dbt.cli.main import dbtRunner

    argv = ["run", *dbt_args]
    for flag, value in (
        ("--project-dir", args.project_dir),
        ("--profiles-dir", args.profiles_dir),
        ("--target", args.target),
        ("--vars", args.vars),
    ):
        if value:
            argv += [flag, value]
    if args.json or args.quiet:
        argv.append("--quiet")
    outcome = dbtRunner().invoke(argv)
    results = getattr(outcome.result, "results", None) or []
    built = {r.node.unique_id for r in results if str(r.status) == "success"}
    if not outcome.success and not built:
        reporter.error(f"dbt run failed: {outcome.exception or 'see its output above'}")
        return None
    return built


def _selected(ctx: Context, args: argparse.Namespace) -> list:
    mappings = select_mappings(ctx.mappings, args.select, args.exclude)
    if not mappings and not ctx.problems:
        raise SegmentProfilesError(
            "no mappings selected",
            hint="declare mappings under config.meta.segment in schema.yml, or check --select",
        )
    return mappings


def cmd_validate(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    mappings = _selected(ctx, args)
    problems = check(ctx, mappings)
    if not problems:
        by_name = {m.name: m for m in mappings}
        problems = [
            ConfigProblem(by_name[name].model_name, name, "state", reason)
            for name, reason in blocked_mappings(ctx, mappings).items()
        ]
    if problems:
        raise ConfigError(problems)
    reporter.validated(mappings)
    return EXIT_OK


def cmd_plan(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    from .preview import plan_mappings

    mappings = _selected(ctx, args)
    require_valid(ctx, mappings, write_keys=False)
    blocked = blocked_mappings(ctx, mappings)
    plans = plan_mappings(ctx.warehouse, mappings, args.samples, blocked)
    reporter.plan(plans)
    return EXIT_CONFIG if any(p.blocked for p in plans) else EXIT_OK


def cmd_sync(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    from .api import sync_context

    mappings = _selected(ctx, args)
    ctx.lock_wait_seconds = args.wait
    stop = threading.Event()
    options = SyncOptions(stop=stop, progress=reporter.progress)
    previous = _install_stop_handlers(stop)
    try:
        result = sync_context(ctx, mappings, options, args.allow_mass_delete)
    finally:
        _restore_handlers(previous)
    reporter.sync_result(result)
    return result.exit_code


def cmd_status(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    from .state.orphans import find_orphans
    from .status import last_runs

    mappings = _selected(ctx, args)
    reporter.status(
        last_runs(ctx.warehouse, mappings, args.limit), find_orphans(ctx.warehouse, ctx.mappings)
    )
    return EXIT_OK


def cmd_report(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    from .reporting.html_report import write_report

    reporter.report_written(write_report(ctx, _selected(ctx, args), args.runs))
    return EXIT_OK


def cmd_reset(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    from .reset import reset_mapping

    mapping = next((m for m in ctx.mappings if m.name == args.mapping), None)
    if mapping is None:
        known = ", ".join(sorted(m.name for m in ctx.mappings)) or "none"
        raise SegmentProfilesError(f"no mapping named {args.mapping!r}", hint=f"mappings: {known}")
    if args.rebaseline:
        swallowed = ctx.warehouse.pending_counts(mapping)
        if not args.yes:
            raise SegmentProfilesError(
                f"reset {mapping.name} --rebaseline would mark {sum(swallowed.values())} pending "
                f"change(s) ({_counts_text(swallowed)}) as sent without sending them, and take "
                "every current row as synced",
                hint=f"run `dbt-segment reset {mapping.name} --rebaseline --yes` to do so",
            )
    else:
        swallowed = None
    pending = reset_mapping(ctx, mapping, rebaseline=args.rebaseline, cli_vars=args.vars)
    reporter.reset(mapping, args.rebaseline, pending, swallowed)
    return EXIT_OK


def cmd_rename(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    from .state.orphans import rename

    new = next((m for m in ctx.mappings if m.name == args.new), None)
    if new is None:
        raise SegmentProfilesError(
            f"no mapping named {args.new!r} is declared",
            hint="declare it in schema.yml (and `dbt run`) before moving a state onto it",
        )
    rename(ctx.warehouse, args.old, new, ctx.mappings)
    reporter.renamed(args.old, new.name)
    return EXIT_OK


def cmd_prune(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    from .state.orphans import find_orphans, prune

    orphans = find_orphans(ctx.warehouse, ctx.mappings)
    if args.yes and orphans:
        prune(ctx.warehouse, orphans)
    reporter.pruned(orphans, dropped=args.yes)
    return EXIT_OK


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in counts.items())


COMMANDS = {
    "run": cmd_sync,
    "reset": cmd_reset,
    "rename": cmd_rename,
    "prune": cmd_prune,
    "validate": cmd_validate,
    "plan": cmd_plan,
    "sync": cmd_sync,
    "status": cmd_status,
    "report": cmd_report,
}


def _install_stop_handlers(stop: threading.Event) -> dict[int, Any]:
    """Ctrl-C and SIGTERM stop sending; what was acknowledged is kept."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
