#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl) exist for the test suite.
# Tests start their own throwaway clusters (tests/pg_server.py); this script only installs.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"

have_initdb() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if have_initdb; then
  exit 0
fi

apt_install ensure_postgres.sh postgresql
SUDO=("${APT_SUDO[@]}")

# Debian's postinst creates and may start a default 'main' cluster on port 5432. The tests
# never use it, so stop it: it would hold memory for the whole CI job and could answer
# connections meant for a misconfigured test. Only clusters created by this install are
# touched, because we got here only when no PostgreSQL was installed before.
if command -v pg_lsclusters >/dev/null 2>&1; then
  while read -r version cluster _port status _rest; do
    if [[ "${status}" == online* ]]; then
      "${SUDO[@]}" pg_ctlcluster "${version}" "${cluster}" stop || true
    fi
  done < <(pg_lsclusters --no-header 2>/dev/null || true)
fi

if ! have_initdb; then
  echo "ensure_postgres.sh: postgresql installed but no initdb under" \
    "/usr/lib/postgresql/*/bin" >&2
  exit 1
fi
