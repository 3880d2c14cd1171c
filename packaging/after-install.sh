#!/bin/sh
# What follows putting syncward's files in place, for scripts/install.sh and
# the .deb's postinst alike: the state directory, a starter config when there
# is none (an existing one is never touched), and the unit enabled where
# systemd runs. Run again, it changes nothing but a restart.
#   ROOT    where the files were put: "" for this machine, a directory for a
#           staged install (DESTDIR, dpkg's DPKG_ROOT): nothing is enabled then
#   PREFIX  where syncward lives under ROOT (/opt/syncward)
set -eu
ROOT=${ROOT:-}
PREFIX=${PREFIX:-/opt/syncward}
syncward="$ROOT$PREFIX/bin/syncward"
conf=/etc/syncward/syncward.yaml

# the default state_dir: the journal, the lock, the control socket
install -d -m 0700 "$ROOT/var/lib/syncward"
install -d -m 0755 "$ROOT/etc/syncward"
if [ -e "$ROOT$conf" ]; then
  echo "syncward: keeping the config $conf"
else
  "$syncward" init "$ROOT$conf" >/dev/null
  echo "syncward: wrote a starter config, $conf: replace what is marked CHANGE"
fi

if [ -n "$ROOT" ]; then
  echo "syncward: installed under $ROOT: the service is neither enabled nor started there"
  exit 0
fi
# /run/systemd/system exists only while systemd is PID 1 (sd_booted)
if [ ! -d /run/systemd/system ]; then
  echo "syncward: systemd is not running on this machine: the unit is installed but not enabled;"
  echo "  run 'syncward start -c $conf' under the supervisor in use, or enable the unit on a systemd host"
  exit 0
fi
systemctl daemon-reload
systemctl enable syncward.service
if "$syncward" check -c "$conf" >/dev/null 2>&1; then
  # a restart, so an upgrade runs the new code
  systemctl restart syncward.service
  echo "syncward: the service is enabled and running (systemctl status syncward)"
else
  echo "syncward: the service is enabled but not started: $conf does not pass 'syncward check' yet;"
  echo "  edit it, run 'syncward check -c $conf' and 'syncward doctor -c $conf', then 'systemctl start syncward'"
fi
