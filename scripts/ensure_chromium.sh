#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium exists for the test suite: the sync report's test
# (tests/functional/test_report.py) renders target/segment_report.html with it. Only installs.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  # -n: fail instead of hanging on a password prompt in CI or under make.
  SUDO=(sudo -n)
else
  echo "ensure_chromium.sh: chromium is not installed and this is neither root nor" \
    "a user with sudo; install it with: apt-get install chromium" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium.sh: apt-get not found; install Chromium (a \`chromium\` command)" \
    "with your package manager and re-run" >&2
  exit 1
fi

echo "ensure_chromium.sh: installing chromium via apt-get" >&2
if ! "${SUDO[@]}" apt-get update \
  || ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends chromium; then
  echo "ensure_chromium.sh: could not install chromium with apt-get" \
    "(try: sudo apt-get install chromium)" >&2
  exit 1
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "ensure_chromium.sh: chromium installed but no \`chromium\` command on PATH" >&2
  exit 1
fi
