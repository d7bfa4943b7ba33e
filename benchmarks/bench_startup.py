"""Start-up and fixed costs: `dbt-segment sync` with nothing changed, `plan` and `status`.

Builds a throwaway DuckDB project (bench_delivery's project writer and counting receiver) with one
identify model of --rows rows, runs `dbt deps`, `dbt run` and one sync so every row is
acknowledged, then measures, interleaved --repeat times so load changes hit each alike:

- `dbt-segment sync --select <mapping>` with nothing changed (it must send nothing),
- `dbt-segment plan --select <mapping>` and `dbt-segment status --select <mapping>`,
- the references, in the same run: `dbt ls --select <model>` (the least dbt itself does on the
  same project: read its config and profile, check the manifest with partial parsing, select;
  what a dbt user already waits for) and `python -c "import duckdb; ..."` counting the model's
  rows (the floor: an interpreter, the driver and one query, no dbt at all).

Each is a subprocess; wall time is the process's (start-up included), CPU time its user + system
time and peak RSS its own ru_maxrss (os.wait4). Printed: medians, the highest peak RSS, ratios to
the references, and the load average at the start and the end. The machine is shared: read the
ratios, and the CPU time over the wall time (a loaded machine stretches the wall time alone).

--pending-rows N also measures the peak RSS of syncing N pending rows on two paths: the SQL lane
(the same plain identify model) and the Python builder (an identify model whose traits include a
STRUCT and a LIST column, which only the Python builder writes).

No timing is asserted; the exit code is 1 only when a command fails or the nothing-changed sync
sends something.

    .venv/bin/python benchmarks/bench_startup.py
    .venv/bin/python benchmarks/bench_startup.py --rows 200000 --repeat 7 --pending-rows 1000000
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from _paths import BY_NAME, REFERENCE
from _processes import run_checked, run_measured
from _receiver import read_stats
from _targets import DuckDBTarget
from bench_delivery import (
    BIN,
    ENDPOINT_ENV,
    FAILING_ENDPOINT_ENV,
    Receiver,
    child_env,
    project_flags,
    write_project,
)

# the Python builder's path: a STRUCT and a LIST trait (DuckDB's SQL lane leaves them to Python)
NESTED_MODEL_SQL = """\
select
  i as user_id,
  'user' || i || '@example.com' as email,
  {{'plan': case i % 3 when 0 then 'free' else 'pro' end, 'seats': i % 50}} as account,
  [i % 7, i % 11] as scores
from range({rows}) as t(i)
"""
NESTED_TRAITS = ("email", "account", "scores")


@dataclass
class Command:
    """One measured command: its argv and every run's wall time and peak RSS."""

    name: str
    args: list[str]
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def peak_rss(self) -> float:
        return max(self.rss)


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def add_nested_model(project: Path, rows: int) -> str:
    """A model and mapping only the Python builder can write; returns the mapping's name."""
    model, mapping = "users_nested", "users_nested_to_profiles"
    (project / "models" / f"{model}.sql").write_text(NESTED_MODEL_SQL.format(rows=rows))
    schema_path = project / "models" / "schema.yml"
    schema = yaml.safe_load(schema_path.read_text())
    fields = {"user_id": "user_id", "traits": {t: t for t in NESTED_TRAITS}}
    segment = {
        "primary_key": "user_id",
        "mappings": [
            {"name": mapping, "action": "identify", "profile_space": "default", "fields": fields}
        ],
    }
    schema["models"].append({"name": model, "config": {"meta": {"segment": segment}}})
    schema_path.write_text(yaml.safe_dump(schema, sort_keys=False))
    return mapping


def runner(command: str, project: Path, mapping: str) -> list[str]:
    args = [str(BIN / "dbt-segment"), command, *project_flags(project), "--select", mapping]
    return args + ["--json"] if command != "status" else args


def sync_pending(
    project: Path, mapping: str, rows: int, env: dict[str, str], stats_url: str, label: str
) -> float:
    """Sync every pending row of `mapping`; its peak RSS (MB). Exits when a row is missing."""
    before = read_stats(stats_url)["accepted_messages"]
    run = run_measured(runner("sync", project, mapping), env, project, project.parent, label)
    counted = read_stats(stats_url)["accepted_messages"] - before
    if run.returncode != 0 or counted != rows:
        sys.exit(f"{label}: exit {run.returncode}, {counted} of {rows} sent:\n{run.stderr}")
    print(
        f"  {label}: {rows:,} pending rows sent in {run.wall_seconds:.2f}s, "
        f"peak RSS {run.peak_rss_mb:.0f} MB",
        flush=True,
    )
    return run.peak_rss_mb


@dataclass
class Timed:
    returncode: int
    wall: float
    cpu: float  # user + system
    peak_rss_mb: float
    output: str


def run_timed(args: list[str], env: dict[str, str], cwd: Path) -> Timed:
    """One child's wall time, CPU time and peak RSS (its own rusage, os.wait4). The CPU time is
    what a command costs; its wall time adds the waits of a shared machine."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        child = subprocess.Popen(args, cwd=cwd, env=env, stdout=output, stderr=output)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode(errors="replace")
    cpu = usage.ru_utime + usage.ru_stime
    return Timed(os.waitstatus_to_exitcode(status), wall, cpu, usage.ru_maxrss / 1024, text)


def measure(commands: list[Command], repeat: int, project: Path, env: dict[str, str]) -> bool:
    ok = True
    for attempt in range(repeat):
        for command in commands:
            run = run_timed(command.args, env, project)
            if run.returncode != 0:
                print(f"  {command.name} exited {run.returncode}:\n{run.output}")
                ok = False
            command.walls.append(run.wall)
            command.cpus.append(run.cpu)
            command.rss.append(run.peak_rss_mb)
        print(
            f"  run {attempt + 1}/{repeat}: "
            + ", ".join(f"{c.name} {c.walls[-1]:.2f}s" for c in commands),
            flush=True,
        )
    return ok


def report(commands: list[Command], references: tuple[Command, Command]) -> None:
    dbt_ls, floor = references
    header = (
        f"{'command':<26}{'wall s':>8}{'CPU s':>8}{'peak RSS MB':>13}"
        f"{'wall / dbt ls':>15}{'CPU / dbt ls':>14}{'CPU / floor':>13}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for c in commands:
        print(
            f"{c.name:<26}{c.wall:>8.2f}{c.cpu:>8.2f}{c.peak_rss:>13.0f}"
            f"{c.wall / dbt_ls.wall:>14.2f}x{c.cpu / dbt_ls.cpu:>13.2f}x"
            f"{c.cpu / floor.cpu:>12.2f}x"
        )
    print(
        f"\nmedians of {len(dbt_ls.walls)} interleaved runs: wall = the process's wall time "
        "(start-up included), CPU = its user + system time; peak RSS: the highest. "
        "References: `dbt ls` on the same project, and the floor (python, duckdb, one count(*))."
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the synced model")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (median)")
    parser.add_argument(
        "--pending-rows",
        type=int,
        default=0,
        help="also the peak RSS of syncing this many pending rows, SQL lane and Python builder",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1 or args.pending_rows < 0:
        parser.error("--rows and --repeat must be positive, --pending-rows not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command_line = f"cd {shlex.quote(os.getcwd())} && " + shlex.join(
        [sys.executable, *sys.argv] if argv is None else [sys.executable, __file__, *argv]
    )
    load_at_start = load()
    print(f"load average at the start: {load_at_start} on {os.cpu_count()} CPUs", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="segment-startup-"))
    project = workdir / "project"
    target = DuckDBTarget(workdir)
    database = target.database
    env = child_env(workdir)
    # the identify path of the delivery benchmark: "startup" rows synced once, then measured
    # with nothing pending; "large" rows (--pending-rows) for the peak RSS of a whole sync
    identify = BY_NAME[REFERENCE]
    sizes = {"startup": args.rows}
    if args.pending_rows:
        sizes["large"] = args.pending_rows
    model, mapping = identify.model("startup"), identify.mapping("startup")
    receiver = Receiver(workdir, env, "receiver")
    stats_url = receiver.stats_url
    # the project's second profile space reads its endpoint too; nothing is sent there
    env[ENDPOINT_ENV] = env[FAILING_ENDPOINT_ENV] = receiver.url
    ok = True
    pending_rss: list[tuple[str, int, float]] = []
    try:
        write_project(project, target, sizes, [identify])
        nested = add_nested_model(project, args.pending_rows) if args.pending_rows else None
        dbt = str(BIN / "dbt")
        run_checked([dbt, "deps", *project_flags(project)], env, project)
        seconds = run_checked([dbt, "run", *project_flags(project)], env, project)
        print(f"dbt run: {seconds:.1f}s", flush=True)
        sync_pending(project, mapping, args.rows, env, stats_url, "first sync")
        if nested:
            large = identify.mapping("large")
            for lane, synced in (("SQL lane", large), ("Python builder", nested)):
                label = f"{lane} sync"
                rss = sync_pending(project, synced, args.pending_rows, env, stats_url, label)
                pending_rss.append((lane, args.pending_rows, rss))

        floor_code = (
            f"import duckdb; duckdb.connect({str(database)!r}, read_only=True)"
            f".execute('select count(*) from main.{model}').fetchall()"
        )
        references = (
            Command("dbt ls (reference)", [dbt, "ls", *project_flags(project), "-s", model]),
            Command("floor (reference)", [sys.executable, "-c", floor_code]),
        )
        ours = [
            Command("sync, nothing changed", runner("sync", project, mapping)),
            Command("plan", runner("plan", project, mapping)),
            Command("status", runner("status", project, mapping)),
        ]
        print(f"\n{args.rows:,} rows acknowledged; measuring {args.repeat} rounds", flush=True)
        before = read_stats(stats_url)["accepted_messages"]
        ok = measure([*references, *ours], args.repeat, project, env)
        sent = read_stats(stats_url)["accepted_messages"] - before
        if sent:
            print(f"FAILED: the nothing-changed syncs sent {sent} messages")
            ok = False
    finally:
        receiver.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    report([*references, *ours], references)
    for lane, rows, rss in pending_rss:
        print(f"sync of {rows:,} pending rows, {lane}: peak RSS {rss:.0f} MB")
    print(f"\nload average: {load_at_start} at the start, {load()} at the end")
    print(f"command: {command_line}")
    if not ok:
        print("FAILED: a command failed (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
