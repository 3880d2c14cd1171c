#!/usr/bin/env bash
# Installs syncward from this clone as a service (as root):
#
#   bash scripts/install.sh                      set up and build (scripts/setup.sh), then install
#   bash scripts/install.sh --no-build           install the tree as it is built now
#   bash scripts/install.sh --uninstall          remove the program, the command and the unit;
#                                                /etc/syncward and /var/lib/syncward stay
#   bash scripts/install.sh --uninstall --purge  ... and those two as well
#
# It puts the built program with its production npm packages in PREFIX, the
# command `syncward` in BINDIR, the systemd unit in UNITDIR, then runs
# packaging/after-install.sh: /var/lib/syncward, /etc/syncward/syncward.yaml
# from `syncward init` when there is none, and `systemctl enable` where
# systemd runs. Run again, it replaces the program and keeps the config.
#
# Environment:
#   PREFIX   /opt/syncward
#   BINDIR   /usr/local/bin
#   UNITDIR  /etc/systemd/system
#   DESTDIR  a directory to install under instead of / (a staged install, for
#            packaging and tests): no apt, nothing enabled
# --files-only installs the program, the command and the unit and stops
# there (what the .deb ships; its postinst does the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
clone=$PWD
umask 022

PREFIX=${PREFIX:-/opt/syncward}
BINDIR=${BINDIR:-/usr/local/bin}
UNITDIR=${UNITDIR:-/etc/systemd/system}
DESTDIR=${DESTDIR:-}
build=1 uninstall=0 purge=0 files_only=0
usage="usage: bash scripts/install.sh [--no-build] [--files-only] | --uninstall [--purge]"
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --files-only) files_only=1 ;;
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install: unknown option '$arg' ($usage)" >&2; exit 2 ;;
  esac
done
fail() { echo "install: $1" >&2; exit "${2:-1}"; }
[ "$purge" -eq 0 ] || [ "$uninstall" -eq 1 ] || fail "--purge goes with --uninstall ($usage)" 2
for v in PREFIX BINDIR UNITDIR; do
  case "${!v}" in
    *[!A-Za-z0-9._/+-]*) fail "$v may hold only letters, digits and . _ / + - (it is '${!v}')" 2 ;;
    /?*) ;;
    *) fail "$v must be an absolute path other than / (it is '${!v}')" 2 ;;
  esac
done
[ -z "$DESTDIR" ] || [[ "$DESTDIR" == /* ]] || fail "DESTDIR must be an absolute path (it is '$DESTDIR')" 2
[ -n "$DESTDIR" ] || [ "$(id -u)" -eq 0 ] || fail "run it as root (sudo bash scripts/install.sh), or set DESTDIR for a staged install"

dest=$DESTDIR$PREFIX
command=$DESTDIR$BINDIR/syncward
unit=$DESTDIR$UNITDIR/syncward.service
# written into PREFIX by this script: a PREFIX without it is not ours to replace or remove
marker=.installed-by-syncward-install
systemd_here() { [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; }

if [ "$uninstall" -eq 1 ]; then
  if [ -e "$dest" ] && [ ! -e "$dest/$marker" ]; then
    fail "$dest was not installed by scripts/install.sh (no $marker; a .deb? then: apt remove syncward): left alone"
  fi
  if systemd_here; then
    systemctl disable --now syncward.service 2>/dev/null || true
  fi
  rm -f "$unit"
  systemd_here && systemctl daemon-reload
  # the command only when it is our link
  if [ -L "$command" ] && [ "$(readlink -f "$command")" = "$(readlink -f "$dest/bin/syncward")" ]; then
    rm -f "$command"
  fi
  rm -rf "$dest"
  echo "install: removed $PREFIX, $BINDIR/syncward and $UNITDIR/syncward.service"
  if [ "$purge" -eq 1 ]; then
    rm -rf "$DESTDIR/etc/syncward" "$DESTDIR/var/lib/syncward"
    echo "install: purged /etc/syncward and /var/lib/syncward"
  else
    echo "install: kept /etc/syncward (config) and /var/lib/syncward (journal); --uninstall --purge removes them"
  fi
  exit 0
fi

if [ -z "$DESTDIR" ]; then
  # what the daemon runs: rsync, and ssh for ssh:// targets
  bash scripts/apt-missing.sh rsync openssh-client | sed 's/^/install: /'
fi
[ "$build" -eq 0 ] || bash scripts/setup.sh
for built in dist/bundle/main.js build/Release/syncward_inotify.node dist/ui/index.html node_modules/better-sqlite3; do
  [ -e "$built" ] || fail "$clone/$built is missing: build first (bash scripts/setup.sh), or leave out --no-build"
done
if [ -e "$dest" ] && [ ! -e "$dest/$marker" ] && [ -n "$(ls -A "$dest")" ]; then
  fail "$dest exists and was not installed by scripts/install.sh (no $marker): choose another PREFIX, or remove it first"
fi
if [ -e "$command" ] && [ ! -L "$command" ]; then
  fail "$command exists and is not a link this script made: remove it first, or set BINDIR"
fi

# Stage next to PREFIX (same file system), then swap: a failed install leaves the old one whole.
stage="$dest.new"
old="$dest.old"
rm -rf "$stage" "$old"
mkdir -p "$stage"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$stage"' EXIT
[ -d node_modules ] || fail "$clone/node_modules is missing: run bash scripts/setup.sh"
# the files package.json names ("files"), as npm would publish them
node -e 'const p = require("./package.json"); for (const f of [...p.files, "package.json", "README.md"]) console.log(f)' |
  while read -r f; do cp -R --parents "$f" "$stage/"; done
# the production npm packages as installed, with their native builds (better-sqlite3)
packages=$(npm ls --omit=dev --parseable --all --offline 2>"$tmp/npm-ls") ||
  fail "npm ls finds the installed npm packages incomplete ($(head -c 300 "$tmp/npm-ls")): run bash scripts/setup.sh"
grep '/node_modules/' <<<"$packages" | while read -r p; do cp -R --parents "${p#"$clone"/}" "$stage/"; done
# better-sqlite3 loads only its .node: its objects and the SQLite sources are 30 MB of build leftovers
sqlite=$stage/node_modules/better-sqlite3
mv "$sqlite/build/Release/better_sqlite3.node" "$tmp/"
rm -rf "$sqlite/build" "$sqlite/deps" "$sqlite/src"
mkdir -p "$sqlite/build/Release"
mv "$tmp/better_sqlite3.node" "$sqlite/build/Release/"
[ "$files_only" -eq 1 ] || echo "installed from $clone by scripts/install.sh" > "$stage/$marker"
if [ -e "$dest" ]; then mv "$dest" "$old"; fi
mv "$stage" "$dest"
rm -rf "$old"

mkdir -p "$(dirname "$command")" "$(dirname "$unit")"
# relative, so it also works under DESTDIR; node resolves the link, so bin/ finds dist/
ln -sfr "$dest/bin/syncward" "$command"
sed "s|/opt/syncward|$PREFIX|g" packaging/syncward.service > "$unit"
echo "install: $PREFIX ($("$dest/bin/syncward" --version)), $BINDIR/syncward, $UNITDIR/syncward.service"

[ "$files_only" -eq 1 ] && exit 0
ROOT=$DESTDIR PREFIX=$PREFIX sh "$dest/packaging/after-install.sh"
