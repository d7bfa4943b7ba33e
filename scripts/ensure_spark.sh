#!/usr/bin/env bash
# Make sure the Spark test profile can run: a Java runtime for PySpark's JVM, and PostgreSQL's
# JDBC driver, because the Spark tests keep their Hive metastore in a throwaway PostgreSQL
# cluster (tests/spark_session.py) that a child `dbt-segment` process can share. Only installs.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"

if ! command -v java >/dev/null 2>&1; then
  apt_install ensure_spark.sh openjdk-17-jre-headless
fi
if [[ ! -f /usr/share/java/postgresql.jar ]]; then
  apt_install ensure_spark.sh libpostgresql-jdbc-java
fi
if [[ ! -f /usr/share/java/postgresql.jar ]]; then
  echo "ensure_spark.sh: libpostgresql-jdbc-java installed but no" \
    "/usr/share/java/postgresql.jar" >&2
  exit 1
fi
