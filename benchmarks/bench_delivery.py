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

Every row rejected: a subscriptions model of --rejected-rows rows whose email subscription status
is 'MAYBE', which Segment does not know, so every row is rejected before sending and recorded in
segment_record_issues. Its sync runs twice (new issues, then the same issues again: attempts 2),
and its rows recorded per second are compared with the identify sync of as many rows, measured in
the same run (the small or large size when it has that many rows, else a reference model). The
sync's time includes reading and judging the rows; recording alone is measured too: as many
issues through the runner's own recording, in the sync's call sizes (benchmarks/_record_issues.py).

Peak RSS is each child's own ru_maxrss (os.wait4). No timing is asserted (machines are shared and
noisy); the exit code is 1 only when a message or issue count does not match. The children run
this checkout's runner (python/ first on PYTHONPATH), whichever one the interpreter has installed.

    .venv/bin/python benchmarks/bench_delivery.py --quick
    .venv/bin/python benchmarks/bench_delivery.py
    .venv/bin/python benchmarks/bench_delivery.py --only-rejected --rejected-rows 200000
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
REJECTED_MODEL_SQL = """\
select
  i as user_id,
  'user' || i || '@example.com' as email,
  'MAYBE' as status
from range({rows}) as t(i)
"""
REJECTED_FIELDS = {"user_id": "user_id", "email": "email", "email_subscription_status": "status"}


@dataclass
class Size:
    label: str
    rows: int
    rejected: bool = False  # the subscriptions model whose every row is rejected
    reason: str = ""  # what its sync gave as the reason

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
        sql = REJECTED_MODEL_SQL if size.rejected else MODEL_SQL
        (project / "models" / f"{size.model}.sql").write_text(sql.format(rows=size.rows))
        mapping = {
            "name": size.mapping,
            "action": "subscriptions" if size.rejected else "identify",
            "profile_space": "default",
            "fields": REJECTED_FIELDS
            if size.rejected
            else {"user_id": "user_id", "traits": {t: t for t in TRAITS}},
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
    with_official: bool = True,
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
        if with_official and not args.skip_official:
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


@dataclass
class RejectedRun:
    """One sync of the every-row-rejected model."""

    rows: int
    attempt: int  # 1: the issues are new; 2: they exist and are updated
    seconds: float  # the sync phase the runner reports
    peak_rss_mb: float
    process_seconds: float
    ok: bool
    notes: list[str]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RecordingAlone:
    rows: int
    calls: int
    seconds: list[float]  # new rows, then the same rows again
    ok: bool


def issue_counts(database: Path, mapping: str) -> tuple[int, int, int, int]:
    """Rows, distinct keys, least and most attempts of a mapping's recorded issues."""
    import duckdb

    connection = duckdb.connect(str(database), read_only=True)
    try:
        row = connection.execute(
            "select count(*), count(distinct record_key), coalesce(min(attempts), 0), "
            f'coalesce(max(attempts), 0) from "{BOOKKEEPING_SCHEMA}"."segment_record_issues" '
            "where mapping_name = ?",
            [mapping],
        ).fetchone()
    finally:
        connection.close()
    return tuple(int(v) for v in row)  # type: ignore[return-value]


def run_rejected(
    size: Size, project: Path, database: Path, env: dict[str, str], attempt: int
) -> RejectedRun:
    """`dbt-segment sync` of the model whose every row is rejected; checks what it recorded."""
    label = f"sync_{size.label}_{attempt}"
    run = run_measured(sync_command(project, size), env, project, project.parent, label)
    try:
        document = json.loads(run.stdout)
        result = document["results"][0]
    except (ValueError, KeyError, IndexError):
        sys.exit(f"dbt-segment sync exited {run.returncode}:\n{run.stdout}\n{run.stderr}")
    counts = issue_counts(database, size.mapping)
    expected = (size.rows, size.rows, attempt, attempt)
    ok = (
        run.returncode == 1
        and (result["sent"], result["rejected"]) == (0, size.rows)
        and counts == expected
    )
    notes = []
    if not ok:
        notes.append(
            f"exit {run.returncode}: sent {result['sent']}, rejected {result['rejected']}, "
            f"issues (rows, keys, min and max attempts) {counts}, expected {expected} "
            f"({result['reasons'][:1]})"
        )
    seconds = document["elapsed_seconds"]
    size.reason = result["reasons"][0] if result["reasons"] else "rejected"
    print(
        f"  every row rejected, sync {attempt}: sync phase {seconds:.2f}s, process "
        f"{run.wall_seconds:.2f}s, {size.rows / seconds:,.0f} rows recorded/s, issues {counts}, "
        f"peak RSS {run.peak_rss_mb:.0f} MB",
        flush=True,
    )
    return RejectedRun(size.rows, attempt, seconds, run.peak_rss_mb, run.wall_seconds, ok, notes)


def run_recording_alone(
    size: Size, database: Path, env: dict[str, str], workdir: Path
) -> RecordingAlone:
    result_file = workdir / "record_issues_alone.json"
    args = [
        sys.executable,
        str(HERE / "_record_issues.py"),
        *("--db", str(database), "--schema", BOOKKEEPING_SCHEMA, "--rows", str(size.rows)),
        *("--reason", size.reason, "--result", str(result_file)),
    ]
    run = run_measured(args, env, HERE, workdir, "record_issues_alone")
    if run.returncode != 0 or not result_file.exists():
        sys.exit(f"recording alone failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    result = json.loads(result_file.read_text())
    n = size.rows
    ok = result["checks"] == [[n, n, 1, 1], [n, n, 2, 2]]
    print(
        f"  recording alone, {n:,} issues in {result['calls']} calls: "
        + ", ".join(f"{s:.2f}s" for s in result["seconds"])
        + ("" if ok else f"  CHECK FAILED {result['checks']}"),
        flush=True,
    )
    return RecordingAlone(n, result["calls"], result["seconds"], ok)


# -- report -------------------------------------------------------------------------------------


def print_rejected(
    results: list[Measurement], runs: list[RejectedRun], alone: RecordingAlone | None
) -> None:
    rows = runs[0].rows
    sent = next(
        (m for m in results if m.tool == OURS and m.size.rows == rows and not m.size.rejected),
        None,
    )
    print(f"\nevery row rejected (subscriptions, status 'MAYBE'), {rows:,} rows:")
    if sent is not None:
        print(
            f"  {OURS} sending {rows:,} identify messages: {sent.seconds:.2f}s, "
            f"{sent.events_per_second:,.0f} events/s"
        )
    for run in runs:
        what = "new issues" if run.attempt == 1 else f"existing issues, attempts {run.attempt}"
        ratio = (
            f", {run.rows_per_second / sent.events_per_second:.1f}x the send rate"
            if sent is not None and sent.events_per_second
            else ""
        )
        print(
            f"  sync {run.attempt} ({what}): {run.seconds:.2f}s, "
            f"{run.rows_per_second:,.0f} rows recorded/s{ratio}, peak RSS "
            f"{run.peak_rss_mb:.0f} MB, process {run.process_seconds:.2f}s"
        )
        for note in run.notes:
            print(f"  note: {note}")
    if alone is not None:
        for seconds, what in zip(alone.seconds, ("new issues", "existing issues")):
            rate = alone.rows / seconds if seconds > 0 else 0.0
            ratio = (
                f", {rate / sent.events_per_second:.1f}x the send rate"
                if sent is not None and sent.events_per_second
                else ""
            )
            print(
                f"  recording alone ({what}, {alone.calls} calls): {seconds:.2f}s, "
                f"{rate:,.0f} issues/s{ratio}" + ("" if alone.ok else "  CHECK FAILED")
            )
    print(
        "  (rows recorded/s: rejected rows read, judged and recorded in segment_record_issues "
        "per second of the sync phase; recording alone: only the recording (state/issues.py). "
        "Above 1x, that costs less than sending as many messages)"
    )


def print_report(
    results: list[Measurement],
    baselines: dict[str, float],
    command: str,
    repeat: int,
    rejected: list[RejectedRun] | None = None,
    alone: RecordingAlone | None = None,
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
    ours_runs = [m for m in results if m.tool == OURS and m.size.label in ("small", "large")]
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
    if rejected:
        print_rejected(results, rejected, alone)
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
    parser.add_argument(
        "--rejected-rows",
        type=int,
        default=None,
        help="rows of the every-row-rejected case (default: --rows-small; 0 skips it)",
    )
    parser.add_argument(
        "--only-rejected",
        action="store_true",
        help="only the every-row-rejected case and the identify sync of as many rows",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows_small, args.rows_large = 20_000, 100_000
    if min(args.rows_small, args.rows_large) < 1 or args.repeat < 1:
        parser.error("row counts and --repeat must be positive")
    if args.rejected_rows is None:
        args.rejected_rows = args.rows_small  # its identify sync is the reference: no extra model
    if args.rejected_rows < 0 or (args.only_rejected and args.rejected_rows < 1):
        parser.error(
            "--rejected-rows must be positive (0 skips the case, not with --only-rejected)"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = f"cd {shlex.quote(os.getcwd())} && " + shlex.join(
        [sys.executable, *sys.argv] if argv is None else [sys.executable, __file__, *argv]
    )
    sizes = (
        []
        if args.only_rejected
        else [Size("small", args.rows_small), Size("large", args.rows_large)]
    )
    rejected_size = None
    if args.rejected_rows:
        if all(size.rows != args.rejected_rows for size in sizes):
            # what sending as many rows costs, for the rejected case's ratio
            sizes.append(Size("reference", args.rejected_rows))
        rejected_size = Size("rejected", args.rejected_rows, rejected=True)
    workdir = Path(tempfile.mkdtemp(prefix="segment-bench-"))
    project, database = workdir / "project", workdir / "bench.duckdb"
    env = dict(os.environ)
    env.update(
        {
            WRITE_KEY_ENV: "bench-write-key",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            # the runner of this checkout, even when the interpreter has another one installed
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO_ROOT / "python"), env.get("PYTHONPATH")) if p
            ),
        }
    )
    receiver, url, stats_url = start_receiver(workdir, env)
    env[ENDPOINT_ENV] = url
    print(f"workdir {workdir}; receiver {url} (count only), stats at {stats_url}", flush=True)
    try:
        write_project(project, database, sizes + ([rejected_size] if rejected_size else []))
        dbt = str(BIN / "dbt")
        run_checked([dbt, "deps", *project_flags(project)], env, project)
        seconds = run_checked([dbt, "run", *project_flags(project)], env, project)
        total = sum(s.rows for s in sizes) + (rejected_size.rows if rejected_size else 0)
        print(f"dbt run: {seconds:.1f}s for {total:,} rows", flush=True)

        results: list[Measurement] = []
        baselines: dict[str, float] = {}
        for size in sizes:
            print()
            measured, baselines[size.label] = measure_size(
                size, args, project, database, url, stats_url, env, size.label != "reference"
            )
            results.extend(measured)
        rejected: list[RejectedRun] = []
        alone: RecordingAlone | None = None
        if rejected_size is not None:
            print(f"\n{rejected_size.rows:,} rows, every one rejected", flush=True)
            for attempt in (1, 2):
                rejected.append(run_rejected(rejected_size, project, database, env, attempt))
            alone = run_recording_alone(rejected_size, database, env, workdir)
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

    print_report(results, baselines, command, args.repeat, rejected, alone)
    checks = [m.ok for m in results] + [r.ok for r in rejected] + [alone.ok if alone else True]
    if not all(checks):
        print("\nFAILED: message or issue counts do not match (see the notes above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
