"""How long the capture post-hook takes on day 2 (a big state, 2% changes), against a plain copy.

For each row count N the benchmark builds, in a temporary DuckDB dbt project that installs this
package, a table model of N customers:

* day 1: N rows; `dbt run` captures every row as added, then every pending row is marked as
  synced (the state is filled straight from the pending table, as an acknowledged sync would);
* day 2: N / 100 new rows (ids beyond N) and N / 100 changed rows (ids that are multiples of 100
  get a new first_name); the model is rebuilt with the capture post-hook disabled and enabled,
  alternately, and the capture time is the difference of the model's execution time in
  run_results.json. The reference is `create table ... as select * from <model>` in DuckDB itself.

Every measurement is repeated (--repeats, 3 by default) and the median is reported. The goal,
printed and not asserted, is a capture that costs at most 3.5 times the copy at 10M rows.

    .venv/bin/python benchmarks/bench_capture.py --quick     # 100k and 1M rows
    .venv/bin/python benchmarks/bench_capture.py             # 1M and 10M rows

Exits non-zero only on errors (a failing dbt command, or pending changes that are not the ones
the day-2 data makes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DBT = str(BIN / "dbt") if (BIN / "dbt").exists() else "dbt"

MODEL = "customers"
MAPPING = "customers_to_profiles"
SCHEMA = "main"
BOOKKEEPING_SCHEMA = f"{SCHEMA}_segment"
GOAL_ROWS = 10_000_000
GOAL_RATIO = 3.5

DBT_PROJECT_YML = """\
name: bench_capture
version: "0.1.0"
config-version: 2
profile: bench_capture

model-paths: ["models"]
clean-targets: ["target", "dbt_packages"]

models:
  +post-hook: "{{ segment_profiles.capture_changes() if var('capture', true) else '' }}"
  bench_capture:
    +materialized: table

vars:
  day: 1
  rows: 1000
  capture: true
  segment_profiles:
    profile_spaces:
      default:
        write_key_env: BENCH_CAPTURE_WRITE_KEY
"""

PROFILES_YML = """\
bench_capture:
  target: duckdb
  outputs:
    duckdb:
      type: duckdb
      path: "{path}"
      schema: {schema}
      threads: 4
"""

PACKAGES_YML = """\
packages:
  - local: "{root}"
"""

# day 1: ids 1..N; day 2: ids 1..N + N/100, and every id that is a multiple of 100 renamed
MODEL_SQL = """\
{% set rows = var('rows') | int %}
{% set day = var('day') | int %}
{% set last_id = rows + (rows // 100 if day >= 2 else 0) %}
select
    id,
    'user' || id || '@example.com' as email,
    case
        when {{ day }} >= 2 and id % 100 = 0 then 'Renamed' || id
        else 'First' || (id % 997)
    end as first_name,
    'Last' || (id % 4999) as last_name,
    ['free', 'starter', 'pro', 'enterprise'][(id % 4) + 1] as plan,
    timestamp '2020-01-01 00:00:00' + to_seconds(id * 7919 % 126230400) as signed_up_at,
    ((id * 2654435761) % 1000000) / 100.0 as lifetime_value,
    ['US', 'DE', 'FR', 'GB', 'IN', 'BR', 'JP'][(id % 7) + 1] as country
from range(1, {{ last_id }} + 1) as ids(id)
"""

SCHEMA_YML = f"""\
version: 2

models:
  - name: {MODEL}
    config:
      meta:
        segment:
          primary_key: id
          mappings:
            - name: {MAPPING}
              action: identify
              profile_space: default
              fields:
                user_id: id
                traits:
                  email: email
                  first_name: first_name
                  last_name: last_name
                  plan: plan
                  created_at: signed_up_at
                  lifetime_value: lifetime_value
"""


@dataclass
class Result:
    rows: int
    day1_with_capture: float = 0.0
    without_capture: list[float] = field(default_factory=list)
    with_capture: list[float] = field(default_factory=list)
    copy: list[float] = field(default_factory=list)
    longest_dbt_run: float = 0.0
    statements: list[tuple[float, str]] = field(default_factory=list)

    @property
    def build(self) -> float:
        return statistics.median(self.without_capture)

    @property
    def build_and_capture(self) -> float:
        return statistics.median(self.with_capture)

    @property
    def capture(self) -> float:
        return self.build_and_capture - self.build

    @property
    def copy_time(self) -> float:
        return statistics.median(self.copy)

    @property
    def ratio(self) -> float:
        return self.capture / self.copy_time if self.copy_time > 0 else float("inf")


class BenchError(Exception):
    pass


class Project:
    """A scratch dbt project in a temporary directory, with its own DuckDB file."""

    def __init__(self, workdir: Path, package: Path, send: list[str] | None) -> None:
        self.dir = workdir
        self.db = workdir / "bench.duckdb"
        self.env = dict(os.environ)
        self.env.update(
            DBT_PROFILES_DIR=str(workdir),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DO_NOT_TRACK="1",
            BENCH_CAPTURE_WRITE_KEY="bench-write-key",
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        (workdir / "models").mkdir(parents=True)
        (workdir / "dbt_project.yml").write_text(DBT_PROJECT_YML)
        (workdir / "profiles.yml").write_text(
            PROFILES_YML.format(path=self.db.as_posix(), schema=SCHEMA)
        )
        (workdir / "packages.yml").write_text(PACKAGES_YML.format(root=package.as_posix()))
        (workdir / "models" / f"{MODEL}.sql").write_text(MODEL_SQL)
        schema_yml = SCHEMA_YML
        if send is not None:
            schema_yml += f"              send: [{', '.join(send)}]\n"
        (workdir / "models" / "schema.yml").write_text(schema_yml)
        self.commands: list[str] = []

    def dbt(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [DBT, *args]
        self.commands.append(shlex.join(command))
        done = subprocess.run(command, cwd=self.dir, env=self.env, text=True, capture_output=True)
        if done.returncode != 0:
            raise BenchError(
                f"{shlex.join(command)} failed ({done.returncode}) in {self.dir}:\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return done

    def run_model(self, rows: int, day: int, capture: bool) -> tuple[float, float]:
        """One `dbt run`: the model's execution time (run_results.json) and the wall time."""
        variables = json.dumps({"rows": rows, "day": day, "capture": capture})
        started = time.perf_counter()
        self.dbt("run", "--select", MODEL, "--vars", variables)
        wall = time.perf_counter() - started
        results = json.loads((self.dir / "target" / "run_results.json").read_text())
        for result in results["results"]:
            if result["unique_id"].endswith(f".{MODEL}"):
                if result["status"] != "success":
                    raise BenchError(f"{MODEL}: {result['status']}: {result.get('message')}")
                return float(result["execution_time"]), wall
        raise BenchError(f"{MODEL} is not in run_results.json")

    def table(self, role: str) -> str:
        return f"{BOOKKEEPING_SCHEMA}.{MAPPING}__{role}"

    def mark_synced(self) -> int:
        """Emulate an acknowledged sync of every pending row: what `dbt-segment sync` stores."""
        with duckdb.connect(str(self.db)) as con:
            con.execute(f"delete from {self.table('state')}")
            con.execute(
                f"insert into {self.table('state')} (record_key, row_hash, synced_at) "
                f"select id, __sp_hash, current_timestamp from {self.table('pending')} "
                "where __sp_op <> 'deleted'"
            )
            row = con.execute(f"select count(*) from {self.table('state')}").fetchone()
        return int(row[0]) if row else 0

    def pending_counts(self) -> dict[str, int]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            rows = con.execute(
                f"select __sp_op, count(*) from {self.table('pending')} group by 1"
            ).fetchall()
            invalid = con.execute(f"select count(*) from {self.table('invalid')}").fetchone()
        counts = {str(op): int(n) for op, n in rows}
        counts["invalid"] = int(invalid[0]) if invalid else 0
        return counts

    def copy_times(self, repeats: int) -> list[float]:
        """`create table ... as select * from <model>` in DuckDB directly: the reference."""
        times = []
        with duckdb.connect(str(self.db)) as con:
            for _ in range(repeats):
                con.execute(f"drop table if exists {SCHEMA}.bench_copy")
                started = time.perf_counter()
                con.execute(f"create table {SCHEMA}.bench_copy as select * from {SCHEMA}.{MODEL}")
                times.append(time.perf_counter() - started)
            con.execute(f"drop table if exists {SCHEMA}.bench_copy")
        return times

    def model_statements(self) -> list[tuple[float, str]]:
        """Each statement the model ran in the last `dbt run`, with its time, from logs/dbt.log."""
        log = self.dir / "logs" / "dbt.log"
        if not log.exists():
            return []
        text = log.read_text(errors="replace")
        text = text[max(text.rfind("Running with dbt="), 0) :]
        statements: list[tuple[float, str]] = []
        sql: list[str] | None = None
        for line in text.splitlines():
            if not line.startswith("\x1b"):
                if sql is not None:
                    sql.append(line)
                continue
            query = re.search(rf"On model\.[^:]+\.{MODEL}: (.*)$", line)
            status = re.search(r"SQL status: .* in ([0-9.]+) seconds", line)
            if query:
                sql = [query.group(1)]
            elif status and sql is not None:
                text_sql = re.sub(r"/\*.*?\*/", "", " ".join(sql), flags=re.S)
                statements.append((float(status.group(1)), re.sub(r"\s+", " ", text_sql).strip()))
                sql = None
        return statements


def expected_counts(rows: int) -> dict[str, int]:
    return {"added": rows // 100, "updated": rows // 100, "invalid": 0}


def bench(rows: int, repeats: int, package: Path, send: list[str] | None, keep: bool) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-capture-{rows}-"))
    result = Result(rows)
    try:
        project = Project(workdir, package, send)
        project.dbt("deps")
        print(f"\n[{rows:,} rows] project in {workdir}", flush=True)

        result.day1_with_capture, wall = project.run_model(rows, day=1, capture=True)
        result.longest_dbt_run = wall
        day1 = project.pending_counts()
        if day1.get("added") != rows or day1.get("updated", 0) or day1["invalid"]:
            raise BenchError(f"day 1: expected {rows} added, got {day1}")
        synced = project.mark_synced()
        print(
            f"  day 1: model + capture {result.day1_with_capture:.2f}s, "
            f"{synced:,} rows marked as synced",
            flush=True,
        )

        for attempt in range(1, repeats + 1):
            without, wall = project.run_model(rows, day=2, capture=False)
            result.longest_dbt_run = max(result.longest_dbt_run, wall)
            with_, wall = project.run_model(rows, day=2, capture=True)
            result.longest_dbt_run = max(result.longest_dbt_run, wall)
            result.without_capture.append(without)
            result.with_capture.append(with_)
            counts = project.pending_counts()
            if {k: counts.get(k, 0) for k in ("added", "updated", "invalid")} != expected_counts(
                rows
            ) or counts.get("deleted", 0):
                raise BenchError(f"day 2: expected {expected_counts(rows)}, got {counts}")
            print(
                f"  day 2, run {attempt}: without capture {without:.2f}s, "
                f"with capture {with_:.2f}s",
                flush=True,
            )
        result.statements = project.model_statements()

        result.copy = project.copy_times(repeats)
        print(f"  copy: {', '.join(f'{t:.2f}s' for t in result.copy)}", flush=True)
        if keep:
            print(f"  kept: {workdir}")
        return result
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def report(results: list[Result], command: str, dbt_commands: list[str]) -> None:
    print(f"\ncommand: {command}")
    print("dbt commands (per row count, in the scratch project):")
    for line in dbt_commands:
        print(f"  {line}")
    header = (
        f"{'rows':>12} {'build':>9} {'build+cap':>10} {'capture':>9} {'copy':>8} "
        f"{'cap/copy':>9} {'day1 b+c':>9}"
    )
    print("\nday 2 (medians, seconds; capture = build+cap - build):")
    print(header)
    for r in results:
        print(
            f"{r.rows:>12,} {r.build:>9.2f} {r.build_and_capture:>10.2f} {r.capture:>9.2f} "
            f"{r.copy_time:>8.2f} {r.ratio:>8.2f}x {r.day1_with_capture:>9.2f}"
        )
    for r in results:
        if r.statements:
            total = sum(t for t, _ in r.statements)
            print(
                f"\nstatements of the last day-2 run with capture, {r.rows:,} rows, from dbt.log "
                f"(>= 0.05s; all statements: {total:.2f}s):"
            )
            for seconds, sql in r.statements:
                if seconds >= 0.05:
                    print(f"  {seconds:8.2f}s  {sql[:120]}")
        if r.longest_dbt_run > 300:
            print(f"\nnote: a dbt run took {r.longest_dbt_run:.0f}s at {r.rows:,} rows (> 5 min)")
    goal = [r for r in results if r.rows == GOAL_ROWS]
    if goal:
        r = goal[0]
        verdict = "met" if r.ratio <= GOAL_RATIO else "NOT met"
        print(
            f"\ngoal: capture <= {GOAL_RATIO}x the copy at {GOAL_ROWS:,} rows: "
            f"{r.ratio:.2f}x, {verdict}"
        )
    else:
        print(f"\ngoal: capture <= {GOAL_RATIO}x the copy at {GOAL_ROWS:,} rows (not measured)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        default="1000000,10000000",
        help="comma-separated row counts (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="100k and 1M rows")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--send",
        default=None,
        help="the mapping's send list, e.g. added,updated,deleted (default: the package's)",
    )
    parser.add_argument(
        "--package",
        type=Path,
        default=REPO_ROOT,
        help="the segment_profiles package to install (default: this repository, %(default)s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch projects")
    args = parser.parse_args(argv)

    rows = [100_000, 1_000_000] if args.quick else [int(n) for n in args.rows.split(",") if n]
    if not rows or any(n < 100 for n in rows) or args.repeats < 1:
        parser.error("row counts must be >= 100 and --repeats >= 1")
    send = [s.strip() for s in args.send.split(",")] if args.send else None
    command = shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(argv)
    print(f"command: {command}", flush=True)

    results: list[Result] = []
    dbt_commands: list[str] = []
    try:
        for n in rows:
            results.append(bench(n, args.repeats, args.package.resolve(), send, args.keep))
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    dbt_commands = [
        f"{DBT} deps",
        f'{DBT} run --select {MODEL} --vars \'{{"rows": N, "day": 1, "capture": true}}\'',
        "(python duckdb) insert into "
        f"{BOOKKEEPING_SCHEMA}.{MAPPING}__state select id, __sp_hash, current_timestamp "
        f"from {BOOKKEEPING_SCHEMA}.{MAPPING}__pending",
        f'{DBT} run --select {MODEL} --vars \'{{"rows": N, "day": 2, "capture": false}}\'',
        f'{DBT} run --select {MODEL} --vars \'{{"rows": N, "day": 2, "capture": true}}\'',
        f"(python duckdb) create table {SCHEMA}.bench_copy as select * from {SCHEMA}.{MODEL}",
    ]
    report(results, command, dbt_commands)
    return 0


if __name__ == "__main__":
    sys.exit(main())
