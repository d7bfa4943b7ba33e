"""The capture post-hook's cost on day 2 (a big state, 2% changes), against a plain table copy.

For each row count N, in a throwaway DuckDB dbt project (threads: 4) that installs this package
(`local:`), a table model of N customers (8 columns, 7 of them mapped: the key and 6 traits) is
generated in SQL from `var('day')`:

- day 1: ids 1..N. `dbt run` captures every row as added; then every pending row is marked as
  synced, as an acknowledged `dbt-segment sync` would (its key and hash go into the state);
- day 2: N / 100 new rows (ids N+1..N+N/100) and N / 100 changed rows (ids that are multiples
  of 100 get a new first_name). The model is rebuilt with the post-hook disabled and enabled
  (`var('capture')`), alternately, --repeats times. The capture's time is the difference of the
  medians of the model's execution_time in run_results.json. The reference is
  `create table ... as select * from <model>` run in DuckDB itself (python duckdb, same file,
  after dbt has finished), repeated as often.

The machine may be shared, so CPU time is reported beside wall time: the dbt process's CPU time
(its startup and parsing, the same with and without capture, cancel out, but vary by a second or
two from run to run: the CPU figures mean something from a few million rows on) and this
process's own for the copy. The goal, printed and not asserted: at 10M rows the capture costs at
most 2.0 times the copy (wall time).

    .venv/bin/python benchmarks/bench_capture.py --quick     # 100k and 1M rows
    .venv/bin/python benchmarks/bench_capture.py             # 1M and 10M rows

--package runs the benchmark against another copy of the package (to try a change to the macros
without touching the repository); --send sets the mapping's send list (default: the package's).
--profile spark runs the same on Spark (dbt-spark `method: session`, parquet tables, a local[2]
Spark with --shuffle-partitions partitions and --driver-memory, the embedded Derby metastore
under the scratch directory): dbt runs in this process (dbtRunner), so the model, the capture
and the reference copy all run in one SparkSession (one JVM). The model is generated with
Spark's `range()`; the day-1 rows are acknowledged as a sync would record them (appended to
`<mapping>__acks`) and folded into the state by `dbt run-operation
segment_profiles.fold_acknowledgements` before day 2; the copy is `create table ... using parquet
as select * from <model>` through the same session. CPU time there is this process's plus the
JVM's (/proc). Needs `pip install "dbt-spark[session]"` and Java 17.

    .venv/bin/python benchmarks/bench_capture.py --profile spark --quick --repeats 2
    .venv/bin/python benchmarks/bench_capture.py --profile spark --rows 10000000 --repeats 2

--profile postgres runs the same on a throwaway Postgres (tests/pg_server.py: initdb into a
temporary directory, a private postmaster on a free port, run as the `postgres` user through
runuser when this runs as root), the model generated with `generate_series`; the day-1 rows are
marked as synced and the copy run through psycopg2. The warehouse's work happens in the server,
not in the dbt process, so the CPU time there is the dbt process's (or this process's, for the
copy) plus the server's: its processes' user + system time from /proc, the postmaster's own and
its children's, those still running and those it has reaped.

    .venv/bin/python benchmarks/bench_capture.py --profile postgres --rows 1000000

The exit code is 1 only on errors: a failing dbt command, or pending changes other than the ones
the day-2 data makes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
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
GOAL_RATIO = 2.0
LONG_RUN_SECONDS = 300

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


SPARK_PROFILES_YML = """\
bench_capture:
  target: spark
  outputs:
    spark:
      type: spark
      method: session
      host: NA
      schema: {schema}
      threads: 1
      server_side_parameters: {parameters}
"""

# the same rows as MODEL_SQL, in Spark SQL
SPARK_MODEL_SQL = """\
{% set rows = var('rows') | int %}
{% set day = var('day') | int %}
{% set last_id = rows + (rows // 100 if day >= 2 else 0) %}
select
    id,
    concat('user', id, '@example.com') as email,
    case
        when {{ day }} >= 2 and id % 100 = 0 then concat('Renamed', id)
        else concat('First', id % 997)
    end as first_name,
    concat('Last', id % 4999) as last_name,
    element_at(array('free', 'starter', 'pro', 'enterprise'), cast(id % 4 + 1 as int)) as plan,
    timestamp_seconds(1577836800 + id * 7919 % 126230400) as signed_up_at,
    ((id * 2654435761) % 1000000) / 100.0 as lifetime_value,
    element_at(array('US', 'DE', 'FR', 'GB', 'IN', 'BR', 'JP'), cast(id % 7 + 1 as int)) as country
from range(1, {{ last_id }} + 1)
"""


POSTGRES_PROFILES_YML = """\
bench_capture:
  target: postgres
  outputs:
    postgres:
      type: postgres
      host: "{host}"
      port: {port}
      user: "{user}"
      pass: "{password}"
      dbname: "{dbname}"
      schema: {schema}
      threads: 4
"""

# the same rows as MODEL_SQL, in Postgres
POSTGRES_MODEL_SQL = """\
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
    (array['free', 'starter', 'pro', 'enterprise'])[(id % 4) + 1] as plan,
    timestamp '2020-01-01 00:00:00' + make_interval(secs => id * 7919 % 126230400) as signed_up_at,
    ((id * 2654435761) % 1000000) / 100.0 as lifetime_value,
    (array['US', 'DE', 'FR', 'GB', 'IN', 'BR', 'JP'])[(id % 7) + 1] as country
from generate_series(1::bigint, {{ last_id }}::bigint) as ids(id)
"""


def spark_settings(base: Path, shuffle_partitions: int, driver_memory: str) -> dict[str, str]:
    """A local Spark for millions of rows: tests/spark_session.py's settings (local[2], no UI,
    parquet tables under one warehouse directory) but with a few shuffle partitions instead of
    one, adaptive execution and broadcast joins left on, snappy parquet and the JVM's default
    JIT and collector, and the embedded Derby metastore (one process: this one)."""
    return {
        "spark.master": "local[2]",
        "spark.driver.memory": driver_memory,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.default.parallelism": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(base / "warehouse"),
        "spark.local.dir": str(base / "scratch"),
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.sql.sources.default": "parquet",
        "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version": "2",
        "spark.hadoop.parquet.enable.summary-metadata": "false",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={base / 'derby'}",
    }


class BenchError(Exception):
    pass


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float


def median_wall(samples: list[Sample]) -> float:
    return statistics.median(s.wall for s in samples)


def median_cpu(samples: list[Sample]) -> float:
    return statistics.median(s.cpu for s in samples)


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


@dataclass
class Result:
    rows: int
    day1: Sample | None = None
    without_capture: list[Sample] = field(default_factory=list)
    with_capture: list[Sample] = field(default_factory=list)
    copy: list[Sample] = field(default_factory=list)
    longest_dbt_run: float = 0.0
    statements: list[tuple[float, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    @property
    def capture_wall(self) -> float:
        return median_wall(self.with_capture) - median_wall(self.without_capture)

    @property
    def capture_cpu(self) -> float:
        return median_cpu(self.with_capture) - median_cpu(self.without_capture)

    @property
    def ratio_wall(self) -> float:
        return ratio(self.capture_wall, median_wall(self.copy))

    @property
    def ratio_cpu(self) -> float:
        return ratio(self.capture_cpu, median_cpu(self.copy))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Project:
    """A scratch dbt project in a temporary directory, with its own DuckDB file."""

    def __init__(self, workdir: Path, package: Path, send: list[str] | None) -> None:
        self.dir = workdir
        self.db = workdir / "bench.duckdb"
        self.commands: list[str] = []
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

    def dbt(self, *args: str) -> float:
        """Run dbt in the project; return its CPU time (user + system)."""
        command = [DBT, *args]
        text = shlex.join(command)
        if text not in self.commands:
            self.commands.append(text)
        cpu = children_cpu()
        done = subprocess.run(command, cwd=self.dir, env=self.env, text=True, capture_output=True)
        cpu = children_cpu() - cpu
        if done.returncode != 0:
            raise BenchError(
                f"{text} failed ({done.returncode}) in {self.dir}:\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return cpu

    def run_model(self, rows: int, day: int, capture: bool) -> tuple[Sample, float]:
        """One `dbt run` of the model: (its execution_time and dbt's CPU time, wall time)."""
        variables = json.dumps({"rows": rows, "day": day, "capture": capture})
        started = time.perf_counter()
        cpu = self.dbt("run", "--select", MODEL, "--vars", variables)
        wall = time.perf_counter() - started
        results = json.loads((self.dir / "target" / "run_results.json").read_text())
        for result in results["results"]:
            if result["unique_id"].endswith(f".{MODEL}"):
                if result["status"] != "success":
                    raise BenchError(f"{MODEL}: {result['status']}: {result.get('message')}")
                return Sample(float(result["execution_time"]), cpu), wall
        raise BenchError(f"{MODEL} is not in run_results.json")

    def table(self, role: str) -> str:
        return f"{BOOKKEEPING_SCHEMA}.{MAPPING}__{role}"

    def mark_synced_sql(self) -> str:
        return (
            f"insert into {self.table('state')} "
            "(record_key, row_hash, change_version, synced_at) "
            f"select __sp_key, __sp_hash, __sp_version, current_timestamp "
            f"from {self.table('pending')} where __sp_op <> 'deleted'"
        )

    def mark_synced(self) -> int:
        """Emulate an acknowledged sync of every pending row, folded into the state as the next
        capture does with what `dbt-segment sync` records."""
        with duckdb.connect(str(self.db)) as con:
            con.execute(f"delete from {self.table('state')}")
            con.execute(self.mark_synced_sql())
            row = con.execute(f"select count(*) from {self.table('state')}").fetchone()
        return int(row[0]) if row else 0

    def pending_counts(self) -> dict[str, int]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            rows = con.execute(
                f"select __sp_op, count(*) from {self.table('pending')} group by 1"
            ).fetchall()
            invalid = con.execute(f"select count(*) from {self.table('invalid')}").fetchone()
        counts = dict.fromkeys(("added", "updated", "deleted"), 0)
        counts.update({str(op): int(n) for op, n in rows})
        counts["invalid"] = int(invalid[0]) if invalid else 0
        return counts

    def copy_sql(self) -> str:
        return f"create table {SCHEMA}.bench_copy as select * from {SCHEMA}.{MODEL}"

    def copy_times(self, repeats: int) -> list[Sample]:
        """`create table ... as select * from <model>` in DuckDB directly: the reference."""
        samples = []
        with duckdb.connect(str(self.db)) as con:
            for _ in range(repeats):
                con.execute(f"drop table if exists {SCHEMA}.bench_copy")
                cpu, started = own_cpu(), time.perf_counter()
                con.execute(self.copy_sql())
                samples.append(Sample(time.perf_counter() - started, own_cpu() - cpu))
            con.execute(f"drop table if exists {SCHEMA}.bench_copy")
        return samples

    def extra_commands(self) -> list[str]:
        return [
            f"(python duckdb, after day 1) {self.mark_synced_sql()}",
            f"(python duckdb, after day 2) {self.copy_sql()}",
        ]

    def model_statements(self) -> list[tuple[float, str]]:
        """Each statement of the model in the last `dbt run`, with its time (logs/dbt.log)."""
        log = self.dir / "logs" / "dbt.log"
        if not log.exists():
            return []
        text = log.read_text(errors="replace")
        text = text[max(text.rfind("Running with dbt="), 0) :]
        statements: list[tuple[float, str]] = []
        sql: list[str] | None = None
        for line in text.splitlines():
            if not line.startswith("\x1b"):  # a log line starts with a colour code
                if sql is not None:
                    sql.append(line)
                continue
            query = re.search(rf"On model\.[^:]+\.{MODEL}: (.*)$", line)
            status = re.search(r"SQL status: .* in ([0-9.]+) seconds", line)
            if query:
                sql = [query.group(1)]
            elif status and sql is not None:
                statement = re.sub(r"/\*.*?\*/", "", " ".join(sql), flags=re.S)
                statements.append((float(status.group(1)), " ".join(statement.split())))
                sql = None
        return statements


def jvm_cpu(pid: int) -> float:
    """User + system CPU time of process `pid` (the JVM PySpark started), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SparkProject(Project):
    """The scratch project on Spark: dbt runs in this process, so the model, the capture and
    the copy share one SparkSession. `base` holds the warehouse and the Derby metastore for
    every row count of the run (a JVM's warehouse is fixed): each project starts by dropping
    the databases the previous one left."""

    def __init__(
        self,
        workdir: Path,
        package: Path,
        send: list[str] | None,
        base: Path,
        settings: dict[str, str],
    ) -> None:
        super().__init__(workdir, package, send)
        self.base = base
        (workdir / "dbt_project.yml").write_text(
            DBT_PROJECT_YML.replace(
                "    +materialized: table\n",
                "    +materialized: table\n    +file_format: parquet\n",
            ).replace("  segment_profiles:\n", "  segment_profiles:\n    file_format: parquet\n")
        )
        (workdir / "profiles.yml").write_text(
            SPARK_PROFILES_YML.format(schema=SCHEMA, parameters=json.dumps(settings))
        )
        (workdir / "models" / f"{MODEL}.sql").write_text(SPARK_MODEL_SQL)
        os.environ.update(
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DO_NOT_TRACK="1",
            BENCH_CAPTURE_WRITE_KEY="bench-write-key",
        )
        self.spark = self.start(settings)
        jvm = self.spark.sparkContext._jvm
        self.jvm_pid = int(jvm.java.lang.ProcessHandle.current().pid())
        for schema in (SCHEMA, BOOKKEEPING_SCHEMA):
            self.spark.sql(f"drop database if exists {schema} cascade")
        self.spark.sql(f"create database {SCHEMA}")
        from dbt.cli.main import dbtRunner

        self.runner = dbtRunner()
        self.fold_seconds = 0.0

    @staticmethod
    def start(settings: dict[str, str]):  # noqa: ANN205 (pyspark is imported lazily)
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.enableHiveSupport()
        for key, value in settings.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        return session

    @staticmethod
    def stop() -> None:
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()

    def cpu(self) -> float:
        return own_cpu() + jvm_cpu(self.jvm_pid)

    def sql(self, statement: str) -> list[tuple]:
        return [tuple(row) for row in self.spark.sql(statement).collect()]

    def dbt(self, *args: str) -> float:
        """Run dbt in this process; return the CPU time of this process and the JVM."""
        text = shlex.join(["dbt", *args])
        if text not in self.commands:
            self.commands.append(text)
        cpu = self.cpu()
        # --quiet: dbt's console output (its debug log still goes to logs/dbt.log)
        done = self.runner.invoke(
            [*args, "--quiet", "--project-dir", str(self.dir), "--profiles-dir", str(self.dir)]
        )
        cpu = self.cpu() - cpu
        if not done.success:
            errors = [
                r.message
                for r in getattr(done.result, "results", None) or []
                if str(r.status) in ("error", "fail")
            ]
            raise BenchError(f"{text} failed in {self.dir}: {done.exception or errors}")
        return cpu

    def mark_synced_sql(self) -> str:
        return (
            f"insert into {self.table('acks')} select __sp_key, __sp_hash, __sp_op, __sp_version,"
            f" current_timestamp() from {self.table('pending')}"
        )

    def fold_args(self) -> tuple[str, ...]:
        return (
            "run-operation",
            "segment_profiles.fold_acknowledgements",
            "--args",
            json.dumps({"mapping_name": MAPPING}),
        )

    def mark_synced(self) -> int:
        """What an acknowledged sync of every pending row records (the acks), folded into the
        state as the next capture would, but now: day 2's runs are then alike."""
        self.sql(self.mark_synced_sql())
        started = time.perf_counter()
        self.dbt(*self.fold_args())
        self.fold_seconds = time.perf_counter() - started
        rows = self.sql(f"select count(*) from {self.table('state')} where row_hash is not null")
        return int(rows[0][0])

    def pending_counts(self) -> dict[str, int]:
        rows = self.sql(f"select __sp_op, count(*) from {self.table('pending')} group by 1")
        invalid = self.sql(f"select count(*) from {self.table('invalid')}")
        counts = dict.fromkeys(("added", "updated", "deleted"), 0)
        counts.update({str(op): int(n) for op, n in rows})
        counts["invalid"] = int(invalid[0][0])
        return counts

    def copy_sql(self) -> str:
        return f"create table {SCHEMA}.bench_copy using parquet as select * from {SCHEMA}.{MODEL}"

    def copy_times(self, repeats: int) -> list[Sample]:
        """`create table ... using parquet as select * from <model>` in the same SparkSession."""
        samples = []
        for _ in range(repeats):
            self.sql(f"drop table if exists {SCHEMA}.bench_copy")
            cpu, started = self.cpu(), time.perf_counter()
            self.sql(self.copy_sql())
            samples.append(Sample(time.perf_counter() - started, self.cpu() - cpu))
        self.sql(f"drop table if exists {SCHEMA}.bench_copy")
        return samples

    def extra_commands(self) -> list[str]:
        return [
            f"(this process's SparkSession, after day 1, before the run-operation)"
            f" {self.mark_synced_sql()}",
            f"(this process's SparkSession, after day 2) {self.copy_sql()}",
        ]


def server_cpu(postmaster: int) -> float:
    """User + system CPU time of a Postgres server: the postmaster's own, its reaped children's
    (backends of connections already closed) and its live children's (from /proc)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile: its time is in the postmaster's now
            continue
        pid, parent = int(entry.name), int(fields[1])
        if pid == postmaster:
            ticks += sum(int(n) for n in fields[11:15])  # utime, stime, cutime, cstime
        elif parent == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class PostgresProject(Project):
    """The scratch project on a throwaway Postgres server (tests/pg_server.py), one per row
    count. CPU time: the client process's plus the server's."""

    def __init__(self, workdir: Path, package: Path, send: list[str] | None) -> None:
        super().__init__(workdir, package, send)
        sys.path.insert(0, str(REPO_ROOT / "tests"))
        from pg_server import start_postgres

        self.server = start_postgres()
        pid_file = self.server.data_dir / "postmaster.pid"
        self.postmaster = int(pid_file.read_text().split()[0])
        (workdir / "profiles.yml").write_text(
            POSTGRES_PROFILES_YML.format(
                host=self.server.host,
                port=self.server.port,
                user=self.server.user,
                password=self.server.password,
                dbname=self.server.dbname,
                schema=SCHEMA,
            )
        )
        (workdir / "models" / f"{MODEL}.sql").write_text(POSTGRES_MODEL_SQL)

    def close(self) -> None:
        self.server.stop()

    def connect(self):  # noqa: ANN201 (psycopg2 is imported lazily)
        import psycopg2

        return psycopg2.connect(self.server.dsn())

    def sql(self, statement: str) -> list[tuple]:
        with self.connect() as con, con.cursor() as cur:
            cur.execute(statement)
            rows = cur.fetchall() if cur.description else []
        con.close()
        return rows

    def dbt(self, *args: str) -> float:
        """Run dbt in the project; return its CPU time and the server's meanwhile."""
        server = server_cpu(self.postmaster)
        client = super().dbt(*args)
        return client + server_cpu(self.postmaster) - server

    def mark_synced(self) -> int:
        self.sql(f"delete from {self.table('state')}")
        self.sql(self.mark_synced_sql())
        return int(self.sql(f"select count(*) from {self.table('state')}")[0][0])

    def pending_counts(self) -> dict[str, int]:
        rows = self.sql(f"select __sp_op, count(*) from {self.table('pending')} group by 1")
        invalid = self.sql(f"select count(*) from {self.table('invalid')}")
        counts = dict.fromkeys(("added", "updated", "deleted"), 0)
        counts.update({str(op): int(n) for op, n in rows})
        counts["invalid"] = int(invalid[0][0])
        return counts

    def copy_times(self, repeats: int) -> list[Sample]:
        """`create table ... as select * from <model>` through psycopg2: the reference."""
        samples = []
        for _ in range(repeats):
            self.sql(f"drop table if exists {SCHEMA}.bench_copy")
            cpu = own_cpu() + server_cpu(self.postmaster)
            started = time.perf_counter()
            self.sql(self.copy_sql())
            wall = time.perf_counter() - started
            samples.append(Sample(wall, own_cpu() + server_cpu(self.postmaster) - cpu))
        self.sql(f"drop table if exists {SCHEMA}.bench_copy")
        return samples

    def extra_commands(self) -> list[str]:
        return [
            f"(psycopg2, after day 1) delete from {self.table('state')}; {self.mark_synced_sql()}",
            f"(psycopg2, after day 2) {self.copy_sql()}",
        ]


def expected_day2(rows: int) -> dict[str, int]:
    return {"added": rows // 100, "updated": rows // 100, "deleted": 0, "invalid": 0}


def bench(
    rows: int,
    repeats: int,
    package: Path,
    send: list[str] | None,
    keep: bool,
    spark: tuple[Path, dict[str, str]] | None = None,
    postgres: bool = False,
) -> Result:
    """One row count. `spark`: (the run's base directory, the Spark settings); `postgres`: on a
    throwaway Postgres server; neither: DuckDB."""
    if spark is None:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-capture-{rows}-"))
    else:
        workdir = spark[0] / f"project-{rows}"
    result = Result(rows)
    project: Project | None = None
    try:
        if postgres:
            project = PostgresProject(workdir, package, send)
        elif spark is None:
            project = Project(workdir, package, send)
        else:
            project = SparkProject(workdir, package, send, *spark)
        print(f"\n[{rows:,} rows] scratch project: {workdir}", flush=True)
        project.dbt("deps")

        result.day1, wall = project.run_model(rows, day=1, capture=True)
        result.longest_dbt_run = wall
        day1 = project.pending_counts()
        if day1 != {"added": rows, "updated": 0, "deleted": 0, "invalid": 0}:
            raise BenchError(f"day 1: expected {rows} added, got {day1}")
        synced = project.mark_synced()
        print(
            f"  day 1: model + capture {result.day1.wall:.2f}s; {synced:,} rows marked as synced",
            flush=True,
        )
        if isinstance(project, SparkProject):
            print(f"  (the acknowledgements folded in {project.fold_seconds:.2f}s)", flush=True)

        for attempt in range(1, repeats + 1):
            without, wall = project.run_model(rows, day=2, capture=False)
            result.longest_dbt_run = max(result.longest_dbt_run, wall)
            with_capture, wall = project.run_model(rows, day=2, capture=True)
            result.longest_dbt_run = max(result.longest_dbt_run, wall)
            result.without_capture.append(without)
            result.with_capture.append(with_capture)
            counts = project.pending_counts()
            if counts != expected_day2(rows):
                raise BenchError(f"day 2: expected {expected_day2(rows)}, got {counts}")
            print(
                f"  day 2, run {attempt}: model {without.wall:.2f}s (dbt cpu {without.cpu:.2f}s),"
                f" model + capture {with_capture.wall:.2f}s (dbt cpu {with_capture.cpu:.2f}s)",
                flush=True,
            )
        result.statements = project.model_statements()

        result.copy = project.copy_times(repeats)
        copies = ", ".join(f"{s.wall:.2f}s (cpu {s.cpu:.2f}s)" for s in result.copy)
        print(f"  copy: {copies}", flush=True)
        result.commands = [*project.commands, *project.extra_commands()]
        if keep:
            print(f"  kept: {workdir}")
        return result
    finally:
        if isinstance(project, PostgresProject):
            project.close()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def load_average() -> str:
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


def report(
    results: list[Result], command: str, repeats: int, started_load: str, profile: str = "duckdb"
) -> None:
    print(f"\ncommand: {command}")
    print(f"load average (1, 5, 15 min): {started_load} at the start, {load_average()} at the end")
    for r in results:
        print(f"commands at {r.rows:,} rows (in the scratch project):")
        for line in r.commands:
            print(f"  {line}")

    print(
        f"\nday 2, medians of {repeats} run(s), seconds. wall: the model's execution_time "
        "(run_results.json); capture = with - without"
    )
    print(
        f"{'rows':>12} {'without':>9} {'with':>9} {'capture':>9} {'copy':>8} {'capture/copy':>13}"
    )
    for r in results:
        print(
            f"{r.rows:>12,} {median_wall(r.without_capture):>9.2f} "
            f"{median_wall(r.with_capture):>9.2f} {r.capture_wall:>9.2f} "
            f"{median_wall(r.copy):>8.2f} {r.ratio_wall:>12.2f}x"
        )
    if profile == "spark":
        print(
            "\nCPU time (user + system) of this process and its JVM (dbt runs in-process: its "
            "parsing included, +-1-2s of noise), the same for the copy"
        )
    elif profile == "postgres":
        print(
            "\nCPU time (user + system): the dbt process's (startup included: +-1-2s of noise) "
            "plus the Postgres server's, and this process's plus the server's for the copy"
        )
    else:
        print(
            "\nCPU time (user + system): the dbt process's (startup included: +-1-2s of noise), "
            "and this process's for the copy"
        )
    print(
        f"{'rows':>12} {'without':>9} {'with':>9} {'capture':>9} {'copy':>8} {'capture/copy':>13}"
    )
    for r in results:
        print(
            f"{r.rows:>12,} {median_cpu(r.without_capture):>9.2f} "
            f"{median_cpu(r.with_capture):>9.2f} {r.capture_cpu:>9.2f} "
            f"{median_cpu(r.copy):>8.2f} {r.ratio_cpu:>12.2f}x"
        )
    print("\nday 1 (state empty, every row added), one run: model + capture, wall")
    for r in results:
        if r.day1 is not None:
            print(f"{r.rows:>12,} {r.day1.wall:>9.2f}")

    for r in results:
        if r.statements:
            print(
                f"\nstatements of the model in the last day-2 run with capture, {r.rows:,} rows "
                "(dbt.log, >= 0.05s):"
            )
            for seconds, sql in r.statements:
                if seconds >= 0.05:
                    print(f"  {seconds:8.2f}s  {sql[:110]}")
    for r in results:
        if r.longest_dbt_run > LONG_RUN_SECONDS:
            print(
                f"\nnote: one dbt run took {r.longest_dbt_run:.0f}s at {r.rows:,} rows "
                f"(more than {LONG_RUN_SECONDS // 60} minutes)"
            )

    goal = next((r for r in results if r.rows == GOAL_ROWS), None)
    if profile != "duckdb":
        print(f"\nthe goal ({GOAL_RATIO}x the copy at {GOAL_ROWS:,} rows) is DuckDB's: measured")
    elif goal is None:
        print(f"\ngoal: capture <= {GOAL_RATIO}x the copy at {GOAL_ROWS:,} rows: not measured")
    else:
        verdict = "met" if goal.ratio_wall <= GOAL_RATIO else "NOT met"
        print(
            f"\ngoal: capture <= {GOAL_RATIO}x the copy at {GOAL_ROWS:,} rows: "
            f"{goal.ratio_wall:.2f}x (wall), {verdict}; {goal.ratio_cpu:.2f}x in CPU time"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--rows", default="1000000,10000000", help="comma-separated row counts (%(default)s)"
    )
    parser.add_argument("--quick", action="store_true", help="100k and 1M rows")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--package",
        type=Path,
        default=REPO_ROOT,
        help="the segment_profiles package to install (default: this repository)",
    )
    parser.add_argument(
        "--send", help="the mapping's send list, e.g. added,updated,deleted (default: unset)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch projects")
    parser.add_argument(
        "--profile", choices=["duckdb", "postgres", "spark"], default="duckdb", help="%(default)s"
    )
    parser.add_argument(
        "--shuffle-partitions",
        type=int,
        default=4,
        help="spark: spark.sql.shuffle.partitions and spark.default.parallelism (%(default)s)",
    )
    parser.add_argument(
        "--driver-memory", default="4g", help="spark: spark.driver.memory (%(default)s)"
    )
    args = parser.parse_args(argv)

    try:
        rows = [100_000, 1_000_000] if args.quick else [int(n) for n in args.rows.split(",")]
    except ValueError:
        parser.error(f"--rows: not a comma-separated list of integers: {args.rows}")
    if any(n < 100 for n in rows) or args.repeats < 1:
        parser.error("row counts must be >= 100, and --repeats >= 1")
    send = [s.strip() for s in args.send.split(",")] if args.send else None
    command = shlex.join([sys.executable, *(sys.argv if argv is None else [__file__, *argv])])
    started_load = load_average()
    print(f"command: {command}\nload average (1, 5, 15 min): {started_load}", flush=True)

    spark = None
    if args.profile == "spark":
        base = Path(tempfile.mkdtemp(prefix="bench-capture-spark-"))
        settings = spark_settings(base, args.shuffle_partitions, args.driver_memory)
        spark = (base, settings)
        print(f"spark settings: {json.dumps(settings)}", flush=True)
    results: list[Result] = []
    try:
        for n in rows:
            results.append(
                bench(
                    n,
                    args.repeats,
                    args.package.resolve(),
                    send,
                    args.keep,
                    spark,
                    postgres=args.profile == "postgres",
                )
            )
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if spark is not None:
            SparkProject.stop()
            if args.keep:
                print(f"kept: {spark[0]}")
            else:
                shutil.rmtree(spark[0], ignore_errors=True)
    report(results, command, args.repeats, started_load, profile=args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
