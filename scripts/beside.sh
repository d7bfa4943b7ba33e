#!/usr/bin/env bash
# Run two commands at once and fail if either fails: `beside.sh "BACKGROUND" FOREGROUND...`.
# The Spark suite runs beside the DuckDB and Postgres suites (Makefile); its output is printed
# whole after the foreground's, not interleaved with it.
set -uo pipefail
background="$1"
shift
log="$(mktemp -t beside.XXXXXX.log)"
bash -c "$background" >"$log" 2>&1 &
pid=$!
# a stopped make (Ctrl-C, CI's timeout) stops the background suite too; once it has ended,
# its pid is no longer ours to signal
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -f "$log"' EXIT
"$@"
foreground=$?
wait "$pid"
background_status=$?
pid=""
echo "--- $background (exit $background_status)"
cat "$log"
if [[ $foreground -ne 0 || $background_status -ne 0 ]]; then
  exit 1
fi
