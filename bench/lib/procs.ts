/**
 * The processes a benchmark runs side by side, all against the same loopback
 * rsync daemon (test/helpers/rsyncd.ts: auth on every module, TCP_NODELAY on
 * the daemon side): syncward as its own process with a generated config,
 * lsyncd (default.rsync), `inotifywait -r`, and bare rsync calls (the floor).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type RsyncDaemon, startRsyncDaemon } from '../../test/helpers/rsyncd.js';
import { waitFor } from '../../test/helpers/tree.js';

export type { RsyncDaemon };
export { startRsyncDaemon };

/**
 * syncward as scripts/install.sh and the .deb install it: the bundle
 * (scripts/bundle.mjs, built by npm run bench), which bin/syncward runs
 * where there is no dist/src. A clone's bin/syncward runs dist/src.
 */
export const SYNCWARD_BIN = new URL('../../../dist/bundle/syncward.js', import.meta.url).pathname;
/** the node flags bin/syncward and the systemd unit run with: its first line's */
export const SYNCWARD_NODE_FLAGS = (
  readFileSync(new URL('../../../bin/syncward', import.meta.url), 'utf8').split('\n')[0] ?? ''
)
  .split(' ')
  .filter((w) => w.startsWith('--'));

export function which(cmd: string): boolean {
  return spawnSync('which', [cmd]).status === 0;
}

/** RSS of a running process in MB (from /proc), or null once it is gone. */
export function rssMb(pid: number): number | null {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Ends a child and waits for it (SIGTERM, then SIGKILL after graceMs). */
export async function stopChild(p: ChildProcess, graceMs = 10_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
}

export interface SyncwardTarget {
  name: string;
  url: string;
  passwordFile?: string;
  /** ssh targets: the key and the -o options (see test/helpers/sshd.ts) */
  identityFile?: string;
  sshOptions?: string[];
}

export interface SyncwardOptions {
  stateDir: string;
  source: string;
  targets: SyncwardTarget[];
  initialSync?: boolean;
  /** sources[].watcher (default: the config's default, inotify) */
  watcher?: 'inotify' | 'fanotify' | 'auto';
  /** write a V8 CPU profile of the daemon into this directory when it exits */
  cpuProfDir?: string;
  /** api.listen (default "off": port clashes) */
  api?: string;
}

/** The config a benchmark runs syncward with: defaults, except the API is off unless asked for (port clashes). */
export function syncwardConfig(o: SyncwardOptions): string {
  const lines = [
    `state_dir: ${JSON.stringify(o.stateDir)}`,
    'api:',
    `  listen: ${JSON.stringify(o.api ?? 'off')}`,
    'log:',
    `  level: ${process.env.SYNCWARD_BENCH_LOG_LEVEL ?? 'info'}`,
    '  format: json',
    'sources:',
    '  - name: src',
    `    path: ${JSON.stringify(o.source)}`,
    ...(o.initialSync === false ? ['    initial_sync: false'] : []),
    ...(o.watcher ? [`    watcher: ${o.watcher}`] : []),
    '    targets:',
  ];
  for (const t of o.targets) {
    lines.push(`      - name: ${t.name}`, `        url: ${JSON.stringify(t.url)}`);
    if (t.passwordFile) lines.push(`        password_file: ${JSON.stringify(t.passwordFile)}`);
    if (t.identityFile) lines.push(`        identity_file: ${JSON.stringify(t.identityFile)}`);
    if (t.sshOptions) lines.push(`        ssh_options: ${JSON.stringify(t.sshOptions)}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface SyncwardProcess {
  proc: ChildProcess;
  pid: number;
  config: string;
  /** performance.now() at spawn */
  spawnedAt: number;
  /** resolves with performance.now() when the source is watched ("watching N directories", or "... with fanotify": dirs 0) */
  watching: Promise<{ at: number; dirs: number; ms: number }>;
  /** inotify queue overflows the daemon reported so far */
  overflows(): number;
  /** the kinds of the alerts the daemon raised so far ("ALERT watchLimit: ..." logs alert: watchLimit) */
  alerts(): string[];
  /** the last log lines at warn level and above, for error messages */
  problems(): string[];
  stop(): Promise<void>;
}

/** `syncward start -c <generated config>` as its own process, JSON logs parsed from stderr. */
export function startSyncward(o: SyncwardOptions): SyncwardProcess {
  const config = join(o.stateDir, 'bench-syncward.yaml');
  writeFileSync(config, syncwardConfig(o));
  const flags = [...SYNCWARD_NODE_FLAGS];
  if (o.cpuProfDir) flags.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`);
  const spawnedAt = performance.now();
  const proc = spawn(process.execPath, [...flags, SYNCWARD_BIN, 'start', '-c', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let overflows = 0;
  const problems: string[] = [];
  const alerts: string[] = [];
  let onWatching: (v: { at: number; dirs: number; ms: number }) => void = () => {};
  let onFail: (e: Error) => void = () => {};
  const watching = new Promise<{ at: number; dirs: number; ms: number }>((res, rej) => {
    onWatching = res;
    onFail = rej;
  });
  watching.catch(() => {});
  const lines = createInterface({ input: proc.stderr as NodeJS.ReadableStream });
  // SYNCWARD_BENCH_LOG=FILE keeps the daemon's log lines (JSON) for a look at its batches afterwards
  const keep = process.env.SYNCWARD_BENCH_LOG;
  lines.on('line', (line) => {
    if (keep) appendFileSync(keep, `${line}\n`);
    let rec: { level?: number; msg?: string; dirs?: number; ms?: number; alert?: string };
    try {
      rec = JSON.parse(line);
    } catch {
      problems.push(line);
      return;
    }
    const msg = rec.msg ?? '';
    if (/watching \d+ directories/.test(msg))
      onWatching({ at: performance.now(), dirs: rec.dirs ?? 0, ms: rec.ms ?? 0 });
    // fanotify watches no directory one by one: the line that says it is watching has no count
    if (/ with fanotify/.test(msg)) onWatching({ at: performance.now(), dirs: 0, ms: 0 });
    if (/queue overflowed/.test(msg)) overflows++;
    if (typeof rec.alert === 'string') alerts.push(rec.alert);
    if ((rec.level ?? 0) >= 40) {
      problems.push(msg);
      if (problems.length > 20) problems.shift();
    }
  });
  proc.once('exit', (code, sig) =>
    onFail(new Error(`syncward exited (${code ?? sig}) before watching: ${problems.slice(-3).join(' / ')}`)),
  );
  return {
    proc,
    pid: proc.pid as number,
    config,
    spawnedAt,
    watching,
    overflows: () => overflows,
    alerts: () => [...alerts],
    problems: () => [...problems],
    stop: () => stopChild(proc, 15_000),
  };
}

export interface LsyncdOptions {
  stateDir: string;
  source: string;
  targetUrl: string;
  passwordFile: string;
  /** an id for the config and log file names */
  id?: string;
}

export interface LsyncdProcess {
  proc: ChildProcess;
  pid: number;
  spawnedAt: number;
  /** performance.now() when lsyncd starts its startup rsync, i.e. its watches are in place */
  watching: Promise<number>;
  overflows(): number;
  stop(): Promise<void>;
}

/**
 * lsyncd as fairly as we can configure it: default.rsync, delay 0,
 * --sockopts=TCP_NODELAY like syncward, and archive = true so modes and
 * owners match (default.rsync otherwise sends only links and times).
 */
export function startLsyncd(o: LsyncdOptions): LsyncdProcess {
  const id = o.id ?? 'lsyncd';
  const lua = join(o.stateDir, `${id}.lua`);
  writeFileSync(
    lua,
    `settings { nodaemon = true, logfile = "${join(o.stateDir, `${id}.log`)}", maxProcesses = 1 }
sync { default.rsync, source = "${o.source}", target = "${o.targetUrl}/", delay = 0,
  rsync = { archive = true, password_file = "${o.passwordFile}", _extra = { "--sockopts=TCP_NODELAY" } } }
`,
  );
  const spawnedAt = performance.now();
  const proc = spawn('lsyncd', ['-log', 'Normal', lua], { stdio: ['ignore', 'pipe', 'pipe'] });
  let overflows = 0;
  let onWatching: (at: number) => void = () => {};
  const watching = new Promise<number>((res, rej) => {
    onWatching = res;
    proc.once('exit', (code) => rej(new Error(`lsyncd exited (${code}) before watching; see ${lua}`)));
  });
  watching.catch(() => {});
  for (const s of [proc.stdout, proc.stderr]) {
    createInterface({ input: s as NodeJS.ReadableStream }).on('line', (line) => {
      if (/startup rsync/i.test(line)) onWatching(performance.now());
      if (/OVERFLOW/.test(line)) overflows++;
    });
  }
  return {
    proc,
    pid: proc.pid as number,
    spawnedAt,
    watching,
    overflows: () => overflows,
    stop: () => stopChild(proc),
  };
}

/** `inotifywait -r -m`: resolves when it prints "Watches established." with the time and its RSS then. */
export function inotifywaitStartup(root: string): Promise<{ ms: number; rssMb: number | null }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('inotifywait', ['-r', '-m', '-e', 'close_write', root], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
      if (err.includes('Watches established')) {
        const ms = performance.now() - t0;
        const rss = rssMb(p.pid as number);
        p.kill();
        resolve({ ms, rssMb: rss });
      }
    });
    p.on('exit', () => reject(new Error(`inotifywait exited before its watches were set: ${err.trim()}`)));
  });
}

/**
 * `syncward audit -c config` (a running daemon's config): its exit code, 0
 * when every target matches the source. Not spawnSync: the bench's own
 * proxies, on this event loop, carry the audit's connections.
 */
export function auditSyncward(config: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...SYNCWARD_NODE_FLAGS, SYNCWARD_BIN, 'audit', '-c', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const s of [p.stdout, p.stderr])
      s?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2000)));
    p.on('close', (code) => resolve({ code, output: output.trim() }));
  });
}

/** rsync's arguments for the bare floor call: archive, TCP_NODELAY like syncward, the module's password. */
export function floorArgs(d: RsyncDaemon, extra: string[] = []): string[] {
  return ['-a', '--sockopts=TCP_NODELAY', `--password-file=${d.passwordFile}`, ...extra];
}

/** Runs rsync with argv (no shell), resolves with its exit code and wall time. */
export function runRsync(
  args: string[],
  stdin?: Buffer,
): Promise<{ code: number; ms: number; stderr: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn('rsync', args, { stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    if (stdin) p.stdin?.end(stdin);
    p.on('exit', (code) => resolve({ code: code ?? -1, ms: performance.now() - t0, stderr }));
  });
}

/** Waits until `cond` holds, polling every `everyMs`; resolves with performance.now() at that moment. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 25,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return performance.now();
    if (performance.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Starts a process that must come up: writes `probe` into `src` and waits for it in `dstDir`. */
export async function warmUp(src: string, dstDir: string, what: string, timeoutMs = 60_000): Promise<void> {
  writeFileSync(join(src, '.bench-warmup'), 'w\n');
  await waitFor(
    () => existsSync(join(dstDir, '.bench-warmup')),
    timeoutMs,
    `${what} to deliver a first file`,
  );
}

export function versionOf(cmd: string, args: string[], re: RegExp): string | null {
  if (!which(cmd)) return null;
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.match(re)?.[1] ?? null;
}
