#!/usr/bin/env bash
# Builds syncward_<version>_<arch>.deb from the built tree (bash scripts/setup.sh
# first) with dpkg-deb, into OUTDIR (default: the current directory).
#   npm run package:deb [-- OUTDIR]
# The files are what scripts/install.sh --files-only puts in place (/opt/syncward,
# /usr/bin/syncward, the unit in /lib/systemd/system); the postinst runs
# packaging/after-install.sh (state dir, starter config, enable), as install.sh does.
set -euo pipefail
out=$(realpath "${1:-.}")
cd "$(dirname "$0")/.."
[ -d "$out" ] || { echo "package-deb: $out is not a directory" >&2; exit 2; }
command -v dpkg-deb >/dev/null || { echo "package-deb: dpkg-deb is missing (apt-get install dpkg)" >&2; exit 1; }

version=$(node -p 'require("./package.json").version')
# the native addons are built for this machine's architecture
arch=$(dpkg --print-architecture)
# better-sqlite3 is built against this node's ABI (not N-API): it loads in this major only
node_major=$(node -p 'process.versions.node.split(".")[0]')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$work/syncward
DESTDIR=$pkg PREFIX=/opt/syncward BINDIR=/usr/bin UNITDIR=/lib/systemd/system \
  bash scripts/install.sh --no-build --files-only >/dev/null

mkdir -p "$pkg/DEBIAN"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: syncward
Version: $version
Architecture: $arch
Maintainer: syncward maintainers <syncward@localhost>
Installed-Size: $(du -sk "$pkg" | cut -f1)
Depends: rsync, nodejs (>= $node_major), nodejs (<< $((node_major + 1)))
Recommends: openssh-client
Section: admin
Priority: optional
Description: real-time directory mirroring over rsync, triggered by inotify
 syncward keeps many servers' copies of a directory tree identical to a
 source in near real time, and detects, reports and repairs drift.
CONTROL

# Maintainer scripts honour DPKG_ROOT (dpkg --root with --force-script-chrootless).
cat > "$pkg/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  ROOT="${DPKG_ROOT:-}" PREFIX=/opt/syncward sh "${DPKG_ROOT:-}/opt/syncward/packaging/after-install.sh"
fi
SCRIPT
cat > "$pkg/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
# stopped before its files change (upgrade) or go (remove); the postinst of an upgrade restarts it
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
  systemctl stop syncward.service || true
  [ "$1" != remove ] || systemctl disable syncward.service || true
fi
SCRIPT
cat > "$pkg/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
# /etc/syncward and /var/lib/syncward (the journal) stay on remove, go on purge
if [ "$1" = purge ]; then
  rm -rf "${DPKG_ROOT:-}/etc/syncward" "${DPKG_ROOT:-}/var/lib/syncward"
fi
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
SCRIPT
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

deb=$out/syncward_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$deb" >/dev/null
echo "$deb"
