"""A local Spark for tests: the settings dbt-spark's `method: session` is given, and the session.

Every process that opens Spark with :func:`spark_settings` sees the same databases and tables:
the tables are parquet files under one warehouse directory, and the Hive metastore that names
them lives in a PostgreSQL database (a throwaway cluster from tests/pg_server.py). Spark's
default metastore, embedded Derby, admits one process at a time, so a child `dbt-segment sync`
could not open it while the test process holds it; PostgreSQL admits any number.

Deliberately free of pytest imports so fixtures, child processes and benchmarks can all use it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = [
    "POSTGRES_JDBC_JAR",
    "spark_settings",
    "prepare_metastore",
    "start_spark",
    "stop_spark",
]

# Debian's libpostgresql-jdbc-java (scripts/ensure_spark.sh installs it)
POSTGRES_JDBC_JAR = Path("/usr/share/java/postgresql.jar")

_INSTALL_HINT = (
    f"{POSTGRES_JDBC_JAR} is missing: the Spark tests keep their Hive metastore in PostgreSQL. "
    "Run `make test` (it calls scripts/ensure_spark.sh) or `apt-get install "
    "libpostgresql-jdbc-java`."
)

# Tables of a few rows: every knob trades throughput on big data for latency on tiny data.
_FAST_LOCAL = {
    "spark.master": "local[2]",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # one task per shuffle and per scan instead of 200 (shuffle) and one per core (scan)
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    # AQE re-plans after each stage: pure overhead when every stage is one tiny task
    "spark.sql.adaptive.enabled": "false",
    # the one-process warehouse needs no speculation, no dynamic allocation, no broadcast timeouts
    "spark.sql.autoBroadcastJoinThreshold": "-1",
    "spark.sql.parquet.compression.codec": "uncompressed",
    "spark.hadoop.parquet.enable.summary-metadata": "false",
    "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version": "2",
    # no host name lookup, no warning that it resolves to a loopback address
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.memory": "1g",
    # no .crc file beside every file written, read and renamed: the local disk is the
    # warehouse here, not a stand-in for HDFS or object storage that checksums by itself
    "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    "spark.hadoop.fs.file.impl.disable.cache": "true",
    # no Java source generated and compiled per query: on a few rows interpreting is cheaper
    # (with the raw file system: one identify test's JVM used 118-120 s of CPU against 133-138)
    "spark.sql.codegen.wholeStage": "false",
}
# a JVM that lives a few minutes on tiny data: C1 only and the serial collector start faster
_JAVA_OPTIONS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss4m"


def spark_settings(base_dir: Path, metastore: Any) -> dict[str, str]:
    """The `server_side_parameters` of a dbt-spark `method: session` target: parquet tables
    under `base_dir`, named in a Hive metastore in the PostgreSQL database `metastore` (a
    tests/pg_server.py PostgresServer). Any process opening Spark with them sees the same tables.
    """
    if not POSTGRES_JDBC_JAR.is_file():
        raise RuntimeError(_INSTALL_HINT)
    base_dir = Path(base_dir)
    url = f"jdbc:postgresql://{metastore.host}:{metastore.port}/{metastore.dbname}"
    return {
        **_FAST_LOCAL,
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(base_dir / "warehouse"),
        "spark.local.dir": str(base_dir / "scratch"),
        # `create table ... as select` without `using` makes a parquet table, not a Hive one
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.sql.sources.default": "parquet",
        # another process may rewrite a table's files: list them again on every query
        "spark.sql.filesourceTableRelationCacheSize": "0",
        # the metastore: PostgreSQL's JDBC driver on the driver's class path, and the schema
        # created by DataNucleus on first use (Spark ships no schema scripts). Not with
        # autoCreateAll: it adds foreign keys lazily, inside the statement that first needs a
        # table, and that ALTER TABLE then waits for a lock its own transaction holds (deadlock).
        "spark.driver.extraClassPath": str(POSTGRES_JDBC_JAR),
        "spark.hadoop.javax.jdo.option.ConnectionURL": url,
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
        "spark.hadoop.javax.jdo.option.ConnectionUserName": metastore.user,
        "spark.hadoop.javax.jdo.option.ConnectionPassword": metastore.password,
        "spark.hadoop.datanucleus.schema.autoCreateTables": "true",
        "spark.hadoop.datanucleus.schema.autoCreateColumns": "true",
        "spark.hadoop.datanucleus.schema.autoCreateConstraints": "false",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        # Derby is not used; should anything start it, not in the working directory
        "spark.driver.extraJavaOptions": f"{_JAVA_OPTIONS} -Dderby.system.home={base_dir}/derby",
    }


def start_spark(settings: dict[str, str]) -> Any:
    """Start (or join) this process's SparkSession with `settings`, quietly; the session that
    dbt-spark's session cursor then finds with `getOrCreate()`. The metastore is opened here
    too (its first use takes seconds), so a bad setting fails now, not in some test's dbt run."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    session.catalog.listDatabases()
    return session


def prepare_metastore(session: Any) -> None:
    """Have DataNucleus create the metastore's tables for databases and tables now, in this
    process: it creates each on first need, and two processes needing one at once would race."""
    session.sql("create database if not exists segment_metastore_warmup")
    session.sql("create table segment_metastore_warmup.t using parquet as select 1 as n")
    session.sql("drop database segment_metastore_warmup cascade")


def stop_spark() -> None:
    """Stop this process's SparkSession, if any (the JVM stays; a new session may start)."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
