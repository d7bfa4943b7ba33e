#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium exists for the test suite: the sync report's test
# (tests/functional/test_report.py) renders target/segment_report.html with it. Only installs.
set -euo pipefail
source "$(dirname "$0")/apt_install.sh"

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
apt_install ensure_chromium.sh chromium
if ! command -v chromium >/dev/null 2>&1; then
  echo "ensure_chromium.sh: chromium installed but no \`chromium\` command on PATH" >&2
  exit 1
fi
