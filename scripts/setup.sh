#!/usr/bin/env bash
# Sets up syncward from a clone on Debian: the system packages it needs that
# are missing (rsync and the ssh client at run time; python3, make and g++ to
# build the inotify addon), then the npm packages, then the build. Safe to run
# again.
#
#   bash scripts/setup.sh          what the daemon and the demo need
#   bash scripts/setup.sh --test   and what the tests need besides: an sshd to
#                                  start on loopback, chromium for the dashboard
#
# A production source host needs neither sshd nor a browser: only --test
# installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

test_deps=0
for arg in "$@"; do
  case "$arg" in
    --test) test_deps=1 ;;
    *) echo "setup: unknown option '$arg' (usage: bash scripts/setup.sh [--test])" >&2; exit 2 ;;
  esac
done

packages=(rsync openssh-client python3 make g++)
[ "$test_deps" -eq 1 ] && packages+=(openssh-server)
# the dashboard test drives Debian's chromium (big: only when it is not there at all)
[ "$test_deps" -eq 1 ] && [ ! -x /usr/bin/chromium ] && packages+=(chromium)
# shellcheck disable=SC2086 # a list of package names
bash scripts/apt-missing.sh "${packages[@]}" ${SYNCWARD_EXTRA_PACKAGES:-} | sed 's/^/setup: /'

node -e 'const [maj] = process.versions.node.split(".").map(Number); if (maj < 20) { console.error(`setup: Node >= 20 is required, found ${process.version}`); process.exit(1); }'

echo "setup: npm packages"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
echo "setup: building (native inotify addon + TypeScript + dashboard)"
npm run --silent build
echo "setup: done ($(rsync --version | head -1))"
