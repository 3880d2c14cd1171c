#!/usr/bin/env bash
# A local demo: one source directory mirrored in real time to a local rsync
# daemon (with auth, on 127.0.0.1) and to a local directory. Everything lives
# under .demo/ in this checkout (SYNCWARD_DEMO_DIR: elsewhere); Ctrl-C stops it
# all. The commands it prints work as printed, from any directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(realpath -m "${SYNCWARD_DEMO_DIR:-$PWD/.demo}")
# this checkout's command, by its absolute path (an installed `syncward` may be another version)
syncward="$PWD/bin/syncward"
mkdir -p "$root"/{source,mirror-local,mirror-daemon,rsyncd}
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
user=demo
pass=$(node -e 'console.log(require("crypto").randomBytes(12).toString("hex"))')
umask 077
printf '%s:%s\n' "$user" "$pass" > "$root/rsyncd/secrets"
printf '%s\n' "$pass" > "$root/rsyncd/client.pass"
cat > "$root/rsyncd/rsyncd.conf" <<CONF
# rsync daemon for the demo target: module "www" with an auth user.
pid file = $root/rsyncd/rsyncd.pid
socket options = TCP_NODELAY
use chroot = no
[www]
    path = $root/mirror-daemon
    read only = no
    auth users = $user
    secrets file = $root/rsyncd/secrets
$( [ "$(id -u)" -eq 0 ] && printf '    uid = root\n    gid = root\n' )
CONF
rsync --daemon --no-detach --config="$root/rsyncd/rsyncd.conf" --port="$port" --address=127.0.0.1 &
rsyncd_pid=$!
trap 'kill $rsyncd_pid 2>/dev/null || true' EXIT
api_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$root/syncward.yaml" <<CONF
# Demo config written by scripts/demo.sh
state_dir: $root/state
api:
  listen: 127.0.0.1:$api_port
sources:
  - name: demo
    path: $root/source
    exclude: ["*.swp", "*~"]
    audit: "*/5 * * * *"
    canary: { interval_s: 10, timeout_s: 30 }
    targets:
      - name: daemon
        url: rsync://$user@127.0.0.1:$port/www
        password_file: $root/rsyncd/client.pass
      - name: local
        url: $root/mirror-local
CONF
[ -e "$root/source/hello.txt" ] || echo "hello from syncward" > "$root/source/hello.txt"
# the paths as the printed commands need them (quoted when they hold spaces)
q_root=$(printf '%q' "$root")
q_conf=$(printf '%q' "$root/syncward.yaml")
q_cmd=$(printf '%q' "$syncward")
cat <<MSG

  syncward demo
  -------------
  source:   $root/source
  targets:  rsync://$user@127.0.0.1:$port/www  (-> $root/mirror-daemon)
            $root/mirror-local
  config:   $root/syncward.yaml

  In another terminal, change the source and watch the mirrors follow:
    cd $q_root
    echo hi > source/a.txt; mkdir -p source/x/y/z && echo deep > source/x/y/z/f
    mv source/x source/renamed; rm source/a.txt
    ls -R mirror-daemon mirror-local
    diff -r source mirror-daemon && diff -r source mirror-local && echo identical

  Watch it and ask it questions:
    dashboard: http://127.0.0.1:$api_port/   (metrics: /metrics, events: /api/events)
    $q_cmd status -c $q_conf
    $q_cmd audit  -c $q_conf
    $q_cmd doctor -c $q_conf

  Ctrl-C stops syncward and the demo rsync daemon.

MSG
"$syncward" start -c "$root/syncward.yaml"
