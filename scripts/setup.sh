#!/usr/bin/env bash
# Sets up syncward on a fresh Debian machine: system packages that are missing
# (rsync; ssh client and server for the tests; compiler tools for the inotify
# addon; chromium for the dashboard's browser test), then the npm packages,
# then the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for pkg in rsync openssh-client openssh-server python3 make g++ ${SYNCWARD_EXTRA_PACKAGES:-}; do
  have "$pkg" || need+=("$pkg")
done
# the dashboard test drives Debian's chromium (big: only when it is not there at all)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing with apt: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

node -e 'const [maj] = process.versions.node.split(".").map(Number); if (maj < 20) { console.error(`setup: Node >= 20 is required, found ${process.version}`); process.exit(1); }'

echo "setup: npm packages"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
echo "setup: building (native inotify addon + TypeScript + dashboard)"
npm run --silent build
echo "setup: done ($(rsync --version | head -1))"
