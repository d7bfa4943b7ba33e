#!/usr/bin/env bash
# dbt-databricks 1.12 pins dbt-spark<1.11, which cannot live beside dbt-spark 1.11 in the main venv:
# the adapter-compile test renders the macros for Databricks in this venv of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DATABRICKS_VENV:-.venv-databricks}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed-1"
[ -f "$STAMP" ] && exit 0
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
REQUIREMENTS=("dbt-core>=1.10,<1.12" "dbt-databricks>=1.10,<1.13" "sqlglot>=25")
# the main venv's uv when make passes it (UV=.venv/bin/uv), pip otherwise
if ! [[ -n "${UV:-}" && -x "$UV" ]] \
  || ! "$UV" pip install --quiet --python "$VENV/bin/python" "${REQUIREMENTS[@]}"; then
  "$VENV/bin/python" -m pip install --quiet "${REQUIREMENTS[@]}"
fi
touch "$STAMP"
