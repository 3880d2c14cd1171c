/**
 * Which extra rsync options a target's rsync_args may carry. They are appended
 * after syncward's own (transport/argv.ts), so an option here can undo
 * what syncward relies on: what is sent, what is deleted, where rsync reads
 * its list of paths, or whether its --stats output (the max_delete count)
 * exists at all. rsync 3.5.0 option names; rsync accepts no abbreviations of
 * long options ("--remove-sou: unknown option"), so exact names suffice.
 */

/** Why an rsync option is refused in rsync_args, by its long name without "--". */
const REFUSED: Record<string, string> = {};
const refuse = (why: string, ...names: string[]) => {
  for (const n of names) REFUSED[n] = why;
};

refuse('it deletes files from the source', 'remove-source-files', 'remove-sent-files');
refuse(
  'syncward names the paths to send itself (--files-from=- on stdin); another list would send something else',
  'files-from',
);
refuse(
  "deletions follow the source's delete setting and syncward's safety checks; set delete: false to never delete",
  'delete',
  'del',
  'delete-before',
  'delete-during',
  'delete-delay',
  'delete-after',
  'delete-excluded',
  'delete-missing-args',
  'ignore-missing-args',
);
refuse(
  'it deletes on the target even when rsync could not read the source (I/O errors), which is how a failing disk empties the mirrors',
  'ignore-errors',
);
refuse(
  "filter rules belong in the source's exclude and include keys, so events, transfers and audits agree (and rules read from other files are not checked)",
  'filter',
  'exclude',
  'include',
  'exclude-from',
  'include-from',
  'cvs-exclude',
);
refuse('the remote shell comes from the target URL (ssh://user@host:port/path) and ssh_options', 'rsh');
refuse("it is rsync's internal server mode, not for a client", 'server', 'sender', 'daemon', 'detach');
refuse('it is a daemon option; a client must not read another rsyncd.conf', 'config', 'dparam');
refuse('set password_file on the target instead', 'password-file');
refuse('put the port in the target URL instead', 'port');
// timeout_s is syncward's own stall detection (transport/stall.ts); an operator's --timeout would
// bring back rsync's keep-alives, ~45 ms a call against a daemon without TCP_NODELAY
refuse('set timeout_s on the target instead', 'timeout', 'contimeout', 'no-timeout');
refuse(
  'syncward sends the batch list NUL-separated (--from0); read by lines, names would be cut and changes lost',
  'no-from0',
  'no-0',
);
refuse(
  'syncward mirrors hard-link groups and symlinks as they are (rsync -a -H), and audits check them',
  'no-hard-links',
  'no-H',
  'no-links',
  'no-l',
);
refuse('options passed to the remote side bypass this check (e.g. -M--remove-source-files)', 'remote-option');
refuse(
  'it reads or writes a file outside the config (FILE is never checked)',
  'early-input',
  'log-file',
  'write-batch',
  'only-write-batch',
  'read-batch',
);
refuse('a dry run or a listing never changes the target', 'dry-run', 'list-only');
refuse('rsync would print and exit without syncing', 'version', 'help');
refuse(
  "it skips files the source has, so the mirror differs and audits can't see it",
  'update',
  'existing',
  'ignore-non-existing',
  'ignore-existing',
  'size-only',
  'compare-dest',
  'max-size',
  'min-size',
  'prune-empty-dirs',
  'append',
  'append-verify',
);
refuse(
  'syncward compares mtimes to the nanosecond (--modify-window=-1); a wider window skips a file rewritten with the same size within it',
  'modify-window',
);
refuse(
  'it changes where paths land on the target (syncward names paths relative to the source root)',
  'relative',
);
refuse('it turns off recursion, which full syncs and new directories need', 'dirs', 'no-recursive', 'no-r');
refuse(
  "use the target's backup setting (backup: {dir, keep_days}) instead",
  'backup',
  'backup-dir',
  'suffix',
);
refuse(
  "syncward reads rsync's --stats and --itemize-changes output (the max_delete count, audits, progress); this changes or hides it",
  'quiet',
  'info',
  'out-format',
  'log-format',
  'stderr',
  'msgs2stderr',
  'no-msgs2stderr',
  'no-itemize-changes',
  'no-i',
);
refuse(
  'it lets the remote shell split paths ($, spaces, quotes in a name or URL run as shell words)',
  'old-args',
  'no-secluded-args',
  'no-protect-args',
  'no-s',
);
refuse(
  'it makes rsync follow symlinks that other users plant in the paths it sends, so a directory swapped for a symlink copies files they cannot read to the targets (rsync 3.5.0 refuses them by default)',
  'insecure-links',
);
refuse(
  'it sends what a symlink in the source points to, wherever that is: anyone who can write to a source could put any file syncward can read (/etc/shadow) on the targets, and changes behind the link are never watched; syncward mirrors symlinks as symlinks',
  'copy-links',
  'copy-unsafe-links',
  'copy-dirlinks',
);
refuse(
  'it turns off the checks on what a remote sender names, and syncward fetches canaries back from targets',
  'trust-sender',
);
refuse(
  'it reads or writes device contents instead of copying the device node',
  'copy-devices',
  'write-devices',
);

/** rsync's one-letter options, by the long name they stand for ("" for letters with no long name). */
const SHORT: Record<string, string> = {
  v: 'verbose',
  q: 'quiet',
  c: 'checksum',
  a: 'archive',
  r: 'recursive',
  R: 'relative',
  b: 'backup',
  u: 'update',
  d: 'dirs',
  l: 'links',
  L: 'copy-links',
  k: 'copy-dirlinks',
  K: 'keep-dirlinks',
  H: 'hard-links',
  p: 'perms',
  E: 'executability',
  A: 'acls',
  X: 'xattrs',
  o: 'owner',
  g: 'group',
  D: 'devices',
  t: 'times',
  U: 'atimes',
  N: 'crtimes',
  O: 'omit-dir-times',
  J: 'omit-link-times',
  S: 'sparse',
  n: 'dry-run',
  W: 'whole-file',
  x: 'one-file-system',
  B: 'block-size',
  e: 'rsh',
  I: 'ignore-times',
  '@': 'modify-window',
  T: 'temp-dir',
  y: 'fuzzy',
  z: 'compress',
  C: 'cvs-exclude',
  f: 'filter',
  // -F is --filter='dir-merge /.rsync-filter': rules read from files in the tree
  F: 'filter',
  '0': 'from0',
  s: 'secluded-args',
  '4': 'ipv4',
  '6': 'ipv6',
  '8': '8-bit-output',
  h: 'human-readable',
  P: 'progress',
  i: 'itemize-changes',
  M: 'remote-option',
  m: 'prune-empty-dirs',
  V: 'version',
};

/** One-letter options that take a value: the rest of the word, or else the next argument. */
const SHORT_WITH_VALUE = new Set(['B', 'e', '@', 'T', 'f', 'M']);

/** Long options that take a value (rsync 3.5.0 --help), which must be given as --name=value. */
const LONG_WITH_VALUE = new Set([
  'info',
  'debug',
  'stderr',
  'backup-dir',
  'suffix',
  'confine-root',
  'chmod',
  'checksum-choice',
  'cc',
  'block-size',
  'rsh',
  'rsync-path',
  'max-delete',
  'max-size',
  'min-size',
  'max-alloc',
  'partial-dir',
  'usermap',
  'groupmap',
  'chown',
  'timeout',
  'contimeout',
  'modify-window',
  'temp-dir',
  'compare-dest',
  'copy-dest',
  'link-dest',
  'compress-choice',
  'zc',
  'compress-level',
  'zl',
  'compress-threads',
  'zt',
  'skip-compress',
  'filter',
  'exclude',
  'exclude-from',
  'include',
  'include-from',
  'files-from',
  'copy-as',
  'address',
  'port',
  'sockopts',
  'outbuf',
  'remote-option',
  'out-format',
  'log-format',
  'log-file',
  'log-file-format',
  'password-file',
  'early-input',
  'bwlimit',
  'stop-after',
  'stop-at',
  'time-limit',
  'write-batch',
  'only-write-batch',
  'read-batch',
  'protocol',
  'iconv',
  'checksum-seed',
  'config',
  'dparam',
]);

/** One element of rsync_args that cannot be accepted, and why, in words an operator can act on. */
export interface RsyncArgProblem {
  /** index in rsync_args */
  index: number;
  message: string;
}

/**
 * Checks a target's rsync_args: options only, none that changes what is
 * sent, deletes outside syncward's guard, hides the output syncward reads, or
 * reads files the config does not name. Returns one problem per refused
 * element (empty: accepted).
 */
export function checkRsyncArgs(args: readonly string[]): RsyncArgProblem[] {
  const problems: RsyncArgProblem[] = [];
  args.forEach((arg, index) => {
    const refusal = (option: string, why: string) =>
      problems.push({
        index,
        message: `${arg === option ? option : `${option} (in "${arg}")`} is not allowed in rsync_args: ${why}`,
      });
    if (arg === '--' || !arg.startsWith('-') || arg === '-') {
      problems.push({
        index,
        message: `"${arg}" is not an option: rsync_args holds options only (each starts with "-"), since a path here would be sent or written to as well; give an option's value in the same element (--bwlimit=10m, -T/tmp)`,
      });
      return;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      // every --delete-* variant, present or future, is a deletion syncward's guard would not see
      const why = REFUSED[name] ?? (name.startsWith('delete') ? REFUSED.delete : undefined);
      if (why) refusal(`--${name}`, why);
      else if (eq < 0 && LONG_WITH_VALUE.has(name))
        problems.push({
          index,
          message: `--${name} needs its value in the same element, as --${name}=VALUE: rsync would otherwise take the next argument (the source path) as its value`,
        });
      return;
    }
    // a bundle of one-letter options: -vz, or -Tdir / -essh where a letter takes the rest as its value
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j] as string;
      const long = SHORT[letter];
      const why = long === undefined ? undefined : REFUSED[long];
      if (why) {
        refusal(`-${letter}`, why);
        return;
      }
      if (SHORT_WITH_VALUE.has(letter)) {
        if (j === arg.length - 1)
          problems.push({
            index,
            message: `-${letter} needs its value in the same element, as -${letter}VALUE or --${long}=VALUE: rsync would otherwise take the next argument as its value`,
          });
        return;
      }
    }
  });
  return problems;
}
