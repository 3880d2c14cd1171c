import { writeFileSync } from 'node:fs';
import { EXIT } from './exit.js';

/**
 * The starter config `syncward init` writes. It parses as it is (the values
 * are examples); the operator replaces what is marked CHANGE. Every key is
 * in docs/configuration.md.
 */
export const STARTER_CONFIG = `# syncward config. Reference of every key: docs/configuration.md
# Replace what is marked CHANGE, then:
#   syncward check -c THIS_FILE     # the file is valid and what it names exists
#   syncward doctor -c THIS_FILE    # rsync, inotify limits, password files, each target reachable
#   syncward start -c THIS_FILE     # or the systemd unit in packaging/syncward.service

# Journal (SQLite), lock, control socket, ssh control sockets. Never mirrored.
state_dir: /var/lib/syncward

api:
  # Dashboard, JSON API, SSE events, /metrics. A non-loopback address needs token_file.
  listen: 127.0.0.1:8730
  # token_file: /etc/syncward/api.token    # mode 600; then every request needs "Authorization: Bearer <token>"

log:
  level: info        # debug | info | warn | error
  format: auto       # auto: readable on a terminal, JSON lines otherwise (journald)

# alerts:
#   down_after_s: 60
#   lag_above_s: 300
#   webhooks:
#     - url: https://alerts.example.com/syncward
#   commands:
#     - ["/usr/local/bin/page-oncall", "--team", "ops"]

sources:
  - name: www                     # CHANGE: a short name, shown in logs, status and alerts
    path: /srv/www                # CHANGE: the directory tree to mirror (absolute path)
    exclude: ["*.swp", "*~", ".git/"]   # rsync patterns; nothing else is excluded, dotfiles sync
    delete: true                  # mirror deletions
    max_delete: 1000              # a transfer deleting more puts the target on hold (syncward resume)
    full_sync: "0 */6 * * *"      # cron: periodic full sync, repairs hand-edited targets
    audit: "*/30 * * * *"         # cron: periodic drift check against every target
    # canary: { interval_s: 60, timeout_s: 120 }   # end-to-end lag probe written into the source
    targets:
      # An rsync daemon module. On the target host, \`syncward rsyncd-config --module www
      # --path /srv/www --user syncward\` prints the module and writes both password files.
      - name: web1                                  # CHANGE
        url: rsync://syncward@192.0.2.10/www        # CHANGE: rsync://[user@]host[:port]/module[/path]
        password_file: /etc/syncward/web1.pass      # CHANGE: the password alone, mode 600
      # rsync over ssh (the key's public half in the target user's authorized_keys)
      - name: web2                                  # CHANGE, or delete this target
        url: ssh://deploy@192.0.2.11/srv/www        # CHANGE: ssh://[user@]host[:port]/abs/path
        identity_file: /etc/syncward/id_ed25519     # CHANGE: private key, mode 600
        ssh_options: ["StrictHostKeyChecking=yes"]  # the host key must be in known_hosts already
      # A local directory (another disk, an NFS mount)
      - name: backup                                # CHANGE, or delete this target
        url: /backup/www                            # CHANGE: absolute path
`;

export interface InitOptions {
  force?: boolean;
  stdout?: boolean;
}

/** `syncward init [FILE]`: writes the starter config (never over an existing file without --force). */
export function runInit(
  file: string | undefined,
  o: InitOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): number {
  if (o.stdout || file === '-') {
    out.write(STARTER_CONFIG);
    return EXIT.ok;
  }
  const path = file ?? 'syncward.yaml';
  try {
    // wx: fails if the file exists, with no window between a check and the write
    writeFileSync(path, STARTER_CONFIG, { flag: o.force ? 'w' : 'wx', mode: 0o644 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    err.write(
      code === 'EEXIST'
        ? `syncward init: ${path} exists; not overwriting it (pass --force to replace it, or --stdout to print the starter config)\n`
        : `syncward init: cannot write ${path}: ${(e as Error).message}\n`,
    );
    return EXIT.failure;
  }
  out.write(
    `wrote ${path}: replace what is marked CHANGE, then run\n  syncward check -c ${path}\n  syncward doctor -c ${path}\n`,
  );
  return EXIT.ok;
}
