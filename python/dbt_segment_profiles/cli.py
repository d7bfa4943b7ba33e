"""`dbt-segment`: validate, plan, sync, status, reset and sandbox, with dbt's own flags."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from . import __version__
from .context import Context, check, load_context, require_valid, select_mappings
from .errors import ConfigError, SegmentProfilesError
from .report import Reporter
from .sync import SyncOptions, sync_mappings

EXIT_OK, EXIT_ROWS_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_project_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project-dir", help="the dbt project (default: $DBT_PROJECT_DIR or .)")
    parser.add_argument("--profiles-dir", help="where profiles.yml is (as dbt resolves it)")
    parser.add_argument("--target", "-t", help="the dbt target (default: the profile's target)")
    parser.add_argument("--vars", help="YAML mapping of vars, as `dbt run --vars`")
    parser.add_argument(
        "--select", "-s", action="append", help="mapping names, model names or tag:NAME"
    )
    parser.add_argument("--exclude", action="append", help="mappings to leave out")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--quiet", "-q", action="store_true", help="only errors and the summary")


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

    from .sandbox import add_sandbox_arguments

    sandbox = commands.add_parser("sandbox", help="a local Segment-compatible receiver")
    add_sandbox_arguments(sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sandbox":
        from .sandbox import sandbox_command

        return sandbox_command(args)
    reporter = Reporter(json_output=args.json, quiet=args.quiet)
    try:
        ctx = load_context(args.project_dir, args.profiles_dir, args.target, args.vars)
    except SegmentProfilesError as exc:
        reporter.error(str(exc))
        return EXIT_CONFIG
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
    if problems:
        raise ConfigError(problems)
    reporter.validated(mappings)
    return EXIT_OK


def cmd_plan(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    from .plan import plan_mappings

    mappings = _selected(ctx, args)
    require_valid(ctx, mappings, write_keys=False)
    reporter.plan(plan_mappings(ctx.warehouse, mappings, args.samples))
    return EXIT_OK


def cmd_sync(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    mappings = _selected(ctx, args)
    require_valid(ctx, mappings)
    stop = threading.Event()
    options = SyncOptions(stop=stop, progress=reporter.progress)
    previous = _install_stop_handlers(stop)
    try:
        result = sync_mappings(ctx.warehouse, mappings, ctx.settings.profile_spaces, options)
    finally:
        _restore_handlers(previous)
    reporter.sync_result(result)
    _write_results(ctx, result)
    return result.exit_code


def cmd_status(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    from .status import last_runs

    mappings = _selected(ctx, args)
    reporter.status(last_runs(ctx.warehouse, mappings, args.limit))
    return EXIT_OK


def cmd_reset(ctx: Context, args: argparse.Namespace, reporter: Reporter) -> int:
    from .reset import reset_mapping

    mapping = next((m for m in ctx.mappings if m.name == args.mapping), None)
    if mapping is None:
        known = ", ".join(sorted(m.name for m in ctx.mappings)) or "none"
        raise SegmentProfilesError(f"no mapping named {args.mapping!r}", hint=f"mappings: {known}")
    pending = reset_mapping(ctx, mapping, rebaseline=args.rebaseline, cli_vars=args.vars)
    reporter.reset(mapping, args.rebaseline, pending)
    return EXIT_OK


COMMANDS = {
    "reset": cmd_reset,
    "validate": cmd_validate,
    "plan": cmd_plan,
    "sync": cmd_sync,
    "status": cmd_status,
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


def _write_results(ctx: Context, result: Any) -> None:
    from .results import results_document

    path = ctx.project.target_path / "segment_sync_results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_document(result), indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
