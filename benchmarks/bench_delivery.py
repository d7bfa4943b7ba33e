"""Delivery throughput and memory, every path, as a share of a bare sender measured in the run.

Builds a throwaway dbt project that installs this package, on DuckDB (default) or on a private
Postgres server (`--profile postgres`, started as the test suite starts one), with one model per
path and size (benchmarks/_paths.py): identify over plain columns; identify with one DECIMAL,
DATE, TIMESTAMPTZ, JSON/STRUCT or LIST trait; group; track; subscriptions (email, sms and one
group); every row rejected (an unknown subscription status); every row failed (a receiver that
answers every batch 501, which is not retried). `dbt run` captures every row as pending. Two
receivers run in processes of their own (benchmarks/_receiver.py, the sandbox counting only).

Per size, in this order: the bare sender (benchmarks/_bare_sender.py: the identify path's pending
rows read straight from the warehouse, orjson, Segment's batch limits, 4 keep-alive connections,
nothing else), each path's `dbt-segment sync --select <mapping>` as a subprocess, a second sync
of the identify path with nothing pending, the bare sender again, and Segment's official Python
client (DuckDB only; `--skip-official`; benchmarks/_official_client.py). The reference is the
faster of the two bare runs: shares are conservative.

events/s is rows over the child's wall time, interpreter start-up and project loading included,
for the syncs and the bare sender alike; the sync phase the runner reports (`elapsed_seconds`)
is shown too. The official client's time is its send phase (rows preloaded before its clock).
Rejected and failed paths: rows recorded per second, and their ratio to sending as many rows
(the identify path's rate). Peak RSS is each child's ru_maxrss (os.wait4). Nothing is asserted
about time (machines are shared and noisy); the exit code is 1 only when a count does not match
(messages received, rows acknowledged, issues recorded). The children run this checkout's
runner (python/ first on PYTHONPATH). On DuckDB they read the messages as Arrow columns, pyarrow
being installed here; `--rows-stream` has them read rows, as an install without the arrow extra
does (SEGMENT_PROFILES_ARROW=0).

    .venv/bin/python benchmarks/bench_delivery.py --quick
    .venv/bin/python benchmarks/bench_delivery.py --rows-small 200000 --rows-large 1000000
    .venv/bin/python benchmarks/bench_delivery.py --rows-stream --rows-large 0
    .venv/bin/python benchmarks/bench_delivery.py --profile postgres --rows-large 0
    .venv/bin/python benchmarks/bench_delivery.py --only-rejected --recording-alone
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from _delivery_report import Measurement, load_average, print_report
from _paths import BY_NAME, FAILED, FAILING_SPACE, PATHS, REFERENCE, REJECTED, SENT
from _paths import Path as BenchPath
from _processes import run_checked, run_measured
from _receiver import read_stats
from _targets import Target, open_target

from dbt_segment_profiles.warehouse.duckdb import ARROW_ENV

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
BIN = Path(sys.executable).parent
WRITE_KEY_ENV = "BENCH_WRITE_KEY"
ENDPOINT_ENV = "BENCH_SEGMENT_ENDPOINT"
FAILING_ENDPOINT_ENV = "BENCH_FAILING_ENDPOINT"
REQUESTS_PER_SECOND = 1_000
FAILING_STATUS = 501  # not retried by Segment's clients, nor by ours: one request per batch
PROJECT = "segment_delivery_bench"
BOOKKEEPING_SCHEMA = "segment_sync"


class Receiver:
    """A counting sandbox in a process of its own."""

    def __init__(self, workdir: Path, env: dict[str, str], name: str, status: int | None = None):
        info_file = workdir / f"{name}.json"
        args = [sys.executable, str(HERE / "_receiver.py"), "--info-file", str(info_file)]
        if status is not None:
            args += ["--always-status", str(status)]
        with open(workdir / f"{name}.log", "wb") as log:
            self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not info_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                sys.exit(f"the receiver did not start; see {workdir / f'{name}.log'}")
            time.sleep(0.05)
        info = json.loads(info_file.read_text())
        self.url, self.stats_url = info["url"], info["stats_url"]

    def accepted(self) -> int:
        return int(read_stats(self.stats_url)["accepted_messages"])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


# -- the dbt project ----------------------------------------------------------------------------


def write_project(project: Path, target: Target, sizes: dict[str, int], paths: list) -> None:
    (project / "models").mkdir(parents=True)

    def space(env_var: str) -> dict[str, Any]:
        return {
            "write_key_env": WRITE_KEY_ENV,
            "endpoint": "{{ env_var('" + env_var + "') }}",
            # Segment's ceiling per workspace, not the runner's cautious default of 200: at 200
            # a second the 1,297 batches of 1,000,000 subscriptions messages take 6.5 s, and
            # the benchmark would time the limit, not the runner (the bare sender has none)
            "requests_per_second": REQUESTS_PER_SECOND,
        }

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
                "profile_spaces": {
                    "default": space(ENDPOINT_ENV),
                    FAILING_SPACE: space(FAILING_ENDPOINT_ENV),
                },
            }
        },
    }
    profiles = {
        PROJECT: {"target": target.kind, "outputs": {target.kind: target.profile_output()}}
    }
    models = []
    for size, rows in sizes.items():
        for path in paths:
            sql = path.model_sql(target.kind, rows)
            (project / "models" / f"{path.model(size)}.sql").write_text(sql)
            mapping = {
                "name": path.mapping(size),
                "action": path.action,
                "profile_space": path.space,
                "fields": path.fields,
            }
            segment = {"primary_key": path.key, "mappings": [mapping]}
            models.append({"name": path.model(size), "config": {"meta": {"segment": segment}}})
    files = {
        "dbt_project.yml": config,
        "profiles.yml": profiles,
        "packages.yml": {"packages": [{"local": str(REPO_ROOT)}]},
        "models/schema.yml": {"version": 2, "models": models},
    }
    for name, document in files.items():
        (project / name).write_text(yaml.safe_dump(document, sort_keys=False))


def project_flags(project: Path) -> list[str]:
    return ["--project-dir", str(project), "--profiles-dir", str(project)]


def pending_table(path: BenchPath, size: str) -> str:
    return f'"{BOOKKEEPING_SCHEMA}"."{path.mapping(size)}__pending"'


# -- measurements -------------------------------------------------------------------------------


class Bench:
    def __init__(self, project: Path, target: Target, env: dict[str, str], receivers: dict):
        self.project = project
        self.target = target
        self.env = env
        self.receiver: Receiver = receivers["ok"]
        self.failing: Receiver = receivers["failing"]
        self.logs = project.parent
        self.reason = "rejected"  # the last reason a rejected or failed sync gave

    def sync(self, path: BenchPath, size: str, rows: int, attempt: int = 1) -> Measurement:
        """`dbt-segment sync` of one path's mapping; checks what it sent or recorded."""
        args = [str(BIN / "dbt-segment"), "sync", *project_flags(self.project)]
        args += ["--select", path.mapping(size), "--json"]
        before = self.receiver.accepted()
        name = f"{path.mapping(size)}_{attempt}"
        run = run_measured(args, self.env, self.project, self.logs, name)
        counted = self.receiver.accepted() - before
        try:
            document = json.loads(run.stdout)
            result = document["results"][0]
        except (ValueError, KeyError, IndexError):
            sys.exit(f"dbt-segment sync exited {run.returncode}:\n{run.stdout}\n{run.stderr}")
        label = path.label if path.syncs == 1 else f"{path.label} ({_attempt_label(attempt)})"
        measured = Measurement(
            label, rows, run.wall_seconds, run.peak_rss_mb, document["elapsed_seconds"]
        )
        measured.kind = path.outcome
        got = {k: result[k] for k in ("sent", "acknowledged", "rejected", "failed")}
        if path.outcome == SENT:
            expected = {"sent": rows, "acknowledged": rows, "rejected": 0, "failed": 0}
            ok = run.returncode == 0 and got == expected and counted == rows
            measured.detail = f"receiver counted {counted:,}"
        else:
            issues = self.issue_counts(path.mapping(size))
            want = (rows, rows, attempt, attempt)
            expected = {
                "sent": 0 if path.outcome == REJECTED else rows,
                "acknowledged": 0,
                "rejected": rows if path.outcome == REJECTED else 0,
                "failed": rows if path.outcome == FAILED else 0,
            }
            ok = run.returncode == 1 and got == expected and issues == want and counted == 0
            measured.detail = f"issues (rows, keys, attempts) {issues}"
            self.reason = result["reasons"][0] if result["reasons"] else path.outcome
        if not ok:
            measured.ok = False
            measured.notes.append(
                f"exit {run.returncode}: {got}, receiver counted {counted}, expected {expected} "
                f"{measured.detail} ({result['reasons'][:1]})"
            )
        _progress(measured, f"{result['requests']} requests")
        return measured

    def noop_sync(self, path: BenchPath, size: str, rows: int) -> Measurement:
        """The identify path again, nothing pending: the fixed cost of a sync."""
        args = [str(BIN / "dbt-segment"), "sync", *project_flags(self.project)]
        args += ["--select", path.mapping(size), "--json"]
        run = run_measured(args, self.env, self.project, self.logs, f"noop_{size}")
        document = json.loads(run.stdout) if run.stdout.strip() else {}
        result = (document.get("results") or [{}])[0]
        measured = Measurement(
            "identify again, nothing pending",
            rows,
            run.wall_seconds,
            run.peak_rss_mb,
            document.get("elapsed_seconds"),
        )
        measured.kind = "noop"
        if run.returncode != 0 or result.get("sent") != 0:
            measured.ok = False
            measured.notes.append(f"exit {run.returncode}, sent {result.get('sent')}")
        _progress(measured, "")
        return measured

    def bare(self, size: str, rows: int, attempt: int) -> Measurement:
        result_file = self.logs / f"bare_{size}_{attempt}.json"
        args = [
            sys.executable,
            str(HERE / "_bare_sender.py"),
            *self.target.bare_source(),
            *("--table", pending_table(BY_NAME[REFERENCE], size), "--url", self.receiver.url),
            *("--result", str(result_file)),
        ]
        before = self.receiver.accepted()
        run = run_measured(args, self.env, HERE, self.logs, f"bare_{size}_{attempt}")
        counted = self.receiver.accepted() - before
        if run.returncode != 0 or not result_file.exists():
            sys.exit(f"the bare sender failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
        result = json.loads(result_file.read_text())
        measured = Measurement(
            f"bare sender ({'first' if attempt == 1 else 'last'})",
            rows,
            run.wall_seconds,
            run.peak_rss_mb,
            result["seconds"],
        )
        measured.kind = "bare"
        measured.detail = f"receiver counted {counted:,}, statuses {result['statuses']}"
        if counted != rows or result["messages"] != rows:
            measured.ok = False
            measured.notes.append(f"sent {result['messages']}, receiver counted {counted}")
        _progress(measured, f"{result['requests']} requests")
        return measured

    def official(self, size: str, rows: int) -> Measurement:
        database = self.target.bare_source()[1]
        result_file = self.logs / f"official_{size}.json"
        path = BY_NAME[REFERENCE]
        args = [
            sys.executable,
            str(HERE / "_official_client.py"),
            *("--db", database, "--table", pending_table(path, size)),
            *("--mapping", path.mapping(size), "--rows", str(rows)),
            *("--host", self.receiver.url, "--stats-url", self.receiver.stats_url),
            *("--result", str(result_file)),
        ]
        run = run_measured(args, self.env, HERE, self.logs, f"official_{size}")
        if run.returncode != 0 or not result_file.exists():
            sys.exit(f"the official client failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
        result = json.loads(result_file.read_text())
        measured = Measurement(
            "segment-analytics-python", rows, run.wall_seconds, run.peak_rss_mb, result["seconds"]
        )
        measured.kind = "official"
        measured.detail = f"receiver counted {result['counted']:,}"
        if result["counted"] != rows or result["rows"] != rows:
            measured.ok = False
            measured.notes.append(
                f"receiver counted {result['counted']} of {rows}; not queued "
                f"{result['not_queued']}, errors {result['error_count']} {result['errors']}"
            )
        _progress(measured, "send phase; rows preloaded")
        return measured

    def recording_alone(self, rows: int) -> list[Measurement]:
        """As many issues through the runner's own recording (benchmarks/_record_issues.py,
        DuckDB), in the sync's call sizes: new ones, then the same again."""
        result_file = self.logs / f"record_issues_{rows}.json"
        args = [
            sys.executable,
            str(HERE / "_record_issues.py"),
            *("--db", self.target.bare_source()[1]),  # DuckDB's file
            *("--schema", BOOKKEEPING_SCHEMA, "--rows", str(rows), "--reason", self.reason),
            *("--result", str(result_file)),
        ]
        run = run_measured(args, self.env, HERE, self.logs, f"record_issues_{rows}")
        if run.returncode != 0 or not result_file.exists():
            sys.exit(f"recording alone failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
        result = json.loads(result_file.read_text())
        measured = []
        for attempt, seconds in enumerate(result["seconds"], 1):
            m = Measurement(
                f"recording alone ({_attempt_label(attempt)})",
                rows,
                seconds,
                run.peak_rss_mb,
                seconds,
                kind=REJECTED,
                detail=f"{result['calls']} calls, checks {result['checks'][attempt - 1]}",
            )
            if result["checks"][attempt - 1] != [rows, rows, attempt, attempt]:
                m.ok = False
                m.notes.append(f"issues (rows, keys, attempts) {result['checks'][attempt - 1]}")
            _progress(m, "recording only: no start-up, no reading")
            measured.append(m)
        return measured

    def issue_counts(self, mapping: str) -> tuple[int, ...]:
        """Rows, distinct keys, least and most attempts of a mapping's recorded issues."""
        rows = self.target.query(
            "select count(*), count(distinct record_key), coalesce(min(attempts), 0), "
            f'coalesce(max(attempts), 0) from "{BOOKKEEPING_SCHEMA}"."segment_record_issues" '
            f"where mapping_name = '{mapping}'"
        )
        return tuple(int(v) for v in rows[0])


def _attempt_label(attempt: int) -> str:
    return "new issues" if attempt == 1 else f"again, attempts {attempt}"


def _progress(m: Measurement, extra: str) -> None:
    phase = f", phase {m.phase_seconds:.2f}s" if m.phase_seconds is not None else ""
    print(
        f"  {m.label}: wall {m.wall_seconds:.2f}s{phase}, peak RSS {m.peak_rss_mb:.0f} MB, "
        f"{m.detail}{', ' + extra if extra else ''}" + ("" if m.ok else "  COUNT MISMATCH"),
        flush=True,
    )


def measure_size(
    bench: Bench,
    size: str,
    rows: int,
    paths: list[BenchPath],
    official: bool,
    recording_alone: bool = False,
) -> list[Measurement]:
    print(f"\n{rows:,} rows per path", flush=True)
    results = [bench.bare(size, rows, 1)]
    for path in paths:
        for attempt in range(1, path.syncs + 1):
            results.append(bench.sync(path, size, rows, attempt))
        if path.name == REFERENCE:
            results.append(bench.noop_sync(path, size, rows))
        if path.outcome == REJECTED and recording_alone:
            results.extend(bench.recording_alone(rows))
    results.append(bench.bare(size, rows, 2))
    if official:
        results.append(bench.official(size, rows))
    return results


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--rows-small", type=int, default=200_000)
    parser.add_argument("--rows-large", type=int, default=1_000_000, help="0 leaves it out")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 and 100,000 rows")
    parser.add_argument(
        "--paths",
        default=",".join(p.name for p in PATHS),
        help=f"comma-separated, of: {', '.join(p.name for p in PATHS)} ({REFERENCE} always runs)",
    )
    parser.add_argument(
        "--only-rejected", action="store_true", help=f"only the {REFERENCE} and rejected paths"
    )
    parser.add_argument("--skip-official", action="store_true")
    parser.add_argument(
        "--recording-alone",
        action="store_true",
        help="DuckDB: also time recording as many issues alone (benchmarks/_record_issues.py)",
    )
    parser.add_argument(
        "--rows-stream",
        action="store_true",
        help=f"DuckDB: the runner reads rows, not Arrow columns, as without the arrow extra "
        f"({ARROW_ENV}=0)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows_small, args.rows_large = 20_000, 100_000
    if args.rows_small < 1 or args.rows_large < 0:
        parser.error("--rows-small must be positive, --rows-large positive or 0")
    names = ["rejected"] if args.only_rejected else args.paths.split(",")
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown paths: {', '.join(unknown)}")
    args.selected = [p for p in PATHS if p.name in names or p.name == REFERENCE]
    return args


def child_env(workdir: Path) -> dict[str, str]:
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
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # a stopped run stops its receivers and its Postgres server too (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = f"cd {shlex.quote(os.getcwd())} && " + shlex.join(
        [sys.executable, *sys.argv] if argv is None else [sys.executable, __file__, *argv]
    )
    started_load = load_average()
    print(f"load average at the start: {started_load}", flush=True)
    sizes = {"small": args.rows_small}
    if args.rows_large:
        sizes["large"] = args.rows_large
    workdir = Path(tempfile.mkdtemp(prefix="segment-bench-"))
    project = workdir / "project"
    env = child_env(workdir)
    if args.rows_stream:
        env[ARROW_ENV] = "0"
    stream = "rows" if args.rows_stream or args.profile != "duckdb" else "Arrow columns"
    receivers: dict[str, Receiver] = {}
    target: Target | None = None
    results: dict[str, list[Measurement]] = {}
    try:
        receivers["ok"] = Receiver(workdir, env, "receiver")
        receivers["failing"] = Receiver(workdir, env, "failing_receiver", FAILING_STATUS)
        env[ENDPOINT_ENV] = receivers["ok"].url
        env[FAILING_ENDPOINT_ENV] = receivers["failing"].url
        target = open_target(args.profile, workdir)
        print(
            f"workdir {workdir}; {args.profile}, the runner reads {stream}; "
            f"receiver {receivers['ok'].url}",
            flush=True,
        )
        write_project(project, target, sizes, args.selected)
        dbt = str(BIN / "dbt")
        run_checked([dbt, "deps", *project_flags(project)], env, project)
        seconds = run_checked([dbt, "run", *project_flags(project)], env, project)
        total = sum(sizes.values()) * len(args.selected)
        print(f"dbt run: {seconds:.1f}s for {total:,} rows", flush=True)
        bench = Bench(project, target, env, receivers)
        official = not args.skip_official and args.profile == "duckdb"
        for size, rows in sizes.items():
            alone = args.recording_alone and args.profile == "duckdb"
            results[size] = measure_size(bench, size, rows, args.selected, official, alone)
    finally:
        for receiver in receivers.values():
            receiver.stop()
        if target is not None:
            target.close()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    ok = print_report(results, args.profile, command, started_load)
    if not ok:
        print("\nFAILED: message or issue counts do not match (see the notes above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
