#!/usr/bin/env bash
# Installs with apt those of the named Debian packages that are not installed
# (nothing, not even apt-get update, when all are). Used by setup.sh and
# install.sh.
#   bash scripts/apt-missing.sh PACKAGE...
set -euo pipefail
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need=()
for pkg in "$@"; do
  have "$pkg" || need+=("$pkg")
done
[ "${#need[@]}" -eq 0 ] && exit 0
echo "installing with apt: ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
