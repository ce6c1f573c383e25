#!/usr/bin/env bash
# Installs the named Debian packages that are missing (as root), one install at a time across this
# project's test setups: the test cloud's packages, promtool and chromium are installed by setups that
# vitest starts side by side, and apt-get refuses to run while another holds its locks ("Could not get
# lock /var/lib/dpkg/lock-frontend"). Used by scripts/testcloud.sh, scripts/promtool.sh and the browser
# project's setup. `update` as the only argument refreshes the package lists under the same lock.
set -euo pipefail

[ "$(id -u)" -eq 0 ] || { echo "apt-install: installing $* needs root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
# A process outside the project (unattended-upgrades) may hold dpkg's lock too: apt waits for it.
APT=(apt-get -o DPkg::Lock::Timeout=600)
exec 9>"${TMPDIR:-/tmp}/openstack-tenants-apt.lock"
flock 9
if [ "$*" = update ]; then "${APT[@]}" update -qq >/dev/null; exit 0; fi
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
# Lists fetched earlier usually still name the packages: refresh them only when the install cannot.
"${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { "${APT[@]}" update -qq >/dev/null && "${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
