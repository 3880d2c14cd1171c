/**
 * `syncward doctor`: the decisions, as plain functions of what was measured.
 * doctor.ts gathers the facts (processes, /proc, the file system) and hands
 * them here; each rule returns a check with a status and, for a problem, the
 * exact command that fixes it.
 */

import type { RelayStatus } from '../status/index.js';
import {
  brokenDeleteMissingArgs,
  compareVersions,
  type RsyncVersion,
  SENDER_REFUSES_FOREIGN_SYMLINKS,
  SENDER_SYMLINK_FIX,
  senderSymlinkWarning,
  transferred,
} from '../transport/index.js';
import { shellWord } from '../util/shell.js';
import { suggestLimit, suggestMaxUserWatches } from '../watch/limits.js';

export { compareVersions, parseRsyncVersion, type RsyncVersion } from '../transport/index.js';
export { shellWord, suggestLimit };

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  /** what was checked, e.g. "rsync", "inotify watches", "target www/web1" */
  name: string;
  status: CheckStatus;
  /** one sentence: what was found, and for a problem what is wrong */
  message: string;
  /** commands (or config edits) that fix the problem, in order */
  fix?: string[];
  /** the tool's own words, verbatim (rsync's stderr) */
  detail?: string;
}

// ---- rsync -----------------------------------------------------------------

/**
 * Options syncward passes that an older rsync rejects ("unknown option"),
 * which would fail every transfer (see src/transport/argv.ts).
 */
export const RSYNC_FEATURES: readonly { option: string; since: string; use: string }[] = [
  { option: '--mkpath', since: '3.2.3', use: 'every call (creates a missing target directory)' },
  { option: '--delete-missing-args', since: '3.1.0', use: 'every batch with a delete' },
  { option: '--info=progress2', since: '3.1.0', use: 'sync progress' },
];

const INSTALL_RSYNC = 'apt-get install rsync   (or your distribution’s package manager)';

/** The rsync found on PATH (null: none) against what syncward needs. */
export function rsyncCheck(found: { path: string; version: RsyncVersion | null } | null): Check {
  const name = 'rsync';
  if (!found) {
    return {
      name,
      status: 'fail',
      message: 'rsync is not on PATH; syncward moves every byte with it',
      fix: [INSTALL_RSYNC],
    };
  }
  if (!found.version) {
    return {
      name,
      status: 'warn',
      message: `${found.path} did not say its version (rsync --version); syncward needs rsync >= 3.2.3`,
    };
  }
  const v = found.version.version;
  const missing = RSYNC_FEATURES.filter((f) => compareVersions(v, f.since) < 0);
  if (missing.length > 0) {
    return {
      name,
      status: 'fail',
      message: `${found.path} is rsync ${v}, too old: ${missing.map((f) => `${f.option} (used in ${f.use}) needs ${f.since}`).join('; ')}`,
      fix: ['install rsync 3.2.3 or newer (Debian 11+, Ubuntu 22.04+, RHEL 9+ ship it)'],
    };
  }
  return {
    name,
    status: 'ok',
    message: `${found.path}, rsync ${v}${found.version.protocol ? ` (protocol ${found.version.protocol})` : ''}; has ${RSYNC_FEATURES.map((f) => f.option).join(', ')}`,
  };
}

/**
 * The local rsync as a sender running as root (senderSymlinkWarning): a
 * warning, since syncward cannot close the hole itself. null when it does
 * not apply (not root, version unknown).
 */
export function rsyncSenderCheck(version: string | null, euid: number): Check | null {
  if (euid !== 0 || version === null) return null;
  const name = 'rsync as sender';
  const warning = senderSymlinkWarning(version, true);
  if (warning === null)
    return {
      name,
      status: 'ok',
      message: `rsync ${version} refuses symlinks planted by other users in the paths it sends (since ${SENDER_REFUSES_FOREIGN_SYMLINKS})`,
    };
  return {
    name,
    status: 'warn',
    message: warning,
    fix: [...SENDER_SYMLINK_FIX],
  };
}

/**
 * The rsync that receives on a target (the remote one for ssh, the local one
 * for a local directory): 3.4.3 fails every batch that deletes.
 */
export function rsyncReceiverCheck(target: string, version: string | null, where: string): Check {
  const name = `rsync on target ${target}`;
  if (version === null)
    return { name, status: 'ok', message: `${where} did not say its version (rsync --version)` };
  if (brokenDeleteMissingArgs(version))
    return {
      name,
      status: 'warn',
      message: `${where} is rsync ${version}, which rejects --delete-missing-args ("invalid file mode", rsync issue 910): every batch that deletes a path fails on this target`,
      fix: ['upgrade rsync on the target to 3.4.4 or newer'],
    };
  return { name, status: 'ok', message: `${where} is rsync ${version}` };
}

// ---- inotify ---------------------------------------------------------------

export interface InotifyLimits {
  /** fs.inotify.max_user_watches as this process sees it (its user namespace) */
  maxUserWatches: number | null;
  maxUserInstances: number | null;
  maxQueuedEvents: number | null;
}

export interface SourceDirCount {
  source: string;
  /** directories to watch, the root included, excludes honoured; null when the walk failed */
  dirs: number | null;
}

export const SYSCTL_FILE = '/etc/sysctl.d/90-syncward.conf';

function sysctlFix(key: string, value: number): string[] {
  return [
    `sysctl -w ${key}=${value}`,
    `echo '${key} = ${value}' >> ${SYSCTL_FILE}   # keeps it after a reboot`,
  ];
}

/**
 * Watches: one per directory of every source, and the limit is shared by
 * every inotify user of this uid. Fail when they cannot all be watched, warn
 * above `warnShare` of the limit (the daemon's watchUsage alert threshold).
 */
export function watchesCheck(limits: InotifyLimits, counts: SourceDirCount[], warnShare: number): Check {
  const name = 'inotify watches';
  if (counts.length === 0) return { name, status: 'ok', message: 'no source is watched with inotify' };
  const total = counts.reduce((n, c) => n + (c.dirs ?? 0), 0);
  const per = counts.map((c) => `${c.source} ${c.dirs ?? '?'}`).join(', ');
  const max = limits.maxUserWatches;
  if (max === null) {
    return {
      name,
      status: 'warn',
      message: `${total} directories to watch (${per}); fs.inotify.max_user_watches could not be read from /proc`,
    };
  }
  const fix = sysctlFix('fs.inotify.max_user_watches', suggestMaxUserWatches(total));
  const usage = `${total} directories to watch (${per}) against fs.inotify.max_user_watches = ${max}`;
  if (total > max) {
    return {
      name,
      status: 'fail',
      message: `${usage}: ${total - max} would go unwatched and their changes would only reach the targets at full syncs`,
      fix: [...fix, 'then restart syncward'],
    };
  }
  if (total > max * warnShare) {
    return {
      name,
      status: 'warn',
      message: `${usage} (${Math.round((total / max) * 100)}%); the limit is shared with every other inotify user of this uid, and the tree grows`,
      fix,
    };
  }
  return {
    name,
    status: 'ok',
    message: `${usage} (${((total / max) * 100).toFixed(1)}%; shared with other inotify users of this uid)`,
  };
}

/** One inotify instance per source. */
export function instancesCheck(limits: InotifyLimits, sources: number): Check {
  const name = 'inotify instances';
  const max = limits.maxUserInstances;
  if (max === null)
    return { name, status: 'warn', message: 'fs.inotify.max_user_instances could not be read from /proc' };
  const usage = `${sources} needed (one per source) against fs.inotify.max_user_instances = ${max}`;
  if (sources > max)
    return {
      name,
      status: 'fail',
      message: `${usage}: some sources cannot be watched`,
      fix: sysctlFix('fs.inotify.max_user_instances', suggestLimit(sources, 1024)),
    };
  if (sources > max / 2)
    return {
      name,
      status: 'warn',
      message: `${usage}; other programs of this uid (editors, tail -f, systemd) use instances too`,
      fix: sysctlFix('fs.inotify.max_user_instances', suggestLimit(sources, 1024)),
    };
  return { name, status: 'ok', message: `${usage} (shared with other programs of this uid)` };
}

/** The kernel default is 16384: enough, since an overflow costs a full sync and never a change. */
export function queueCheck(limits: InotifyLimits): Check {
  const name = 'inotify queue';
  const max = limits.maxQueuedEvents;
  if (max === null)
    return { name, status: 'warn', message: 'fs.inotify.max_queued_events could not be read from /proc' };
  const note = 'a burst above it overflows the queue, which syncward answers with a full sync';
  if (max < 16384)
    return {
      name,
      status: 'warn',
      message: `fs.inotify.max_queued_events = ${max}, below the kernel default 16384; ${note}`,
      fix: sysctlFix('fs.inotify.max_queued_events', 1048576),
    };
  return {
    name,
    status: 'ok',
    message: `fs.inotify.max_queued_events = ${max}; ${note} (raise it to 1048576 to make that rarer)`,
  };
}

// ---- files -----------------------------------------------------------------

export type FileFacts =
  | { exists: false; error: string }
  | { exists: true; isFile: boolean; mode: number; readable: boolean; uid: number };

/**
 * A client password file. rsync refuses one that others can access
 * ("password file must not be other-accessible"), and as root one not owned
 * by root; group access works but is looser than needed.
 */
export function passwordFileCheck(target: string, file: string, f: FileFacts, euid: number): Check {
  const name = `password file ${target}`;
  const create = `printf '%s\\n' 'PASSWORD' > ${file} && chmod 600 ${file}   # the password of the URL's user`;
  return secretFileCheck(name, file, f, euid, [create], (f, mode) => {
    // rsync's test is exactly this: mode & 06 (authenticate.c)
    if ((f.mode & 0o006) !== 0)
      return {
        name,
        status: 'fail',
        message: `${file} has mode ${mode}: other users can read it, and rsync refuses it ("password file must not be other-accessible")`,
        fix: [`chmod 600 ${file}`],
      };
    if (euid === 0 && f.uid !== 0)
      return {
        name,
        status: 'fail',
        message: `${file} is owned by uid ${f.uid}; rsync running as root refuses a password file not owned by root`,
        fix: [`chown root ${file}`],
      };
    if ((f.mode & 0o071) !== 0)
      return {
        name,
        status: 'warn',
        message: `${file} has mode ${mode}: looser than 600 (rsync accepts it, but its group can read the password)`,
        fix: [`chmod 600 ${file}`],
      };
    return { name, status: 'ok', message: `${file}, mode ${mode}` };
  });
}

/** An ssh private key: ssh ignores one that group or others can read ("UNPROTECTED PRIVATE KEY FILE"). */
export function identityFileCheck(target: string, file: string, f: FileFacts, euid: number): Check {
  const name = `identity file ${target}`;
  const create = `ssh-keygen -t ed25519 -N '' -f ${file}   # then add ${file}.pub to the target's authorized_keys`;
  return secretFileCheck(name, file, f, euid, [create], (f, mode) => {
    if ((f.mode & 0o077) !== 0)
      return {
        name,
        status: 'fail',
        message: `${file} has mode ${mode}; ssh ignores a private key that others can read`,
        fix: [`chmod 600 ${file}`],
      };
    return { name, status: 'ok', message: `${file}, mode ${mode}` };
  });
}

/**
 * What a password file and an identity file are checked for alike: missing
 * (with the fix that creates one), not a regular file, not readable by this
 * user. A file that passes goes to byMode, with its mode as three octal digits.
 */
function secretFileCheck(
  name: string,
  file: string,
  f: FileFacts,
  euid: number,
  createFix: string[],
  byMode: (f: Extract<FileFacts, { exists: true }>, mode: string) => Check,
): Check {
  if (!f.exists) return { name, status: 'fail', message: `${file}: ${f.error}`, fix: createFix };
  if (!f.isFile) return { name, status: 'fail', message: `${file} is not a regular file` };
  if (!f.readable)
    return {
      name,
      status: 'fail',
      message: `${file} is not readable by this user (uid ${euid})`,
      fix: [`chown ${euid} ${file}`],
    };
  return byMode(f, (f.mode & 0o777).toString(8).padStart(3, '0'));
}

// ---- targets ---------------------------------------------------------------

/** What the `rsync --list-only` probe of a target ended with (transport's ExitInfo, and the call). */
export interface ProbeOutcome {
  class: string;
  code: number | null;
  message: string;
  rsyncMessage: string;
  durationMs: number;
  /** the probe's argv, to retry by hand */
  argv: string[];
}

/**
 * A daemon or ssh target, judged by the probe. A target directory that does
 * not exist yet is fine: every sync passes --mkpath and creates it.
 */
export function targetProbeCheck(
  target: string,
  url: string,
  kind: 'daemon' | 'ssh',
  p: ProbeOutcome,
): Check {
  const name = `target ${target}`;
  const retry = `${p.argv.map(shellWord).join(' ')}   # the same probe by hand`;
  const detail = p.rsyncMessage === '' ? undefined : p.rsyncMessage;
  if (transferred(p.class))
    return {
      name,
      status: 'ok',
      message: `${url}: reachable, ${kind === 'daemon' ? 'logged in to the module' : 'logged in over ssh'}, listed in ${p.durationMs} ms`,
    };
  if (p.code === 23 && /(change_dir|link_stat) .* failed: No such file or directory/.test(p.rsyncMessage))
    return {
      name,
      status: 'ok',
      message: `${url}: reachable and logged in; the target directory does not exist yet, the first sync creates it (--mkpath)`,
    };
  const fix: string[] = [];
  if (/auth failed/.test(p.rsyncMessage))
    fix.push(
      "put the password of the URL's user (its line user:password in the daemon's secrets file) in password_file",
    );
  else if (/Unknown module/.test(p.rsyncMessage))
    fix.push(
      'fix the module name in the URL (rsync://host/MODULE), or add the module to the daemon (syncward rsyncd-config)',
    );
  else if (/password file must not be other-accessible/.test(p.rsyncMessage))
    fix.push('chmod 600 the password file');
  else if (/host name does not resolve/.test(p.message))
    fix.push(
      'correct the host name in the target URL, or make it resolve on this machine (DNS, /etc/hosts); check with: getent hosts HOST',
    );
  else if (p.class === 'transient')
    fix.push(
      kind === 'daemon'
        ? 'start the rsync daemon on the target (systemctl enable --now rsync), and check the host, the port and the firewall'
        : 'check that sshd runs on the target, the host and port, and the firewall',
    );
  fix.push(retry);
  const what =
    p.class === 'transient'
      ? 'unreachable'
      : p.class === 'misconfigured'
        ? /host name does not resolve/.test(p.message)
          ? 'configuration error'
          : kind === 'ssh' && /ssh login failed/.test(p.message)
            ? 'ssh login failed'
            : /refused the login/.test(p.message)
              ? 'authentication failed'
              : 'misconfigured'
        : 'probe failed';
  return {
    name,
    status: 'fail',
    // the daemon retries on its own; doctor does not
    message: `${url}: ${what} (rsync exit ${p.code ?? 'none'}): ${p.message.replace(/;? retrying$/, '')}`,
    fix,
    detail,
  };
}

// ---- summary ---------------------------------------------------------------

/** 0 all ok, 1 warnings only, 2 any failure. */
export function doctorExitCode(checks: readonly Check[]): 0 | 1 | 2 {
  if (checks.some((c) => c.status === 'fail')) return 2;
  if (checks.some((c) => c.status === 'warn')) return 1;
  return 0;
}

const LABEL: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

/** The report for a terminal: one line per check, fixes and rsync's words indented under it. */
export function formatChecks(checks: readonly Check[]): string {
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${LABEL[c.status]}  ${c.name}: ${c.message}`);
    if (c.detail) for (const l of c.detail.split('\n')) lines.push(`        | ${l}`);
    for (const f of c.fix ?? []) lines.push(`        fix: ${f}`);
  }
  const n = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const fails = n('fail');
  const warns = n('warn');
  lines.push(
    fails + warns === 0
      ? `\nall ${checks.length} checks ok`
      : `\n${fails} failure(s), ${warns} warning(s), ${n('ok')} ok`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Which watcher a source gets and why (issue 15): `fanotifyRefused` is why
 * fanotify cannot watch its tree here, null when it can, undefined when it
 * was not tried (not needed). Returns the check and whether the source's
 * directories count against the inotify watch limit.
 */
export function watcherCheck(
  source: string,
  configured: 'auto' | 'inotify' | 'fanotify',
  dirs: number | null,
  autoAbove: number,
  fanotifyRefused: string | null | undefined,
): { check: Check; inotify: boolean } {
  const name = `watcher ${source}`;
  const count = dirs === null ? 'an unknown number of' : dirs.toLocaleString('en');
  const refusedFix = (why: string) => [
    `fanotify cannot watch it: ${why}`,
    `or set sources[].watcher: inotify for ${source} to say so in the config`,
  ];
  if (configured === 'inotify')
    return {
      check: {
        name,
        status: 'ok',
        message: `inotify (watcher: inotify), one watch for each of ${count} directories`,
      },
      inotify: true,
    };
  if (configured === 'fanotify') {
    if (fanotifyRefused === null || fanotifyRefused === undefined)
      return {
        check: {
          name,
          status: 'ok',
          message: 'fanotify (watcher: fanotify): one mark on its filesystem, no watch limit',
        },
        inotify: false,
      };
    return {
      check: {
        name,
        status: 'warn',
        message: `inotify: watcher: fanotify is configured but fanotify cannot watch this tree (${fanotifyRefused}); the daemon falls back to inotify for ${count} directories`,
        fix: refusedFix(fanotifyRefused),
      },
      inotify: true,
    };
  }
  if (dirs === null || dirs <= autoAbove)
    return {
      check: {
        name,
        status: 'ok',
        message: `inotify (watcher: auto, ${count} directories, fanotify above ${autoAbove.toLocaleString('en')})`,
      },
      inotify: true,
    };
  if (fanotifyRefused === null || fanotifyRefused === undefined)
    return {
      check: {
        name,
        status: 'ok',
        message: `fanotify (watcher: auto, ${count} directories, above ${autoAbove.toLocaleString('en')}): one mark, no watch limit`,
      },
      inotify: false,
    };
  return {
    check: {
      name,
      status: 'warn',
      message: `inotify (watcher: auto, ${count} directories, above ${autoAbove.toLocaleString('en')}, but fanotify cannot watch this tree: ${fanotifyRefused}): one watch per directory and a long walk at start`,
      fix: refusedFix(fanotifyRefused),
    },
    inotify: true,
  };
}

// ---- relay tiers -------------------------------------------------------------

/**
 * A relay target's API, read once as the daemon reads it: which of the
 * relay's sources this target feeds, and its targets. A relay that cannot be
 * read is a warning (its targets would show as unknown; the mirror itself
 * still flows through its rsync daemon).
 */
export function relayCheck(id: string, view: RelayStatus, tokenFile: string | undefined): Check {
  const name = `relay ${id}`;
  if (view.state === 'ok') {
    const leaves = view.leaves.map((l) => `${l.target} ${l.state}`).join(', ');
    return {
      name,
      status: 'ok',
      message: `${view.api} answers: its source ${view.source} has ${view.leaves.length} target${view.leaves.length === 1 ? '' : 's'}${leaves ? ` (${leaves})` : ''}`,
    };
  }
  const error = view.error ?? 'no answer';
  const fix = /HTTP 401/.test(error)
    ? [
        tokenFile
          ? `put the relay's api.token_file contents into ${tokenFile}`
          : "add relay.token_file to this target: a file holding the relay's API token",
      ]
    : /relay\.source|no source/.test(error)
      ? ['set relay.source on this target to the relay source it feeds']
      : [
          `on the relay, check that syncward runs and that api.listen is reachable from here at ${view.api} (firewall, address)`,
        ];
  return {
    name,
    status: 'warn',
    message: `cannot read the relay's status at ${view.api}: ${error}; the daemon would show its targets as unknown`,
    fix,
  };
}
