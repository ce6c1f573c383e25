#!/usr/bin/env bash
# Prints the path of promtool, installing Debian's `prometheus` package (which holds it) when it is missing,
# as scripts/testcloud.sh installs its packages. Used by test/unit/cockpit/alerts.test.ts.
# The package's postinst starts the Prometheus daemon (on :9090) where an init system lets it (no
# policy-rc.d refusing): the tests need promtool only, so a daemon this script caused is stopped and kept
# from starting at boot; one that ran before is left alone.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "promtool: not installed, and installing Debian's prometheus package needs root" >&2; exit 1; }
echo "promtool: installing Debian's prometheus package" >&2
bash "$(dirname "$0")/apt-install.sh" prometheus
if [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus.service >/dev/null 2>&1 || true
elif [ -x /etc/init.d/prometheus ]; then
  /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  update-rc.d prometheus disable >/dev/null 2>&1 || true
fi
command -v promtool
