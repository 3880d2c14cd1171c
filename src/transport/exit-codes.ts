import { brief } from '../util/bytes.js';

/**
 * What an rsync exit means for syncward: the one table, refined by
 * rsync's own words on stderr where one code covers different causes.
 */
export type ExitClass = 'ok' | 'vanished' | 'partial' | 'transient' | 'misconfigured' | 'noSpace' | 'error';

/** Whether rsync delivered everything there was: success, or files that vanished meanwhile (nothing left to send). */
export function transferred(cls: string): boolean {
  return cls === 'ok' || cls === 'vanished';
}

export interface ExitInfo {
  class: ExitClass;
  code: number | null;
  /** a short sentence: what is wrong and what to do */
  message: string;
  /** rsync's own last stderr lines, verbatim (trimmed, at most ~2 KB) */
  rsyncMessage: string;
  /** paths rsync named as failed or vanished, relative to the source root when it could tell (byte strings) */
  failedPaths: string[];
  /**
   * the failed paths rsync could not stat because a directory above them is
   * no longer a directory on the source (ENOTDIR): nothing of them exists to send
   */
  notDirectory?: string[];
}

export interface ClassifyOptions {
  /** local source root, stripped from failed paths */
  sourceRoot?: string;
  /** local target directory, stripped from failed paths (receiver-side errors name it) */
  destRoot?: string;
  /** the runner killed rsync after this many ms */
  timedOutMs?: number;
  /** the runner killed rsync because nothing moved for this many seconds (run.ts, stall.ts) */
  stalledS?: number;
  /** the runner killed rsync because the caller aborted */
  aborted?: boolean;
}

interface ExitRow {
  class: ExitClass;
  /** rsync's name for the code (rsync(1), EXIT VALUES) */
  meaning: string;
  /** what the operator should do */
  advice: string;
}

export const EXIT_CLASSES: Readonly<Record<number, ExitRow>> = {
  0: { class: 'ok', meaning: 'success', advice: '' },
  1: {
    class: 'misconfigured',
    meaning: 'syntax or usage error',
    advice: 'check rsync_args and the password file',
  },
  2: {
    class: 'misconfigured',
    meaning: 'protocol incompatibility',
    advice: 'upgrade rsync on the older side',
  },
  3: {
    class: 'misconfigured',
    meaning: 'errors selecting input/output files, dirs',
    advice: 'check that the source and target paths exist and are directories',
  },
  4: {
    class: 'misconfigured',
    meaning: 'requested action not supported',
    advice: 'an option is not supported by the rsync on one side; check rsync_args and the versions',
  },
  5: {
    class: 'misconfigured',
    meaning: 'error starting client-server protocol',
    advice: 'check the module name, the user and the password',
  },
  6: { class: 'error', meaning: 'daemon unable to append to log-file', advice: 'check the daemon log file' },
  10: { class: 'transient', meaning: 'error in socket I/O', advice: 'the target is unreachable; retrying' },
  11: { class: 'error', meaning: 'error in file I/O', advice: 'check the target filesystem' },
  12: {
    class: 'transient',
    meaning: 'error in rsync protocol data stream',
    advice: 'the connection broke; retrying',
  },
  13: { class: 'error', meaning: 'errors with program diagnostics', advice: 'see rsync message' },
  14: { class: 'error', meaning: 'error in IPC code', advice: 'see rsync message' },
  19: { class: 'transient', meaning: 'received SIGUSR1', advice: 'rsync was interrupted; retrying' },
  20: {
    class: 'transient',
    meaning: 'received SIGINT, SIGTERM, or SIGHUP',
    advice: 'rsync was interrupted; retrying',
  },
  21: { class: 'error', meaning: 'some error returned by waitpid()', advice: 'see rsync message' },
  22: {
    class: 'error',
    meaning: 'error allocating core memory buffers',
    advice: 'the host is out of memory',
  },
  23: {
    class: 'partial',
    meaning: 'partial transfer due to error',
    advice: 'some files were not transferred; they are retried',
  },
  24: { class: 'vanished', meaning: 'partial transfer due to vanished source files', advice: '' },
  25: { class: 'partial', meaning: 'the --max-delete limit stopped deletions', advice: 'raise --max-delete' },
  30: { class: 'transient', meaning: 'timeout in data send/receive', advice: 'the target stalled; retrying' },
  35: {
    class: 'transient',
    meaning: 'timeout waiting for daemon connection',
    advice: 'the daemon is unreachable; retrying',
  },
  127: { class: 'misconfigured', meaning: 'rsync not found', advice: 'install rsync' },
  255: {
    class: 'transient',
    meaning: 'unexplained error (usually ssh failed)',
    advice: 'ssh could not connect; retrying',
  },
};

/** rsync's name for an exit code, e.g. "timeout in data send/receive". */
export function describeExit(code: number): string {
  return EXIT_CLASSES[code]?.meaning ?? `unknown exit code ${code}`;
}

const RSYNC_MESSAGE_MAX = 2048;

/** getaddrinfo's words (through rsync or ssh) for a host name that does not resolve. */
const NAME_NOT_RESOLVED =
  /Could not resolve hostname|Name or service not known|Temporary failure in name resolution|No address associated with hostname|getaddrinfo.*(nodename nor servname|not known)/;

/** Pure: an rsync exit (code or signal) and its stderr to a class and a sentence. */
/** spawn() errors that mean this process is short of something for a while, not that rsync is missing. */
const SPAWN_SHORTAGE: Readonly<Record<string, string>> = {
  EMFILE:
    'syncward is out of file descriptors (raise LimitNOFILE / ulimit -n, or find what holds them: ls /proc/PID/fd)',
  ENFILE: 'the system-wide file table is full (fs.file-max)',
  ENOMEM: 'out of memory',
  EAGAIN: 'the process limit was reached (ulimit -u / TasksMax)',
};

/**
 * What a failed spawn() of rsync means. A shortage of fds, memory or
 * processes passes: transient, retried with backoff. A missing or
 * unrunnable binary does not: misconfigured.
 */
export function classifySpawnError(program: string, err: NodeJS.ErrnoException): ExitInfo {
  const shortage = err.code === undefined ? undefined : SPAWN_SHORTAGE[err.code];
  const info = (cls: ExitClass, message: string): ExitInfo => ({
    class: cls,
    code: null,
    message,
    rsyncMessage: '',
    failedPaths: [],
  });
  if (shortage) return info('transient', `cannot start ${program} (${err.code}): ${shortage}; retrying`);
  if (err.code === 'ENOENT') return info('misconfigured', `${program} not found on PATH; install rsync`);
  return info('misconfigured', `cannot start ${program}: ${err.message}`);
}

export function classifyExit(
  code: number | null,
  signal: string | null,
  stderr: string,
  o: ClassifyOptions = {},
): ExitInfo {
  const rsyncMessage = lastLines(stderr, RSYNC_MESSAGE_MAX);
  const failures = code === 23 || code === 24 || code === 11 ? parseFailures(stderr, o) : [];
  const failedPaths = failures.map((f) => f.path);
  const notDirectory = failures.filter((f) => f.cause === 'notDirectory').map((f) => f.path);
  const info = (cls: ExitClass, message: string): ExitInfo => ({
    class: cls,
    code,
    message,
    rsyncMessage,
    failedPaths,
    notDirectory,
  });

  if (o.aborted)
    return info('transient', 'rsync was stopped because syncward is shutting down or the call was cancelled');
  if (o.stalledS !== undefined) {
    return info(
      'transient',
      `the transfer made no progress for ${o.stalledS} s (rsync read, wrote and printed nothing and used no CPU) and was killed; check that the target host, its rsync and the network to it are up; retrying`,
    );
  }
  if (o.timedOutMs !== undefined) {
    return info(
      'transient',
      `rsync did not finish within ${Math.round(o.timedOutMs / 1000)} s and was killed; the target is slow or stuck; retrying`,
    );
  }
  if (code === null) {
    return info('transient', `rsync was killed by ${signal ?? 'a signal'}; retrying`);
  }
  if (code === 0) return info('ok', 'ok');
  if (code === 127) {
    if (/remote command not found/.test(stderr)) {
      return info(
        'misconfigured',
        'rsync is not installed on the target (remote command not found): install rsync there',
      );
    }
    return info('misconfigured', 'rsync not found on PATH; install rsync');
  }

  const noSpace = /No space left on device|Disk quota exceeded/.exec(stderr);
  if (noSpace) {
    return info(
      'noSpace',
      `target disk full (${noSpace[0]}); free space or raise the quota on the target; retrying`,
    );
  }

  const badMode = /invalid file mode.*$/m.exec(stderr);
  if (badMode) {
    return info(
      'misconfigured',
      `the target's rsync rejected a delete (${badMode[0].trim()}): rsync 3.4.3 breaks --delete-missing-args (rsync issue 910); upgrade rsync on the target to 3.4.4 or newer`,
    );
  }

  const daemonError = /^@ERROR: (.*)$/m.exec(stderr)?.[1]?.trim();
  if (daemonError !== undefined) {
    if (/max connections/.test(daemonError))
      return info('transient', `the rsync daemon is busy: ${daemonError}; retrying`);
    if (/auth failed/.test(daemonError)) {
      return info(
        'misconfigured',
        `the rsync daemon refused the login (${daemonError}): check the user in the URL and the password file`,
      );
    }
    if (/Unknown module/.test(daemonError)) {
      return info(
        'misconfigured',
        `the rsync daemon has no such module (${daemonError}): check the module name in the URL`,
      );
    }
    return info('misconfigured', `the rsync daemon refused the transfer: ${daemonError}`);
  }
  const line = (re: RegExp) =>
    stderr
      .split('\n')
      .find((l) => re.test(l))
      ?.trim();

  if (code === 2 && /Invalid packet at end of run/.test(stderr)) {
    // rsync 3.5.0's sender, after files vanished under it, can end a run that
    // had been going fine this way: the connection and the versions are good
    return info(
      'transient',
      'rsync ended with a protocol error after source files vanished during the transfer (Invalid packet at end of run); the changes go again',
    );
  }
  if (code === 5) {
    const notDaemon = line(/rather than greeting/);
    if (notDaemon)
      return info(
        'misconfigured',
        `the server at that address is not an rsync daemon (${notDaemon}): check the host and port`,
      );
  }
  if (code === 1) {
    if (/password file must not be other-accessible/.test(stderr)) {
      return info(
        'misconfigured',
        'the password file is readable by others and rsync refuses it: chmod 600 it',
      );
    }
    const pw = line(/could not open password file/);
    if (pw) return info('misconfigured', `${pw.replace(/^rsync: (\[\w+\] )?/, '')}: check password_file`);
  }
  if (code === 255 || code === 12) {
    // ssh's own words come before rsync's "connection unexpectedly closed"
    const auth = line(/Permission denied \(|Host key verification failed|Too many authentication failures/);
    if (auth)
      return info(
        'misconfigured',
        `ssh login failed (${auth}): check the user, identity_file and known_hosts`,
      );
    const noRsync = line(/rsync: (command )?not found|No such file or directory.*rsync|command not found/);
    if (noRsync)
      return info('misconfigured', `rsync is not installed on the target (${noRsync}): install rsync there`);
  }
  // ssh (255) and rsync's own daemon connect (10: "getaddrinfo: HOST PORT: ...") say so when
  // the name does not resolve: no retry fixes a wrong host name
  if (code === 255 || code === 12 || code === 10) {
    const dns = line(NAME_NOT_RESOLVED);
    if (dns)
      return info(
        'misconfigured',
        `the target host name does not resolve (${dns.replace(/^rsync: (\[\w+\] )?/, '')}): fix the host in the target URL, or the DNS (or /etc/hosts) of this machine`,
      );
  }
  if (code === 10) {
    const refused = line(/Connection refused|No route to host|Network is unreachable/);
    if (refused)
      return info(
        'transient',
        `cannot connect to the rsync daemon (${refused.replace(/^rsync: (\[\w+\] )?/, '')}); retrying`,
      );
  }
  if (code === 3) {
    const dest = line(/cannot stat destination|mkdir .* failed|change_dir .* failed/);
    if (dest)
      return info('misconfigured', `${dest.replace(/^rsync: (\[\w+\] )?/, '')}: check the target path`);
  }
  if (code === 23 || code === 24) {
    const n = failedPaths.length;
    const what = code === 24 ? 'vanished from the source during the transfer' : 'could not be transferred';
    if (
      code === 23 &&
      /change_dir .* failed/.test(stderr) &&
      n <= 1 &&
      o.sourceRoot &&
      failedPaths[0] === ''
    ) {
      return info('partial', 'the source directory could not be read: check that it exists and is readable');
    }
    const sample = failedPaths
      .slice(0, 3)
      .map((p) => brief(Buffer.from(p === '' ? '.' : p, 'latin1').toString('utf8')))
      .join(', ');
    const tail = code === 24 ? '' : '; they are retried (see the rsync message for why)';
    return info(
      EXIT_CLASSES[code]?.class ?? 'partial',
      n > 0 ? `${n} path(s) ${what}: ${sample}${n > 3 ? ', ...' : ''}${tail}` : `some files ${what}${tail}`,
    );
  }

  const row = EXIT_CLASSES[code];
  if (!row) return info('error', `rsync failed with unknown exit code ${code}: see the rsync message`);
  return info(row.class, `rsync exit ${code} (${row.meaning}): ${row.advice}`);
}

/** rsync's last lines of stderr, trimmed, at most `max` characters, cut at a line start. */
function lastLines(stderr: string, max: number): string {
  const t = stderr.trim();
  if (t.length <= max) return t;
  const cut = t.slice(-max);
  const nl = cut.indexOf('\n');
  return nl >= 0 ? cut.slice(nl + 1) : cut;
}

/** One path rsync named as failed, and why when it matters to syncward. */
export interface FailedPath {
  path: string;
  /** notDirectory: a directory above it is not a directory on the source (rsync's "Not a directory (20)") */
  cause: 'notDirectory' | 'other';
}

/**
 * The path named in one rsync stderr line, or undefined. Forms seen (rsync 3.x):
 *   rsync: [sender] send_files failed to open "/src/f": Permission denied (13)
 *   rsync: [sender] opendir "/src/d" failed: Permission denied (13)
 *   rsync: [sender] link_stat "/src/d/sub" failed: Not a directory (20)
 *   rsync: [receiver] mkstemp "/dst/.f.0tAfwl" failed: Permission denied (13)
 *   rsync: [receiver] write failed on "/f" (in module): No space left on device (28)
 *   rsync: [generator] delete_file: unlink(a/b) failed: Permission denied (13)
 *   file has vanished: "/src/f"
 *   filename overflows max-path len by 171: d/d/.../d   (a name longer than 4,096 bytes, unquoted)
 *   skipping overly long name: d/d/.../d
 * Names come back as byte strings: rsync writes bytes it deems unprintable
 * as \#ooo (every byte >= 0x80 under LC_ALL=C).
 */
export function parseFailure(
  line: string,
  roots: { sourceRoot?: string; destRoot?: string } = {},
): FailedPath | undefined {
  let m = /^file has vanished: "(.*)"$/.exec(line);
  let path = m?.[1];
  let inModule = false;
  // the sender cannot list a directory whose path is too long: exit 23, and deletions are skipped
  if (path === undefined)
    path = /^(?:filename overflows max-path len by \d+|skipping overly long name): (.*)$/.exec(line)?.[1];
  // the receiver could not remove what stands in the way of an entry of another type
  // (a directory that became a file): the path is not delivered, unquoted, relative
  if (path === undefined) path = /^could not make way for (?:new )?[a-z ]+?: (.*)$/.exec(line)?.[1];
  if (path === undefined && line.startsWith('rsync: ')) {
    if (/^rsync: (\[\w+\] )?(error|warning|connection unexpectedly closed)/.test(line)) return undefined;
    m = /"(.*)"( \(in [^)]*\))?(?::| failed|$)/.exec(line);
    if (m) {
      path = m[1];
      inModule = m[2] !== undefined;
    } else {
      // deletions name the path relative to the destination, unquoted
      path = /delete_file: \w+\((.*)\) failed/.exec(line)?.[1];
    }
  }
  if (path === undefined) return undefined;
  const cause = /^rsync: (\[\w+\] )?link_stat .*: Not a directory \(20\)$/.test(line)
    ? 'notDirectory'
    : 'other';
  let p = unescapeRsync(path);
  if (/^rsync: (\[\w+\] )?mkstemp /.test(line)) p = p.replace(/(^|\/)\.([^/]+)\.[A-Za-z0-9]{6}$/, '$1$2');
  for (const r of [roots.sourceRoot, roots.destRoot]) {
    if (r === undefined) continue;
    const root = r.replace(/\/+$/, '');
    if (p === root || p.startsWith(`${root}/`)) return { path: p.slice(root.length + 1), cause };
  }
  if (inModule) p = p.replace(/^\/+/, '');
  return { path: p, cause };
}

/** The path named in one rsync stderr line, or undefined (see parseFailure). */
export function parseFailedPath(
  line: string,
  roots: { sourceRoot?: string; destRoot?: string } = {},
): string | undefined {
  return parseFailure(line, roots)?.path;
}

/** Every failed path named in rsync's stderr, once each (a path named twice keeps its first cause). */
export function parseFailures(
  stderr: string,
  roots: { sourceRoot?: string; destRoot?: string } = {},
  max = 10_000,
): FailedPath[] {
  const seen = new Map<string, FailedPath>();
  for (const line of stderr.split('\n')) {
    const f = parseFailure(line.replace(/\r$/, ''), roots);
    if (f !== undefined && !seen.has(f.path)) seen.set(f.path, f);
    if (seen.size >= max) break;
  }
  return [...seen.values()];
}

export function parseFailedPaths(
  stderr: string,
  roots: { sourceRoot?: string; destRoot?: string } = {},
  max = 10_000,
): string[] {
  return parseFailures(stderr, roots, max).map((f) => f.path);
}

/** rsync's \#ooo escapes back to raw bytes, as a latin1 byte string. */
export function unescapeRsync(s: string): string {
  const bytes = Buffer.from(s, 'utf8').toString('latin1');
  return bytes.replace(/\\#([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}
