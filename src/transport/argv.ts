import type { Change } from '../change/index.js';
import { type BytePath, toFs } from '../util/bytes.js';
import { secludedArgsOption } from './rsync-version.js';
import { rsyncDestination, type TargetUrl } from './target-url.js';

/** A configured target as the transport needs it. */
export interface TargetSpec {
  name: string;
  url: TargetUrl;
  /** daemon targets; without it rsync reads RSYNC_PASSWORD from the environment */
  passwordFile?: string;
  /** ssh targets: ssh -i */
  identityFile?: string;
  /** ssh targets: "Key=value" words passed with -o (a word starting with "-" is passed as is) */
  sshOptions: string[];
  /** ssh ControlPath for connection sharing (a plain path, no %-tokens); none means no sharing */
  controlPath?: string;
  /** operator extras, appended after ours so they can override */
  rsyncArgs: string[];
  /**
   * seconds without progress before a call is killed as stalled (syncward's
   * own detection, run.ts; no rsync --timeout); ssh's keep-alives are set from it
   */
  timeoutS: number;
  /** seconds to wait for the connection (daemon --contimeout, ssh ConnectTimeout) */
  contimeoutS: number;
  /** keep deleted and overwritten files under <dir>/<date>/ on the target */
  backup?: { dir: string; keepDays: number };
  /**
   * A relay's inbox, relative to the target root (RELAY_INBOX): rsync writes
   * its temp files there (--temp-dir) instead of beside their final names, so
   * the relay's watcher sees each file once, renamed into place complete
   */
  inbox?: string;
  /** the version of the local rsync that runs this target's calls (it names some options); unknown: undefined */
  rsyncVersion?: string;
}

/** A source tree as the transport needs it. */
export interface SourceSpec {
  root: string;
  /**
   * Where rsync reads the source, when not `root`: a directory fd the daemon
   * holds since it began watching (/proc/PID/fd/N). A root unmounted
   * (umount -l) or replaced while a transfer runs is then still read as the
   * tree the delete guard checked, never as the empty directory beneath it,
   * whose missing paths --delete-missing-args would delete on the target.
   */
  readRoot?: string;
  /** rsync filter options from the Filter, e.g. --exclude=*.swp */
  filterArgs: string[];
  /** mirror deletions */
  delete: boolean;
}

/** A tree path as the source holds it now, read where rsync reads it (readRoot when set). */
export function sourcePath(src: SourceSpec, rel: BytePath): Buffer {
  return Buffer.concat([Buffer.from(`${src.readRoot ?? src.root}/`), toFs(rel)]);
}

/** One rsync invocation: spawn argv[0] with argv.slice(1), no shell. */
export interface RsyncCall {
  /** argv[0] is 'rsync' */
  argv: string[];
  /** added to the inherited environment */
  env: Record<string, string>;
  /** fed to rsync's stdin (the --files-from=- list) */
  stdin?: Buffer;
  /** the local source root, to report failed paths relative to it */
  sourceRoot?: string;
  /** a local target's directory, likewise */
  destRoot?: string;
}

export interface CallOptions {
  /** running as root: keep owners by number; otherwise don't try to set them */
  isRoot: boolean;
  /** the date that names today's backup directory (default: now) */
  now?: Date;
}

export interface BatchOptions extends CallOptions {
  /** count what it would do (the safety check before deletes), change nothing */
  dryRun?: boolean;
  itemize?: boolean;
}

export interface FullSyncOptions extends CallOptions {
  dryRun?: boolean;
  /** one line per difference on stdout (%i %n%L), for audits */
  itemize?: boolean;
  /** whole-transfer progress lines (--info=progress2) on stdout, separated by \r */
  progress?: boolean;
}

/**
 * One batch of changes, as one rsync run reading the paths from stdin.
 *
 * --files-from turns off the -r that -a implies. Without it a listed
 * directory is sent as itself (its mode, times), not its contents: that is a
 * plain upsert of a directory. A batch holding an upsertTree (a new or
 * moved-in directory) adds -r, so listed directories are sent whole and
 * extras beneath them are deleted; other directories in the same batch are
 * then recursed too (more than needed, never wrong). --delete-missing-args turns a listed path
 * that no longer exists on the source into a delete of that path (and, for a
 * directory, its contents) on the target; siblings are never touched, since
 * only listed directories are recursed. The root is listed as ".".
 *
 * rsync fact: a listed path whose parent directory is also gone on the source
 * is reported as vanished (exit 24) and NOT deleted; deleting the parent
 * itself (which the watcher also reports) covers it.
 */
export function buildBatchCall(
  src: SourceSpec,
  tgt: TargetSpec,
  changes: readonly Change[],
  o: BatchOptions,
): RsyncCall {
  // the root's own metadata goes by buildRootAttrsCall: "." in a --files-from
  // list is the root's whole first level, sent with --delete
  const listed = changes.filter(
    (c) => !(c.path === '' && c.op === 'upsert') && (src.delete || c.op !== 'delete'),
  );
  const names = listed.map((c) => Buffer.from(c.path === '' ? '.' : c.path, 'latin1'));
  const stdin = Buffer.concat(names.flatMap((n) => [n, NUL]));
  const argv = [
    'rsync',
    '-a',
    // -H with incremental recursion hung batches mixing a recursed directory
    // and linked names (cp -al, ln) under churn: every process waiting, only
    // keepalives flowing, so --timeout never fired (rsync 3.5.0); one file
    // list up front is what a full rsync -aH of the same names does anyway
    ...(changes.some((c) => c.op === 'upsertTree') ? ['-r', '--no-inc-recursive'] : []),
    '-H',
    ...(src.delete ? ['--delete', '--delete-missing-args'] : ['--ignore-missing-args']),
    '--files-from=-',
    '--from0',
    ...backupArgs(tgt, o),
    ...inboxArgs(tgt, o),
    ...src.filterArgs,
    ...commonArgs(tgt, o),
    ...(o.dryRun ? ['--dry-run'] : []),
    ...(o.itemize ? ['--itemize-changes'] : []),
    ...tgt.rsyncArgs,
    sourceArg(src.readRoot ?? src.root),
    rsyncDestination(tgt.url),
  ];
  return { argv, env: {}, stdin, ...roots(src, tgt) };
}

/**
 * Whether a batch changes the source root's own entry: something directly in
 * it was created, deleted or renamed (the root's mtime), or the root's own
 * metadata changed. --files-from never sends the root's attributes (it is no
 * implied directory of "a", as "d" is of "d/a"), so without a call of its own
 * the target root keeps the time at which the target applied the change.
 */
export function touchesRoot(changes: readonly Change[]): boolean {
  return changes.some((c) => !c.path.includes('/'));
}

/**
 * The source root's own mode, owner and times, and nothing beneath it: with
 * --dirs and no -r, "src/" is the root and its first level, and the filter
 * leaves that level out (an excluded entry is neither sent nor deleted).
 */
export function buildRootAttrsCall(src: SourceSpec, tgt: TargetSpec, o: CallOptions): RsyncCall {
  const argv = [
    'rsync',
    '-a',
    '--no-r',
    '--dirs',
    '--filter=- /*',
    ...commonArgs(tgt, o),
    ...tgt.rsyncArgs,
    sourceArg(src.readRoot ?? src.root),
    rsyncDestination(tgt.url),
  ];
  return { argv, env: {}, ...roots(src, tgt) };
}

/** The whole tree: the catch-up after startup, an overflow or an outage; with dryRun+itemize, an audit. */
export function buildFullSyncCall(src: SourceSpec, tgt: TargetSpec, o: FullSyncOptions): RsyncCall {
  const argv = [
    'rsync',
    '-a',
    '-H',
    ...(src.delete ? ['--delete'] : []),
    ...backupArgs(tgt, o),
    ...inboxArgs(tgt, o),
    ...src.filterArgs,
    ...commonArgs(tgt, o),
    ...(o.dryRun ? ['--dry-run'] : []),
    ...(o.itemize ? ['--itemize-changes'] : []),
    ...(o.progress ? ['--info=progress2'] : []),
    ...tgt.rsyncArgs,
    sourceArg(src.readRoot ?? src.root),
    rsyncDestination(tgt.url),
  ];
  return { argv, env: {}, ...roots(src, tgt) };
}

/**
 * A reachability and login probe: `rsync --list-only` of the target
 * directory, with the same connection options (password file, ssh command,
 * timeouts, the operator's rsync_args) as a real transfer. Lists one level;
 * changes nothing.
 */
export function buildListCall(tgt: TargetSpec): RsyncCall {
  return {
    argv: ['rsync', '--list-only', ...readArgs(tgt), ...tgt.rsyncArgs, rsyncDestination(tgt.url)],
    env: {},
  };
}

/**
 * The connection options of a call that only reads from the target (the
 * doctor's listing, the canary's fetch): like a transfer's, with --no-motd so
 * a daemon's greeting does not mix into the output.
 */
export function readArgs(tgt: TargetSpec): string[] {
  return connectionArgs(tgt, { noMotd: true });
}

/**
 * How rsync reaches the target, for every kind of call: a daemon's socket
 * options, connect timeout and password file; an ssh target's -e command;
 * nothing for a local directory. No call gets rsync's --timeout: run.ts
 * kills a call that stops making progress (stall.ts), for each kind below.
 */
function connectionArgs(tgt: TargetSpec, o: { noMotd?: boolean } = {}): string[] {
  switch (tgt.url.kind) {
    // no --timeout: its keep-alives cost ~45 ms a call against a daemon without socket options = TCP_NODELAY
    case 'daemon': {
      const args = o.noMotd ? ['--no-motd'] : [];
      // without TCP_NODELAY, Nagle's algorithm stalls the protocol's small writes (~40 ms each round trip)
      args.push('--sockopts=TCP_NODELAY', `--contimeout=${tgt.contimeoutS}`);
      if (tgt.passwordFile) args.push(`--password-file=${tgt.passwordFile}`);
      return args;
    }
    // no --timeout: free over ssh's pipes, but it kills a --checksum audit while one big file is hashed (rsync issue 839)
    case 'ssh':
      // file names and options go to the remote rsync through the protocol,
      // never through the remote shell's command line: a target path with
      // spaces or $(...) stays one literal path, whatever RSYNC_OLD_ARGS says
      return [secludedArgsOption(tgt.rsyncVersion), '-e', sshCommand(tgt)];
    // no --timeout: no network; a stall here is a hung disk, which run.ts sees (no byte moves, no CPU used) as rsync would
    case 'local':
      return [];
  }
}

const NUL = Buffer.from([0]);

/**
 * --temp-dir for a call that writes files into a relay target, relative to
 * the destination directory the call names (the target root for every call
 * that passes this). A dry run writes nothing and needs none.
 */
export function inboxArgs(tgt: TargetSpec, o: { dryRun?: boolean } = {}): string[] {
  return tgt.inbox && !o.dryRun ? [`--temp-dir=${tgt.inbox}`] : [];
}

/**
 * Makes a relay target's inbox: an empty directory synced as `<inbox>/`
 * (rsync creates the missing destination directory; mode 700, owned by the
 * target's rsync user). rsync refuses a --temp-dir that does not exist
 * ("The temp-dir does not exist"), so the first call to a new relay, or one
 * whose inbox someone removed, makes it and is sent again.
 */
export function buildInboxCall(tgt: TargetSpec, emptyDir: string, o: CallOptions): RsyncCall | null {
  if (!tgt.inbox) return null;
  const argv = [
    'rsync',
    '--dirs',
    '--perms',
    '--chmod=D700',
    ...commonArgs(tgt, o),
    `${emptyDir.replace(/\/+$/, '')}/`,
    `${rsyncDestination(tgt.url)}${tgt.inbox}/`,
  ];
  return { argv, env: {} };
}

/** rsync's refusal of a --temp-dir that is not there (main.c), on stderr. */
export function inboxMissing(detail: string): boolean {
  return /The temp-dir does not exist/.test(detail);
}

// the receiver names a failure by its full path on the target (a local or an
// ssh directory; a daemon says "(in module)" instead): strip it back to ours
function roots(src: SourceSpec, tgt: TargetSpec): { sourceRoot: string; destRoot?: string } {
  return tgt.url.kind === 'local' || (tgt.url.kind === 'ssh' && tgt.url.path.startsWith('/'))
    ? { sourceRoot: src.readRoot ?? src.root, destRoot: tgt.url.path }
    : { sourceRoot: src.readRoot ?? src.root };
}

function sourceArg(root: string): string {
  // the trailing slash sends the root's contents, not a directory named after it
  return root.endsWith('/') ? root : `${root}/`;
}

/** yyyy-mm-dd in UTC: the name of one day's backup directory */
export function backupDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * --backup keeps what a sync deletes or overwrites, under a dated directory
 * relative to the target root. The protect rule (P) goes first, before the
 * source's own filters, so no --delete ever removes the backups.
 */
export function backupArgs(tgt: TargetSpec, o: CallOptions): string[] {
  if (!tgt.backup) return [];
  const dir = tgt.backup.dir;
  return [`--filter=P /${dir}/`, '--backup', `--backup-dir=${dir}/${backupDay(o.now ?? new Date())}`];
}

/**
 * Removes backup directories older than keep_days on the target: an empty
 * directory synced over the backup directory with --delete, every day still
 * kept protected (P). Works the same for local, daemon and ssh targets.
 */
export function buildPruneCall(tgt: TargetSpec, emptyDir: string, o: CallOptions): RsyncCall | null {
  if (!tgt.backup) return null;
  const now = (o.now ?? new Date()).getTime();
  const keep: string[] = [];
  for (let i = 0; i <= tgt.backup.keepDays; i++) keep.push(backupDay(new Date(now - i * 86_400_000)));
  const argv = [
    'rsync',
    '-r',
    '--delete',
    ...keep.map((d) => `--filter=P /${d}/`),
    ...commonArgs(tgt, o),
    `${emptyDir.replace(/\/+$/, '')}/`,
    `${rsyncDestination(tgt.url)}${tgt.backup.dir}/`,
  ];
  return { argv, env: {} };
}

export function commonArgs(tgt: TargetSpec, o: CallOptions): string[] {
  return [
    // creates a missing destination directory (rsync >= 3.2.3)
    '--mkpath',
    // rsync's quick check compares mtimes in whole seconds unless told
    // otherwise: a file rewritten with the same size within the same second
    // would be skipped. -1 compares nanoseconds.
    '--modify-window=-1',
    // --stats on stdout is how the runner counts files and bytes (see run.ts)
    '--stats',
    ...(o.isRoot ? ['--numeric-ids'] : ['--no-o', '--no-g']),
    ...connectionArgs(tgt),
  ];
}

/**
 * The remote shell for -e, as one string. The operator's options come first
 * because ssh keeps the first value it sees for each option.
 */
export function sshCommand(tgt: TargetSpec): string {
  return sshWords(tgt).map(quoteRshWord).join(' ');
}

/** The ssh command of sshCommand(), as argv words. */
export function sshWords(tgt: TargetSpec): string[] {
  const url = tgt.url;
  const words = ['ssh'];
  if (url.kind === 'ssh' && url.port) words.push('-p', String(url.port));
  for (const opt of tgt.sshOptions) {
    if (opt.startsWith('-')) words.push(opt);
    else words.push('-o', opt);
  }
  if (tgt.identityFile) words.push('-i', tgt.identityFile);
  // never prompt: a daemon has nobody to answer
  words.push('-o', 'BatchMode=yes');
  if (tgt.controlPath) {
    words.push(
      '-o',
      'ControlMaster=auto',
      '-o',
      `ControlPath=${sshConfigValue(tgt.controlPath)}`,
      '-o',
      'ControlPersist=60',
    );
  }
  words.push('-o', `ConnectTimeout=${tgt.contimeoutS}`);
  // a network gone silent ends ssh (and a shared master connection with it) within
  // about timeout_s, instead of when TCP gives up retransmitting, many minutes later
  words.push('-o', `ServerAliveInterval=${serverAliveS(tgt.timeoutS)}`, '-o', 'ServerAliveCountMax=3');
  return words;
}

/** ssh's keep-alive interval: three unanswered ones (ServerAliveCountMax) take about timeout_s. */
export function serverAliveS(timeoutS: number): number {
  return Math.max(1, Math.ceil(timeoutS / 3));
}

/**
 * `rsync --version` on an ssh target, through the same ssh options as a
 * transfer (without connection sharing), with the operator's --rsync-path if
 * rsync_args sets one: the receiver's version, which a transfer never shows.
 * null for other targets (a daemon's greeting carries only the protocol, 32
 * for every rsync from 3.4.0 to 3.5.0).
 */
export function buildRemoteVersionCall(tgt: TargetSpec): RsyncCall | null {
  const url = tgt.url;
  if (url.kind !== 'ssh') return null;
  // the last one wins, as in rsync
  const rsyncPath =
    tgt.rsyncArgs
      .filter((a) => a.startsWith('--rsync-path='))
      .pop()
      ?.slice('--rsync-path='.length) ?? 'rsync';
  const login = url.user ? `${url.user}@${url.host}` : url.host;
  return { argv: [...sshWords({ ...tgt, controlPath: undefined }), login, rsyncPath, '--version'], env: {} };
}

/**
 * A path as ssh's option parser reads `-o Key=value`: it splits the value on
 * white space (a state_dir with a space broke every ssh target) unless
 * double-quoted, where \ escapes " and \; and it expands %-tokens, so a
 * literal % is %%.
 */
export function sshConfigValue(path: string): string {
  const v = path.replaceAll('%', '%%');
  return /[\s"'\\#]/.test(path) ? `"${v.replace(/["\\]/g, '\\$&')}"` : v;
}

/**
 * rsync splits -e on spaces only, and honours '...' and "..." quoting, where a
 * doubled quote inside stands for one (rsync main.c do_cmd).
 */
export function quoteRshWord(word: string): string {
  if (word !== '' && !/[ '"]/.test(word)) return word;
  return `'${word.replaceAll("'", "''")}'`;
}
