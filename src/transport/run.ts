import { type ChildProcess, spawn } from 'node:child_process';
import type { RsyncCall } from './argv.js';
import {
  classifyExit,
  classifySpawnError,
  type ExitClass,
  type ExitInfo,
  type FailedPath,
  parseFailure,
} from './exit-codes.js';
import { rsyncTreeCounters } from './proc-io.js';
import { checkIntervalMs, observe, type Progress, stalled } from './stall.js';

/** What rsync's --stats said (fields it did not print stay 0). */
export interface RsyncStats {
  /** "Number of files" (entries considered, of every type) */
  files: number;
  created: number;
  deleted: number;
  /** "Number of regular files transferred" */
  transferred: number;
  /** "Total transferred file size": size of the files sent (not just their deltas) */
  transferredSize: number;
  /** "Total bytes sent": bytes on the wire, protocol included */
  bytesSent: number;
  bytesReceived: number;
}

export interface RsyncResult {
  code: number | null;
  signal: string | null;
  durationMs: number;
  /** the end of stderr (bounded) */
  stderrTail: string;
  /** the end of stdout (bounded) */
  stdoutTail: string;
  /** regular files transferred */
  files: number;
  /** bytes sent to the target (rsync's "Total bytes sent") */
  bytes: number;
  stats: RsyncStats;
  exit: ExitInfo;
  /**
   * rsync said "IO error encountered -- skipping file deletion": an error while
   * listing the source made it skip --delete inside the directories it recursed
   * (deletes of listed missing paths still happen)
   */
  deletionSkipped?: boolean;
}

export interface RunOptions {
  /** hard bound on the call; rsync is then sent SIGTERM, and SIGKILL 5 s later */
  timeoutMs: number;
  /**
   * seconds without progress (no byte read, written or printed, no CPU used
   * by rsync's processes) after which the call is killed as stalled; none:
   * only the hard bound
   */
  stallS?: number;
  signal?: AbortSignal;
  /** every stdout line (split on \n and \r, so --info=progress2 updates arrive too), without its end */
  onStdoutLine?: (line: string) => void;
}

const TAIL_MAX = 64 * 1024;
const LINE_MAX = 64 * 1024;
const KILL_GRACE_MS = 5000;
// a stalled rsync spends its SIGTERM trying to tell the silent peer why it ends
const STALL_KILL_GRACE_MS = 1000;
const FAILED_PATHS_MAX = 10_000;

/**
 * Runs one rsync call: argv array, no shell, stdin fed then closed. Always
 * resolves, also when rsync fails or cannot be started: the result's `exit`
 * says what happened. Output is streamed and only tails are kept, so an
 * itemized sync of a million files costs no memory.
 */
export function runRsync(call: RsyncCall, o: RunOptions): Promise<RsyncResult> {
  return startRsync(call).run(call.stdin, o);
}

/** An rsync started before its list is known (transport/ready.ts): running, waiting on its stdin. */
export interface StartedRsync {
  /** undefined: it could not be started (done says why) */
  readonly pid: number | undefined;
  /** when it was spawned (Date.now()) */
  readonly startedAt: number;
  /** it exited (or never started) */
  readonly exited: boolean;
  /** it was handed its list */
  readonly running: boolean;
  /**
   * Resolves when rsync exited, whatever happened. Before run(), the result
   * is rsync's own exit: what ended it while it waited (a refused login, a
   * daemon at max connections, a kill).
   */
  readonly done: Promise<RsyncResult>;
  /**
   * Hands rsync its --files-from=- list (stdin, then EOF) and starts the
   * bounds of a call: from here it is an ordinary call, timed from now.
   * `stdin` undefined: a call that reads no list (its stdin is closed).
   */
  run(stdin: Buffer | undefined, o: RunOptions): Promise<RsyncResult>;
  /** SIGTERM to its process group, SIGKILL after graceMs; the result is killed by a signal */
  kill(graceMs?: number): void;
}

/**
 * Spawns rsync with its stdin open and nothing fed: rsync connects, logs in
 * and then waits to read --files-from=- (a call with no list simply runs).
 * Nothing bounds it until run(): an rsync waiting on its stdin reads,
 * writes and prints nothing, which is not a stall.
 */
export function startRsync(call: RsyncCall): StartedRsync {
  const spawnedAt = Date.now();
  let started = spawnedAt;
  let o: RunOptions = { timeoutMs: 0 };
  let resolve!: (r: RsyncResult) => void;
  const done = new Promise<RsyncResult>((r) => {
    resolve = r;
  });
  const stats: RsyncStats = {
    files: 0,
    created: 0,
    deleted: 0,
    transferred: 0,
    transferredSize: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };
  let deletionSkipped = false;
  const stdout = new LineSplitter((line) => {
    parseStatsLine(line, stats);
    if (line.startsWith('IO error encountered -- skipping file deletion')) deletionSkipped = true;
    o.onStdoutLine?.(line);
  });
  // failed paths are taken from every stderr line, not just the tail
  const failed = new Map<string, FailedPath>();
  // lines that decide the class but may scroll out of the tail
  const notable: string[] = [];
  const stderr = new LineSplitter((line) => {
    const f = failed.size < FAILED_PATHS_MAX ? parseFailure(line, call) : undefined;
    if (f !== undefined && !failed.has(f.path)) failed.set(f.path, f);
    if (notable.length < 5 && /^@ERROR|No space left on device|Disk quota exceeded/.test(line))
      notable.push(line);
  });
  let timedOut = false;
  let stalledS: number | undefined;
  let aborted = false;
  let settled = false;
  let handed = false;
  let killTimer: NodeJS.Timeout | undefined;
  let timer: NodeJS.Timeout | undefined;
  let watch: NodeJS.Timeout | undefined;

  const finish = (code: number | null, signal: string | null, spawnError?: NodeJS.ErrnoException) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    clearInterval(watch);
    clearTimeout(killTimer);
    o.signal?.removeEventListener('abort', onAbort);
    stdout.end();
    stderr.end();
    const stderrTail = stderr.tail;
    let exit: ExitInfo;
    if (spawnError) {
      exit = classifySpawnError(call.argv[0] ?? 'rsync', spawnError);
    } else {
      const missing = notable.filter((l) => !stderrTail.includes(l));
      exit = classifyExit(code, signal, [...missing, stderrTail].join('\n'), {
        sourceRoot: call.sourceRoot,
        destRoot: call.destRoot,
        timedOutMs: timedOut ? o.timeoutMs : undefined,
        stalledS,
        aborted,
      });
      if (failed.size > 0 && (code === 23 || code === 24 || code === 11)) {
        exit.failedPaths = [...failed.keys()];
        exit.notDirectory = [...failed.values()].filter((f) => f.cause === 'notDirectory').map((f) => f.path);
      }
    }
    resolve({
      code,
      signal,
      durationMs: Date.now() - started,
      stderrTail,
      stdoutTail: stdout.tail,
      files: stats.transferred,
      bytes: stats.bytesSent,
      stats,
      exit,
      deletionSkipped,
    });
  };

  const [cmd, ...args] = call.argv;
  const child = spawn(cmd ?? 'rsync', args, {
    env: rsyncEnv(process.env, call.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    // its own process group: a kill reaches the receiver, generator or ssh it forked
    detached: true,
  });
  let killing = false;
  const kill = (graceMs = KILL_GRACE_MS) => {
    if (killing || child.exitCode !== null || child.signalCode !== null) return;
    killing = true;
    signalGroup(child, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    killTimer.unref();
  };
  const onAbort = () => {
    aborted = true;
    kill();
  };

  child.once('error', (e: NodeJS.ErrnoException) => {
    // spawn failed (ENOENT, EACCES); a kill() failing later is not worth reporting
    if (child.pid === undefined) finish(null, null, e);
  });
  child.once('close', (code, signal) => {
    // a child that never started also emits 'close'; its 'error' settles it
    if (child.pid !== undefined) finish(code, signal);
  });
  let outputBytes = 0;
  child.stdout?.on('data', (d: Buffer) => {
    outputBytes += d.length;
    stdout.push(d);
  });
  child.stderr?.on('data', (d: Buffer) => {
    outputBytes += d.length;
    stderr.push(d);
  });
  // rsync may exit (bad auth, unknown module, killed while waiting) before reading its stdin: EPIPE is expected then
  child.stdin?.on('error', () => {});

  const run = (stdin: Buffer | undefined, ro: RunOptions): Promise<RsyncResult> => {
    if (handed) throw new Error('rsync was already handed its list');
    handed = true;
    if (settled) return done;
    o = ro;
    started = Date.now();
    timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, o.timeoutMs);
    let progress: Progress | undefined;
    const look = () => {
      const pid = child.pid;
      if (pid === undefined) return;
      const c = rsyncTreeCounters(pid);
      progress = observe(progress, {
        atMs: performance.now(),
        ioBytes: c?.ioBytes ?? null,
        cpuTicks: c?.cpuTicks ?? null,
        outputBytes,
      });
    };
    const stallS = o.stallS;
    if (stallS !== undefined) {
      watch = setInterval(() => {
        look();
        if (progress && !killing && stalled(progress, stallS * 1000)) {
          stalledS = stallS;
          kill(STALL_KILL_GRACE_MS);
        }
      }, checkIntervalMs(stallS));
      watch.unref();
      look();
    }
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    if (stdin) child.stdin?.end(stdin);
    else child.stdin?.end();
    return done;
  };

  return {
    get pid() {
      return child.pid;
    },
    startedAt: spawnedAt,
    get exited() {
      return settled;
    },
    get running() {
      return handed;
    },
    done,
    run,
    kill,
  };
}

/** A signal to rsync's whole process group; to rsync alone if the group is gone already. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/**
 * The environment rsync runs in: syncward's own, the call's additions, and
 * LC_ALL=C (messages in English for the classifier, every non-ASCII byte of
 * a name escaped as \#ooo). RSYNC_OLD_ARGS is dropped: it would let the
 * remote shell split an ssh target path into words ($(...) in a path runs),
 * and RSYNC_PROTECT_ARGS=0 with it turns off argument protection even on an
 * rsync that predates RSYNC_OLD_ARGS (rsync(1), ADVANCED USAGE).
 */
export function rsyncEnv(
  inherited: NodeJS.ProcessEnv,
  extra: Record<string, string>,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...inherited, ...extra, LC_ALL: 'C' };
  delete env.RSYNC_OLD_ARGS;
  delete env.RSYNC_PROTECT_ARGS;
  return env;
}

/** Splits a byte stream into lines on \n or \r, keeping only a bounded tail of the text. */
class LineSplitter {
  private partial = '';
  private tailText = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    // latin1 decodes any byte; rsync's output is ASCII under LC_ALL=C anyway
    const text = chunk.toString('latin1');
    this.tailText = (this.tailText + text).slice(-TAIL_MAX);
    let s = this.partial + text;
    let i = s.search(/[\r\n]/);
    while (i >= 0) {
      const line = s.slice(0, i);
      if (line !== '') this.onLine(line);
      s = s.slice(i + 1);
      i = s.search(/[\r\n]/);
    }
    if (s.length > LINE_MAX) {
      this.onLine(s);
      s = '';
    }
    this.partial = s;
  }

  end(): void {
    if (this.partial !== '') this.onLine(this.partial);
    this.partial = '';
  }

  get tail(): string {
    return this.tailText;
  }
}

const STATS: [RegExp, keyof RsyncStats][] = [
  [/^Number of files: ([\d,.]+[KMGTP]?)/, 'files'],
  [/^Number of created files: ([\d,.]+[KMGTP]?)/, 'created'],
  [/^Number of deleted files: ([\d,.]+[KMGTP]?)/, 'deleted'],
  // rsync 3.0 said "Number of files transferred"
  [/^Number of (?:regular )?files transferred: ([\d,.]+[KMGTP]?)/, 'transferred'],
  [/^Total transferred file size: ([\d,.]+[KMGTP]?)/, 'transferredSize'],
  [/^Total bytes sent: ([\d,.]+[KMGTP]?)/, 'bytesSent'],
  [/^Total bytes received: ([\d,.]+[KMGTP]?)/, 'bytesReceived'],
];

/** One line of --stats into `stats`; numbers may carry "," separators or, with -h, a K/M/G suffix. */
export function parseStatsLine(line: string, stats: RsyncStats): boolean {
  for (const [re, key] of STATS) {
    const m = re.exec(line);
    if (m?.[1]) {
      stats[key] = parseNumber(m[1]);
      return true;
    }
  }
  return false;
}

function parseNumber(s: string): number {
  const unit = /[KMGTP]$/.exec(s)?.[0];
  const n = Number(s.replace(/[KMGTP]$/, '').replaceAll(',', ''));
  if (!unit) return Math.round(n);
  return Math.round(n * 1024 ** ('KMGTP'.indexOf(unit) + 1));
}
