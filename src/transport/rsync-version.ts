import { execFileSync } from 'node:child_process';

/**
 * What an rsync's version decides: which name an option has, and which known
 * rsync bugs or holes apply. The rules are pure; localRsyncVersion() is the
 * one place that asks the installed rsync.
 */
export interface RsyncVersion {
  version: string;
  protocol?: number;
}

/** "rsync  version 3.2.7  protocol version 31" (the first line of rsync --version). */
export function parseRsyncVersion(text: string): RsyncVersion | null {
  const m = /rsync\s+version\s+v?(\d+\.\d+(?:\.\d+)?)\S*(?:\s+protocol version (\d+))?/.exec(text);
  if (!m?.[1]) return null;
  return { version: m[1], ...(m[2] ? { protocol: Number(m[2]) } : {}) };
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The option that sends file names and most options to the remote rsync
 * through the protocol instead of the remote shell's command line, so an ssh
 * target path with spaces, `$(...)` or quotes is one literal path. rsync
 * renamed --protect-args to --secluded-args in 3.2.6 (both names and -s
 * still work); an unknown version gets -s, which every rsync since 3.0.0
 * knows. Given explicitly, it also makes rsync ignore RSYNC_OLD_ARGS and
 * RSYNC_PROTECT_ARGS in its environment (rsync(1)).
 */
export function secludedArgsOption(local: string | undefined): string {
  if (local === undefined) return '-s';
  return compareVersions(local, '3.2.6') >= 0 ? '--secluded-args' : '--protect-args';
}

/**
 * rsync before 3.5.0 follows, as a sender, any symlink in a parent component
 * of a listed path (CVE-2026-53797, CVE-2026-53801). syncward lists paths
 * with --files-from; a user who can write to the source can swap a directory
 * for a symlink between the event and the transfer, and a sender running as
 * root then copies files only root could read onto the targets. 3.5.0
 * refuses a symlink owned by anyone but root or the running user
 * (--insecure-links restores the old follow; syncward never passes it).
 */
export const SENDER_REFUSES_FOREIGN_SYMLINKS = '3.5.0';

export function senderFollowsForeignSymlinks(v: string): boolean {
  return compareVersions(v, SENDER_REFUSES_FOREIGN_SYMLINKS) < 0;
}

/**
 * The problem, for an operator whose rsync, running as root, follows such
 * symlinks; null when it does not apply (not root, rsync 3.5.0 or newer).
 * No option of an older rsync makes a sender refuse a symlinked parent
 * component: --safe-links and --copy-unsafe-links judge the symlinks that
 * are entries of the transfer, by their text, never the directories a listed
 * path goes through. (3.5.0's --confine-root=SRC would also refuse root-owned
 * symlinks leading out of the source, but it refuses the password file too
 * and, measured with a local target, silently skips --backup-dir copies.)
 */
export function senderSymlinkWarning(version: string, isRoot: boolean): string | null {
  if (!isRoot || !senderFollowsForeignSymlinks(version)) return null;
  return `rsync ${version} running as root follows symlinks in the paths it sends: a user who can write to a source can swap a directory for a symlink between a change and its transfer and have files only root can read copied to the targets (fixed in rsync ${SENDER_REFUSES_FOREIGN_SYMLINKS}, CVE-2026-53797)`;
}

/** What to do about senderSymlinkWarning, in order. */
export const SENDER_SYMLINK_FIX: readonly string[] = [
  `install rsync ${SENDER_REFUSES_FOREIGN_SYMLINKS} or newer`,
  'or run syncward as a user that can read the sources and nothing it must not copy (User= in the systemd unit)',
  'or make sure only trusted users can write to the sources',
];

/**
 * rsync 3.4.3 as a receiver rejects the entry --delete-missing-args sends
 * for a path gone on the source ("invalid file mode", rsync issue 910, fixed
 * in 3.4.4): every batch that deletes fails on such a target.
 */
export function brokenDeleteMissingArgs(v: string): boolean {
  return compareVersions(v, '3.4.3') === 0;
}

let cached: RsyncVersion | null | undefined;

/**
 * The version of the rsync on PATH, asked once per process (rsync --version
 * takes a few ms); null when it cannot be run or does not say.
 */
export function localRsyncVersion(): RsyncVersion | null {
  if (cached !== undefined) return cached;
  try {
    const out = execFileSync('rsync', ['--version'], {
      encoding: 'latin1',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    cached = parseRsyncVersion(out);
  } catch {
    cached = null;
  }
  return cached;
}
