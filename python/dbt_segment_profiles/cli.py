"""`dbt-segment`: click commands over api.py, with dbt's own flags. Flags, signals and output
live here; what a command does lives in api.py."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from . import __version__, api
from .allocator import limit_arenas
from .errors import ConfigError, SegmentProfilesError
from .lazy_compilation import compile_lazily
from .logs import LOGGER, configure
from .report import Reporter
from .schema_cache import install as install_schema_cache
from .sync_engine import SyncOptions, SyncResult

EXIT_OK, EXIT_ROWS_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


# options -----------------------------------------------------------------------------------
class MultiOption(click.Option):
    """An option taking every value up to the next option, as dbt's --select does
    (`-s a b -s c`): dbt's own class would import dbt's whole CLI into every command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("multiple", True)
        super().__init__(*args, **kwargs)

    def add_to_parser(self, parser: Any, ctx: click.Context) -> Any:
        added = super().add_to_parser(parser, ctx)
        prefixes = tuple(parser._opt_prefixes)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:
                continue
            process = option.process

            def take_all(value: str, state: Any, process: Any = process) -> None:
                values = [value]
                while state.rargs and not state.rargs[0].startswith(prefixes):
                    values.append(state.rargs.pop(0))
                for item in values:
                    process(item, state)

            option.process = take_all
        return added


def project_options(command: Callable[..., int]) -> Callable[..., int]:
    """dbt's project flags and the output/logging flags, shared by every project command."""
    for option in reversed(
        [
            click.option("--project-dir", envvar="DBT_PROJECT_DIR", help="the dbt project"),
            click.option("--profiles-dir", help="where profiles.yml is (as dbt resolves it)"),
            click.option("--target", "-t", help="the dbt target (default: the profile's)"),
            click.option("--vars", help="YAML mapping of vars, as `dbt run --vars`"),
            click.option("--json", "json_output", is_flag=True, help="one JSON document"),
            click.option("--quiet", "-q", is_flag=True, help="only errors and the summary"),
            click.option(
                "--log-level",
                type=click.Choice(["debug", "info", "warn", "error", "none"]),
                default="info",
                show_default=True,
                help="what goes to stderr",
            ),
            click.option(
                "--log-format",
                type=click.Choice(["text", "json"]),
                default="text",
                show_default=True,
                help="json: one object per line, like `dbt --log-format json`",
            ),
            click.option(
                "--log-path",
                envvar="DBT_LOG_PATH",
                help="directory of the log file (default: <project>/logs)",
            ),
            click.option("--debug", is_flag=True, help="show the traceback of an error"),
        ]
    ):
        command = option(command)
    return command


def selection_options(command: Callable[..., int]) -> Callable[..., int]:
    for option in reversed(
        [
            click.option(
                "--select",
                "-s",
                cls=MultiOption,
                help="dbt's selection syntax (`+model`, `tag:x`, `path:`...) or mapping names",
            ),
            click.option(
                "--exclude",
                cls=MultiOption,
                help="dbt's selection syntax or mapping names",
            ),
            click.option("--selector", help="a selector from selectors.yml"),
        ]
    ):
        command = option(command)
    return command


def sync_options(command: Callable[..., int]) -> Callable[..., int]:
    command = click.option(
        "--allow-mass-delete",
        is_flag=True,
        help="send the captures the mass-delete guard (max_deleted_percent) held",
    )(command)
    return click.option(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another sync or `dbt run` holding a mapping (default 0)",
    )(command)


# one invocation ------------------------------------------------------------------------------
class Invocation:
    """One command's flags, reporter and error handling: user errors are one line and exit 2,
    `--debug` adds the traceback."""

    def __init__(self, options: dict[str, Any], argv: Sequence[str]):
        self.options = options
        self.argv = list(argv)
        self.reporter = Reporter(json_output=options["json_output"], quiet=options["quiet"])
        self.reporter.structured_logs = options.get("log_format") == "json"

    def project_args(self) -> dict[str, Any]:
        o = self.options
        return {
            "project_dir": o["project_dir"],
            "profiles_dir": o["profiles_dir"],
            "target": o["target"],
            "vars": o["vars"],
        }

    def configure_logs(self, project_dir: str | None) -> None:
        o = self.options
        log_path = o["log_path"] or str(Path(project_dir or ".") / "logs")
        configure(o["log_level"], o["log_format"], log_path, o["quiet"])

    @contextlib.contextmanager
    def context(self, wait_seconds: float = 0.0) -> Iterator[Any]:
        with api.opened(**self.project_args(), wait_seconds=wait_seconds) as ctx:
            yield ctx

    def sync_options(self, stop: threading.Event) -> SyncOptions:
        reporter = self.reporter
        return SyncOptions(
            stop=stop,
            progress=reporter.progress,
            progress_start=reporter.progress_start,
            progress_done=reporter.progress_done,
        )

    def selection(self) -> api.Selection:
        o = self.options
        return api.Selection(o.get("select") or None, o.get("exclude") or None, o.get("selector"))

    def guarded(self, action: Callable[[], int]) -> int:
        self.configure_logs(self.options["project_dir"] or os.environ.get("DBT_PROJECT_DIR"))
        # every command reads the dbt project: dbt's config schemas from disk (schema_cache.py)
        install_schema_cache()
        try:
            return action()
        except ConfigError as error:
            self.reporter.config_problems(error.problems, str(error.hint or ""))
            return EXIT_CONFIG
        except SegmentProfilesError as error:
            self.reporter.error(str(error))
            return EXIT_CONFIG
        except Exception as error:  # one line, not a traceback: --debug shows it
            if self.options.get("debug"):
                LOGGER.error("".join(traceback.format_exception(error)))
            self.reporter.error(
                f"{type(error).__name__}: {error} (run with --debug for the traceback)"
            )
            return EXIT_CONFIG


def invocation(command: Callable[..., int]) -> Callable[..., int]:
    @functools.wraps(command)
    def wrapper(**options: Any) -> int:
        # main() hands the argv it parsed over as the context's obj: the results file records it
        argv = click.get_current_context().find_root().obj
        inv = Invocation(options, sys.argv[1:] if argv is None else argv)
        return inv.guarded(lambda: command(inv, **options))

    return wrapper


# commands ------------------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dbt-segment", message="dbt-segment %(version)s")
def cli() -> None:
    """Send the rows your dbt models changed to Segment Profiles."""


@cli.command()
@project_options
@selection_options
@invocation
def validate(inv: Invocation, **_: Any) -> int:
    """Check every mapping; exit 2 on problems."""
    with inv.context() as ctx:
        mappings = api.selected(ctx, inv.selection(), inv.options["vars"])
        problems = api.validate_context(ctx, mappings)
        if problems:
            raise ConfigError(problems)
        inv.reporter.validated(mappings, ctx.settings.profile_spaces)
    return EXIT_OK


@cli.command()
@project_options
@selection_options
@click.argument("mapping", required=False)
@click.option("--key", help="with MAPPING: that record's exact message, pending or not")
@click.option(
    "--samples",
    "--sample",
    "--limit",
    "samples",
    type=int,
    default=3,
    show_default=True,
    help="sample messages per mapping",
)
@invocation
def plan(inv: Invocation, mapping: str | None, key: str | None, samples: int, **_: Any) -> int:
    """Pending counts and sample messages, sending nothing; `plan MAPPING --key K` shows one
    record's message as Segment's Test Mapping does."""
    if key is not None and mapping is None:
        raise click.UsageError("--key needs the mapping: `dbt-segment plan MAPPING --key K`")
    with inv.context() as ctx:
        if mapping is not None:
            chosen = [m for m in ctx.mappings if m.name == mapping]
            if not chosen:
                known = ", ".join(sorted(m.name for m in ctx.mappings)) or "none"
                raise SegmentProfilesError(f"no mapping named {mapping!r}", hint=known)
            mappings = chosen
        else:
            mappings = api.selected(ctx, inv.selection(), inv.options["vars"])
        plans = api.plan_context(ctx, mappings, samples, key)
        inv.reporter.plan(plans, ctx.settings.profile_spaces)
    return EXIT_CONFIG if any(p.blocked for p in plans) else EXIT_OK


@cli.command()
@project_options
@selection_options
@sync_options
@invocation
def sync(inv: Invocation, wait: float, allow_mass_delete: bool, **_: Any) -> int:
    """Send pending changes to Segment."""
    with inv.context(wait) as ctx, _stop_on_signals() as stop:
        mappings = api.selected(ctx, inv.selection(), inv.options["vars"])
        options = inv.sync_options(stop)
        result = api.sync_context(ctx, mappings, options, allow_mass_delete, inv.argv)
    inv.reporter.sync_result(result)
    return result.exit_code


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    short_help="`dbt run [dbt args]`, then sync the mappings of the models that built",
)
@project_options
@sync_options
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
@invocation
def run(
    inv: Invocation, dbt_args: tuple[str, ...], wait: float, allow_mass_delete: bool, **_: Any
) -> int:
    """`dbt run [dbt args]` (--select, --full-refresh... go to dbt as given), then sync the
    mappings of the models that built. Exits with dbt's code when dbt fails; with --json,
    dbt's output goes to stderr and stdout carries one JSON document."""
    args = inv.project_args()
    quiet = inv.options["json_output"] or inv.options["quiet"]
    outcome = api.dbt_run(
        [*dbt_args, *(["--quiet"] if inv.options["quiet"] else [])],
        **args,
        dbt_output_to_stderr=quiet,
    )
    if outcome.exit_code:
        LOGGER.error(f"dbt run failed (exit {outcome.exit_code}): {outcome.error}")
    with _stop_on_signals() as stop:
        options = inv.sync_options(stop)
        result = api.sync_built(
            outcome,
            **args,
            options=options,
            wait_seconds=wait,
            allow_mass_delete=allow_mass_delete,
            args=inv.argv,
        )
    inv.reporter.run_result(result)
    return result.exit_code


@cli.command()
@project_options
@selection_options
@click.option("--limit", type=int, default=5, show_default=True, help="runs per mapping")
@invocation
def status(inv: Invocation, limit: int, **_: Any) -> int:
    """The last runs per mapping."""
    from .state.orphans import find_orphans
    from .status import last_errors, last_runs

    with inv.context() as ctx:
        mappings = api.selected(ctx, inv.selection(), inv.options["vars"])
        inv.reporter.status(
            last_runs(ctx.warehouse, mappings, limit),
            find_orphans(ctx.warehouse, ctx.mappings),
            last_errors=last_errors(ctx.warehouse, mappings),
        )
    return EXIT_OK


@cli.command()
@project_options
@click.option(
    "--all",
    "all_sources",
    is_flag=True,
    help="every source the token sees, not only Profile Spaces'",
)
@invocation
def spaces(inv: Invocation, all_sources: bool, **_: Any) -> int:
    """The Profile Spaces each profile space's Public API token can see (never a key); exit 2
    when a profile space's `source` does not name exactly one."""
    with inv.context() as ctx:
        listings = api.spaces_context(ctx, all_sources)
    inv.reporter.spaces(listings)
    return EXIT_CONFIG if any(listing.problem for listing in listings) else EXIT_OK


@cli.command()
@project_options
@selection_options
@click.option("--runs", type=int, default=50, show_default=True, help="runs per mapping charted")
@invocation
def report(inv: Invocation, runs: int, **_: Any) -> int:
    """Write target/segment_report.html: the sync history as one self-contained page."""
    from .reporting.html_report import write_report

    with inv.context() as ctx:
        mappings = api.selected(ctx, inv.selection(), inv.options["vars"])
        inv.reporter.report_written(write_report(ctx, mappings, runs))
    return EXIT_OK


@cli.command()
@project_options
@click.argument("mapping")
@click.option("--rebaseline", is_flag=True, help="take the current rows as synced")
@click.option("--yes", is_flag=True, help="with --rebaseline: do mark the pending as sent")
@invocation
def reset(inv: Invocation, mapping: str, rebaseline: bool, yes: bool, **_: Any) -> int:
    """Send every row of MAPPING again, or (--rebaseline) take them as synced."""
    from .reset import reset_mapping

    with inv.context() as ctx:
        chosen = next((m for m in ctx.mappings if m.name == mapping), None)
        if chosen is None:
            known = ", ".join(sorted(m.name for m in ctx.mappings)) or "none"
            raise SegmentProfilesError(f"no mapping named {mapping!r}", hint=f"mappings: {known}")
        swallowed = None
        if rebaseline:
            swallowed = ctx.warehouse.pending_counts(chosen)
            if not yes:
                counts = ", ".join(f"{op} {n}" for op, n in swallowed.items())
                raise SegmentProfilesError(
                    f"reset {mapping} --rebaseline would mark {sum(swallowed.values())} pending "
                    f"change(s) ({counts}) as sent without sending them, and take every "
                    "current row as synced",
                    hint=f"run `dbt-segment reset {mapping} --rebaseline --yes` to do so",
                )
        pending = reset_mapping(ctx, chosen, rebaseline=rebaseline, cli_vars=inv.options["vars"])
        inv.reporter.reset(chosen, rebaseline, pending, swallowed)
    return EXIT_OK


@cli.command()
@project_options
@click.argument("old")
@click.argument("new")
@invocation
def rename(inv: Invocation, old: str, new: str, **_: Any) -> int:
    """Move a renamed mapping's state, history and fingerprint from OLD to NEW."""
    from .state.orphans import rename as rename_state

    with inv.context() as ctx:
        mapping = next((m for m in ctx.mappings if m.name == new), None)
        if mapping is None:
            raise SegmentProfilesError(
                f"no mapping named {new!r} is declared",
                hint="declare it in schema.yml (and `dbt run`) before moving a state onto it",
            )
        rename_state(ctx.warehouse, old, mapping, ctx.mappings)
        inv.reporter.renamed(old, new)
    return EXIT_OK


@cli.command()
@project_options
@click.option("--yes", is_flag=True, help="drop what it lists")
@invocation
def prune(inv: Invocation, yes: bool, **_: Any) -> int:
    """List (and with --yes drop) the bookkeeping of mappings no longer declared."""
    from .state.orphans import find_orphans
    from .state.orphans import prune as prune_state

    with inv.context() as ctx:
        orphans = find_orphans(ctx.warehouse, ctx.mappings)
        if yes and orphans:
            prune_state(ctx.warehouse, orphans)
        inv.reporter.pruned(orphans, dropped=yes)
    return EXIT_OK


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("sandbox_args", nargs=-1, type=click.UNPROCESSED)
def sandbox(sandbox_args: tuple[str, ...]) -> int:
    """A local Segment-compatible receiver (`dbt-segment sandbox --help`)."""
    import argparse

    from .sandbox import add_sandbox_arguments, sandbox_command

    parser = argparse.ArgumentParser(prog="dbt-segment sandbox")
    add_sandbox_arguments(parser)
    try:
        args = parser.parse_args(list(sandbox_args))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return sandbox_command(args)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C and SIGTERM stop sending; what was acknowledged is kept."""
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script; also callable in-process with `argv`, returning the exit code."""
    if argv is None:
        # the console script's own process: before any thread starts (see allocator.py), and
        # before dbt is imported (see lazy_compilation.py)
        limit_arenas()
        compile_lazily()
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        code = cli.main(args=args, prog_name="dbt-segment", standalone_mode=False, obj=args)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.Abort:
        return EXIT_INTERRUPTED
    except click.ClickException as error:
        error.show()
        return EXIT_CONFIG
    return int(code or 0)


__all__ = ["SyncResult", "cli", "main"]


if __name__ == "__main__":
    sys.exit(main())
