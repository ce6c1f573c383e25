#!/usr/bin/env bash
# Prints the path of schemathesis (PyPI, pinned), creating its virtualenv the first time under
# ~/.cache/openstack-tenants/schemathesis-venv (kept across runs, like the test cloud's packages).
# Used by test/unit/api/schemathesis.test.ts.
set -euo pipefail

VERSION=4.32.5
VENV="${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-tenants/schemathesis-venv}"
BIN="$VENV/bin/schemathesis"

installed() { [ -x "$BIN" ] && [ "$("$BIN" --version 2>/dev/null)" = "schemathesis, version $VERSION" ]; }
if ! installed; then
  mkdir -p "$(dirname "$VENV")"
  # Two test runs at once build it once: the second waits for the first.
  exec 9>"$VENV.lock"
  flock 9
  if ! installed; then
    echo "schemathesis: creating $VENV (schemathesis==$VERSION from PyPI)" >&2
    python3 -m venv "$VENV" >&2 || { echo "schemathesis: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
  fi
fi
echo "$BIN"
