import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EXIT } from './exit.js';

/** What goes into one rsyncd.conf module for a syncward target. */
export interface RsyncdModule {
  module: string;
  /** absolute directory behind the module */
  path: string;
  /** the auth user syncward logs in as */
  user: string;
  /** absolute path of the daemon's secrets file */
  secretsFile: string;
  /** clients allowed to connect (addresses, CIDRs, host names) */
  hostsAllow: string[];
  uid: string;
  gid: string;
  chroot: boolean;
}

// rsyncd.conf has no quoting: a value runs to the end of its line, "[" starts a
// module, and "%VAR%" is replaced from the environment. Values are refused
// rather than escaped.
const MODULE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/;
const ID = /^[A-Za-z0-9._-]+$/;
const HOST = /^[A-Za-z0-9.:*?_/-]+$/;

/** Every reason these options cannot make a safe module; empty when they can. */
export function rsyncdProblems(m: RsyncdModule): string[] {
  const problems: string[] = [];
  if (!MODULE.test(m.module))
    problems.push(
      `--module "${m.module}": use letters, digits, ".", "_" or "-" (it is the URL's module name)`,
    );
  for (const [flag, p] of [
    ['--path', m.path],
    ['--secrets', m.secretsFile],
  ] as const) {
    if (!p.startsWith('/')) problems.push(`${flag} "${p}": must be an absolute path`);
    if (/[\x00-\x1f\x7f%]/.test(p) || p !== p.trim())
      problems.push(
        `${flag} "${p}": rsyncd.conf cannot hold a control character, "%" or surrounding spaces in a value`,
      );
  }
  if (!USER.test(m.user))
    problems.push(`--user "${m.user}": use letters, digits, ".", "_" or "-" (no ":", "," or spaces)`);
  for (const h of m.hostsAllow)
    if (!HOST.test(h))
      problems.push(
        `--hosts-allow "${h}": give addresses, CIDRs (10.0.0.0/24) or host names, separated by commas`,
      );
  if (!ID.test(m.uid)) problems.push(`--uid "${m.uid}": a user name or number`);
  if (!ID.test(m.gid)) problems.push(`--gid "${m.gid}": a group name or number`);
  return problems;
}

/**
 * The rsyncd.conf text: a global line and one module, with only what
 * syncward needs (no "dont compress" lists, timeouts or connection limits
 * copied from old guides). Assumes rsyncdProblems(m) is empty.
 */
export function renderRsyncdConfig(m: RsyncdModule): string {
  const lines = [
    '# rsyncd.conf for a syncward target, printed by `syncward rsyncd-config`.',
    '# Global section: once per rsyncd.conf, above the first [module].',
    '# Without it, once a timeout is set (a "timeout" line here, or a client\'s --timeout; syncward passes none),',
    "# the daemon's side of each transfer waits on Nagle and delayed ACK (~40 ms).",
    'socket options = TCP_NODELAY',
    '',
    `[${m.module}]`,
    '    comment = syncward mirror',
    `    path = ${m.path}`,
    '    read only = no',
    '    # the owner files are written as; root lets syncward (running as root, --numeric-ids) keep owners',
    `    uid = ${m.uid}`,
    `    gid = ${m.gid}`,
    ...(m.chroot
      ? [
          '    # chroot keeps absolute symlinks as they are ("use chroot = no" strips their leading "/");',
          '    # it needs the daemon to run as root',
          '    use chroot = yes',
        ]
      : [
          '    # no chroot (a daemon not running as root): rsync strips the leading "/" of absolute symlinks',
          '    use chroot = no',
        ]),
    `    auth users = ${m.user}`,
    '    # "user:password" lines, mode 600 (rsyncd refuses a secrets file others can read)',
    `    secrets file = ${m.secretsFile}`,
    ...(m.hostsAllow.length > 0
      ? [
          '    # only these clients may connect; every other one is refused',
          `    hosts allow = ${m.hostsAllow.join(', ')}`,
        ]
      : []),
  ];
  return `${lines.join('\n')}\n`;
}

export interface RsyncdConfigOptions {
  module: string;
  path: string;
  user: string;
  secrets?: string;
  passwordFile?: string;
  hostsAllow?: string[];
  uid?: string;
  gid?: string;
  /** false: "use chroot = no" (commander's --no-chroot) */
  chroot?: boolean;
  force?: boolean;
}

/** The password: RSYNC_PASSWORD when set (rsync's own variable), else 144 random bits. */
export function modulePassword(env: NodeJS.ProcessEnv = process.env): string {
  return env.RSYNC_PASSWORD ?? randomBytes(18).toString('base64url');
}

/**
 * `syncward rsyncd-config`: prints the module on stdout (so `>> /etc/rsyncd.conf`
 * works) and writes the daemon's secrets file and syncward's matching
 * password file, both mode 600, never over existing files without --force.
 */
export function runRsyncdConfig(
  o: RsyncdConfigOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): number {
  const m: RsyncdModule = {
    module: o.module,
    path: o.path,
    user: o.user,
    secretsFile: resolve(o.secrets ?? `/etc/rsyncd.${o.module}.secrets`),
    hostsAllow: (o.hostsAllow ?? []).flatMap((h) => h.split(/[\s,]+/)).filter((h) => h !== ''),
    uid: o.uid ?? 'root',
    gid: o.gid ?? 'root',
    chroot: o.chroot !== false,
  };
  const passwordFile = resolve(o.passwordFile ?? `${o.module}.pass`);
  const problems = rsyncdProblems(m);
  const password = modulePassword();
  if (password === '' || /[\r\n]/.test(password) || password !== password.trim())
    problems.push('RSYNC_PASSWORD: must be one line, not empty, without surrounding spaces');
  if (passwordFile === m.secretsFile) problems.push('--secrets and --password-file must be different files');
  if (!o.force)
    for (const f of [m.secretsFile, passwordFile])
      if (existsSync(f)) problems.push(`${f} exists; not overwriting it (pass --force to replace it)`);
  if (problems.length > 0) {
    for (const p of problems) err.write(`syncward rsyncd-config: ${p}\n`);
    return EXIT.usage;
  }
  try {
    writeSecret(m.secretsFile, `${m.user}:${password}\n`, o.force === true);
    writeSecret(passwordFile, `${password}\n`, o.force === true);
  } catch (e) {
    err.write(`syncward rsyncd-config: ${(e as Error).message}\n`);
    return EXIT.failure;
  }
  out.write(renderRsyncdConfig(m));
  err.write(
    [
      `wrote ${m.secretsFile} (mode 600): the daemon's secrets file, "${m.user}:<password>"`,
      `wrote ${passwordFile} (mode 600): the password alone, for syncward; copy it to the syncward host (keep mode 600)`,
      'Add the module above to /etc/rsyncd.conf (the socket options line to its global section; rsyncd reads the file at each connection), then',
      `in syncward's config:  url: rsync://${m.user}@THIS_HOST/${m.module}   password_file: /etc/syncward/${m.module}.pass`,
      '',
    ].join('\n'),
  );
  return EXIT.ok;
}

function writeSecret(file: string, text: string, force: boolean): void {
  try {
    writeFileSync(file, text, { flag: force ? 'w' : 'wx', mode: 0o600 });
    // the mode above applies only to a new file; an overwritten one keeps its old mode
    chmodSync(file, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'EEXIST'
        ? `${file} exists; not overwriting it (pass --force to replace it)`
        : `cannot write ${file}: ${(e as Error).message}`,
    );
  }
}
