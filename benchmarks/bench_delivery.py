"""Delivery throughput and memory: `dbt-segment sync` against Segment's official Python client.

Builds a throwaway dbt project (DuckDB) that installs this package, with two models of N identify
rows each (five traits: two strings, an int, a double, a timestamp), runs `dbt deps` and
`dbt run` (the post-hook captures every row as pending), and starts one counting receiver
(`Sandbox(count_only=True)`, in its own process). Then, per size:

- `dbt-segment sync --select <mapping>` runs as a subprocess. Its time is the sync phase as the
  runner reports it (`elapsed_seconds`: reading pending rows, building, batching, sending,
  acknowledging); the process's wall time, startup and project loading included, is shown too.
- segment-analytics-python (`segment.analytics`) sends the same messages (same userIds, traits
  and messageIds, read from the same pending rows before its clock starts) to the same receiver,
  in a subprocess as well (benchmarks/_official_client.py). Its time runs from the first
  `identify()` until the receiver has counted every message.

Peak RSS is each child's own ru_maxrss (os.wait4). No timing is asserted (machines are shared and
noisy); the exit code is 1 only when a message count does not match.

    .venv/bin/python benchmarks/bench_delivery.py --quick
    .venv/bin/python benchmarks/bench_delivery.py
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from _receiver import read_stats

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
BIN = Path(sys.executable).parent
WRITE_KEY_ENV = "BENCH_WRITE_KEY"
ENDPOINT_ENV = "BENCH_SEGMENT_ENDPOINT"
PROJECT = "segment_delivery_bench"
BOOKKEEPING_SCHEMA = "segment_sync"
OURS = "dbt-segment sync"
OFFICIAL = "segment-analytics-python"
CHILD_TIMEOUT = 1800.0

MODEL_SQL = """\
select
  i as user_id,
  'user' || i || '@example.com' as email,
  case i % 3 when 0 then 'free' when 1 then 'pro' else 'enterprise' end as plan,
  cast(i % 97 as integer) as orders,
  cast(i % 10000 as double) / 7.0 as lifetime_value,
  timestamp '2024-01-01 00:00:00' + to_seconds(i) as signed_up_at
from range({rows}) as t(i)
"""
TRAITS = ("email", "plan", "orders", "lifetime_value", "signed_up_at")


@dataclass
class Size:
    label: str
    rows: int

    @property
    def model(self) -> str:
        return f"users_{self.label}"

    @property
    def mapping(self) -> str:
        return f"users_{self.label}_to_profiles"

    @property
    def pending_table(self) -> str:
        return f'"{BOOKKEEPING_SCHEMA}"."{self.mapping}__pending"'


@dataclass
class Measurement:
    size: Size
    tool: str
    messages: int  # messages this run sent (official: may be fewer than size.rows)
    seconds: float  # the measured phase; median over repeats
    peak_rss_mb: float  # highest over repeats
    process_seconds: float | None = None
    ok: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


@dataclass
class ChildRun:
    returncode: int
    peak_rss_mb: float
    wall_seconds: float
    stdout: str
    stderr: str


# -- processes ----------------------------------------------------------------------------------


def run_measured(
    args: list[str], env: dict[str, str], cwd: Path, log_dir: Path, name: str
) -> ChildRun:
    """Run a child to completion; its wall time and its own peak RSS (ru_maxrss, os.wait4)."""
    out_path, err_path = log_dir / f"{name}.out", log_dir / f"{name}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
        watchdog = threading.Timer(CHILD_TIMEOUT, _kill, (process.pid,))
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return ChildRun(
        process.returncode,
        usage.ru_maxrss / 1024,  # KB on Linux
        wall,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
    )


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_checked(args: list[str], env: dict[str, str], cwd: Path) -> float:
    print(f"$ {shlex.join(args)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, text=True, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def start_receiver(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str, str]:
    info_file = workdir / "receiver.json"
    log = open(workdir / "receiver.log", "wb")
    process = subprocess.Popen(
        [sys.executable, str(HERE / "_receiver.py"), "--info-file", str(info_file)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + 30
    while not info_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.exit(f"the receiver did not start; see {workdir / 'receiver.log'}")
        time.sleep(0.05)
    info = json.loads(info_file.read_text())
    return process, info["url"], info["stats_url"]


# -- the dbt project ----------------------------------------------------------------------------


def write_project(project: Path, database: Path, sizes: list[Size]) -> None:
    (project / "models").mkdir(parents=True)
    space = {"write_key_env": WRITE_KEY_ENV, "endpoint": "{{ env_var('" + ENDPOINT_ENV + "') }}"}
    config = {
        "name": PROJECT,
        "version": "1.0.0",
        "config-version": 2,
        "profile": PROJECT,
        "model-paths": ["models"],
        "models": {
            "+post-hook": "{{ segment_profiles.capture_changes() }}",
            PROJECT: {"+materialized": "table"},
        },
        "vars": {
            "segment_profiles": {
                "schema": BOOKKEEPING_SCHEMA,
                "profile_spaces": {"default": space},
            }
        },
    }
    profiles = {
        PROJECT: {
            "target": "duckdb",
            "outputs": {"duckdb": {"type": "duckdb", "path": str(database), "threads": 1}},
        }
    }
    models = []
    for size in sizes:
        (project / "models" / f"{size.model}.sql").write_text(MODEL_SQL.format(rows=size.rows))
        mapping = {
            "name": size.mapping,
            "action": "identify",
            "profile_space": "default",
            "fields": {"user_id": "user_id", "traits": {t: t for t in TRAITS}},
        }
        segment = {"primary_key": "user_id", "mappings": [mapping]}
        models.append({"name": size.model, "config": {"meta": {"segment": segment}}})
    files = {
        "dbt_project.yml": config,
        "profiles.yml": profiles,
        "packages.yml": {"packages": [{"local": str(REPO_ROOT)}]},
        "models/schema.yml": {"version": 2, "models": models},
    }
    for name, document in files.items():
        (project / name).write_text(yaml.safe_dump(document, sort_keys=False))


def reset_mapping(project: Path, size: Size, env: dict[str, str]) -> None:
    """`dbt-segment reset <mapping>`: every captured row is pending again (for repeats)."""
    args = [str(BIN / "dbt-segment"), "reset", size.mapping, *project_flags(project)]
    done = subprocess.run(args, cwd=project, env=env, text=True, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"{shlex.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def project_flags(project: Path) -> list[str]:
    return ["--project-dir", str(project), "--profiles-dir", str(project)]


# -- measurements -------------------------------------------------------------------------------


def sync_command(project: Path, size: Size) -> list[str]:
    args = [str(BIN / "dbt-segment"), "sync", *project_flags(project)]
    return [*args, "--select", size.mapping, "--json"]


@dataclass
class Run:
    """One measured run of one tool."""

    seconds: float
    peak_rss_mb: float
    process_seconds: float | None
    ok: bool
    notes: list[str]


def run_ours(size: Size, project: Path, env: dict[str, str], stats_url: str, label: str) -> Run:
    before = read_stats(stats_url)
    run = run_measured(sync_command(project, size), env, project, project.parent, label)
    after = read_stats(stats_url)
    counted = after["accepted_messages"] - before["accepted_messages"]
    rejected = after["rejected_requests"] - before["rejected_requests"]
    try:
        document = json.loads(run.stdout)
        result = document["results"][0]
    except (ValueError, KeyError, IndexError):
        sys.exit(f"dbt-segment sync exited {run.returncode}:\n{run.stdout}\n{run.stderr}")
    acknowledged, notes = result["acknowledged"], []
    ok = run.returncode == 0 and acknowledged == size.rows and counted == size.rows
    if not ok:
        notes.append(
            f"exit {run.returncode}: acknowledged {acknowledged}, receiver counted {counted}, "
            f"expected {size.rows} (rejected {result['rejected']}, failed {result['failed']}, "
            f"{result['reasons'][:2]})"
        )
    if rejected:
        notes.append(f"the receiver refused {rejected} requests (resent or split)")
    print(
        f"  {OURS}: sync phase {document['elapsed_seconds']:.2f}s, process "
        f"{run.wall_seconds:.2f}s, {result['requests']} requests, receiver counted {counted:,}, "
        f"peak RSS {run.peak_rss_mb:.0f} MB",
        flush=True,
    )
    return Run(document["elapsed_seconds"], run.peak_rss_mb, run.wall_seconds, ok, notes)


def official_command(
    size: Size, rows: int, database: Path, url: str, stats_url: str, result_file: Path
) -> list[str]:
    return [
        sys.executable,
        str(HERE / "_official_client.py"),
        *("--db", str(database), "--table", size.pending_table, "--mapping", size.mapping),
        *("--rows", str(rows), "--host", url, "--stats-url", stats_url),
        *("--result", str(result_file)),
    ]


def run_official(
    size: Size,
    rows: int,
    database: Path,
    url: str,
    stats_url: str,
    env: dict[str, str],
    workdir: Path,
    label: str,
) -> Run:
    result_file = workdir / f"{label}.json"
    args = official_command(size, rows, database, url, stats_url, result_file)
    run = run_measured(args, env, HERE, workdir, label)
    if run.returncode != 0 or not result_file.exists():
        sys.exit(f"the official client failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    result = json.loads(result_file.read_text())
    ok, notes = result["counted"] == rows and result["rows"] == rows, []
    if not ok:
        notes.append(
            f"receiver counted {result['counted']} of {rows}; not queued "
            f"{result['not_queued']}, errors {result['error_count']} {result['errors']}"
        )
    print(
        f"  {OFFICIAL}: {result['seconds']:.2f}s (enqueueing {result['enqueue_seconds']:.2f}s), "
        f"receiver counted {result['counted']:,}, peak RSS {run.peak_rss_mb:.0f} MB "
        f"({result['rss_before_send_mb']:.0f} MB before sending, rows preloaded)",
        flush=True,
    )
    return Run(result["seconds"], run.peak_rss_mb, None, ok, notes)


def summarise(size: Size, tool: str, messages: int, runs: list[Run]) -> Measurement:
    """Median time, highest peak RSS, every note."""
    walls = [r.process_seconds for r in runs if r.process_seconds is not None]
    return Measurement(
        size=size,
        tool=tool,
        messages=messages,
        seconds=statistics.median(r.seconds for r in runs),
        peak_rss_mb=max(r.peak_rss_mb for r in runs),
        process_seconds=statistics.median(walls) if walls else None,
        ok=all(r.ok for r in runs),
        notes=[note for r in runs for note in r.notes],
    )


def measure_baseline_rss(size: Size, project: Path, env: dict[str, str]) -> float:
    """Peak RSS of a sync with nothing pending: the runner's fixed cost plus its queries."""
    run = run_measured(
        sync_command(project, size), env, project, project.parent, f"noop_{size.label}"
    )
    if run.returncode != 0:
        sys.exit(f"the no-op sync failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return run.peak_rss_mb


def measure_size(
    size: Size,
    args: argparse.Namespace,
    project: Path,
    database: Path,
    url: str,
    stats_url: str,
    env: dict[str, str],
) -> tuple[list[Measurement], float]:
    """Both tools on one model, runs interleaved so load changes hit both alike."""
    official_rows = min(size.rows, args.official_rows or size.rows)
    ours: list[Run] = []
    official: list[Run] = []
    for attempt in range(args.repeat):
        print(f"{size.rows:,} rows, run {attempt + 1}/{args.repeat}", flush=True)
        if attempt:
            reset_mapping(project, size, env)
        ours.append(run_ours(size, project, env, stats_url, f"sync_{size.label}_{attempt}"))
        if not args.skip_official:
            label = f"official_{size.label}_{attempt}"
            workdir = project.parent
            official.append(
                run_official(size, official_rows, database, url, stats_url, env, workdir, label)
            )
    results = [summarise(size, OURS, size.rows, ours)]
    if official:
        measurement = summarise(size, OFFICIAL, official_rows, official)
        if official_rows < size.rows:
            measurement.notes.append(
                f"measured on {official_rows:,} rows; events/s extrapolated to {size.rows:,}"
            )
        results.append(measurement)
    return results, measure_baseline_rss(size, project, env)


# -- report -------------------------------------------------------------------------------------


def print_report(
    results: list[Measurement], baselines: dict[str, float], command: str, repeat: int
) -> None:
    header = (
        f"{'rows':>10}  {'tool':<26}{'sent':>10}{'seconds':>9}{'events/s':>11}"
        f"{'peak RSS MB':>13}{'process s':>11}"
    )
    print("\n" + header)
    print("-" * len(header))
    for m in results:
        process = f"{m.process_seconds:.2f}" if m.process_seconds is not None else "-"
        print(
            f"{m.size.rows:>10,}  {m.tool:<26}{m.messages:>10,}{m.seconds:>9.2f}"
            f"{m.events_per_second:>11,.0f}{m.peak_rss_mb:>13.0f}{process:>11}"
            + ("" if m.ok else "  COUNT MISMATCH")
        )
    print()
    print(
        f"seconds: {OURS} = the sync phase the runner reports (elapsed_seconds); {OFFICIAL} = "
        "first identify() until the receiver counted every message. 'process s' adds "
        "interpreter startup and project loading. The official client's peak RSS includes the "
        "rows it preloads."
        + (f" Median of {repeat} interleaved runs, peak RSS the highest." if repeat > 1 else "")
    )
    by_key = {(m.size.label, m.tool): m for m in results}
    for label in dict.fromkeys(m.size.label for m in results):
        ours, official = by_key.get((label, OURS)), by_key.get((label, OFFICIAL))
        if ours and official and official.events_per_second:
            ratio = ours.events_per_second / official.events_per_second
            print(
                f"ratio ours/official at {ours.size.rows:,} rows: {ratio:.1f}x "
                f"({ours.events_per_second:,.0f} vs {official.events_per_second:,.0f} events/s)"
            )
    ours_runs = [m for m in results if m.tool == OURS]
    if len(ours_runs) == 2:
        small, large = ours_runs
        print(
            f"{OURS} peak RSS: {small.peak_rss_mb:.0f} MB at {small.size.rows:,} rows, "
            f"{large.peak_rss_mb:.0f} MB at {large.size.rows:,} rows "
            f"(+{large.peak_rss_mb - small.peak_rss_mb:.0f} MB); with nothing pending: "
            + ", ".join(f"{mb:.0f} MB" for mb in baselines.values())
        )
    for m in results:
        for note in m.notes:
            print(f"note: {m.tool} at {m.size.rows:,} rows: {note}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end: {load} on {os.cpu_count()} CPUs (noisy timings if high)")
    print(f"command: {command}")


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows-small", type=int, default=100_000)
    parser.add_argument("--rows-large", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 and 100,000 rows")
    parser.add_argument(
        "--official-rows",
        type=int,
        default=None,
        help="send at most this many rows with the official client and extrapolate its "
        "events/s (default: as many as dbt-segment sends)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    parser.add_argument("--skip-official", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows_small, args.rows_large = 20_000, 100_000
    if min(args.rows_small, args.rows_large) < 1 or args.repeat < 1:
        parser.error("row counts and --repeat must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = f"cd {shlex.quote(os.getcwd())} && " + shlex.join(
        [sys.executable, *sys.argv] if argv is None else [sys.executable, __file__, *argv]
    )
    sizes = [Size("small", args.rows_small), Size("large", args.rows_large)]
    workdir = Path(tempfile.mkdtemp(prefix="segment-bench-"))
    project, database = workdir / "project", workdir / "bench.duckdb"
    env = dict(os.environ)
    env.update(
        {
            WRITE_KEY_ENV: "bench-write-key",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    receiver, url, stats_url = start_receiver(workdir, env)
    env[ENDPOINT_ENV] = url
    print(f"workdir {workdir}; receiver {url} (count only), stats at {stats_url}", flush=True)
    try:
        write_project(project, database, sizes)
        dbt = str(BIN / "dbt")
        run_checked([dbt, "deps", *project_flags(project)], env, project)
        seconds = run_checked([dbt, "run", *project_flags(project)], env, project)
        print(f"dbt run: {seconds:.1f}s for {sum(s.rows for s in sizes):,} rows", flush=True)

        results: list[Measurement] = []
        baselines: dict[str, float] = {}
        for size in sizes:
            print()
            measured, baselines[size.label] = measure_size(
                size, args, project, database, url, stats_url, env
            )
            results.extend(measured)
    finally:
        receiver.send_signal(signal.SIGTERM)
        try:
            receiver.wait(timeout=30)
        except subprocess.TimeoutExpired:
            receiver.kill()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print_report(results, baselines, command, args.repeat)
    if not all(m.ok for m in results):
        print("\nFAILED: message counts do not match (see the notes above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
