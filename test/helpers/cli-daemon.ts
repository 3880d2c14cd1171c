import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { waitFor } from './tree.js';

/** bin/syncward, from dist/test/helpers/ */
export const bin = new URL('../../../bin/syncward', import.meta.url).pathname;

/** One JSON log line of `syncward start` (pino: msg, level, and the structured fields). */
export type LogLine = Record<string, unknown> & { msg?: string };

export interface SpawnedSyncward {
  child: ChildProcess;
  pid: number;
  /** every stderr line parsed as JSON, in order */
  lines: LogLine[];
  /** stderr lines that are not JSON (a crash, a message before the logger exists) */
  other: string[];
  /** all of stderr, for failure messages */
  stderr(): string;
  /** resolves when the process is gone */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** the first line (from index `from`) matching `pred`, waiting at most `timeoutMs` */
  waitForLine(
    pred: (l: LogLine) => boolean,
    timeoutMs: number,
    what: string,
    from?: number,
  ): Promise<LogLine>;
  /** SIGTERM, then SIGKILL after `graceMs`; safe to call twice or after exit */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs `syncward <args>` as a real process, reading its JSON log lines from
 * stderr (not a TTY, so the logger writes JSON). `wrap` runs it under another
 * program that execs node (e.g. setpriv), so the pid is still syncward's.
 */
export function spawnSyncward(
  args: string[],
  o: { wrap?: string[]; env?: NodeJS.ProcessEnv } = {},
): SpawnedSyncward {
  const argv = [process.execPath, bin, ...args];
  const [cmd, ...rest] = o.wrap ? [...o.wrap, ...argv] : argv;
  const child = spawn(cmd as string, rest, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: o.env ?? process.env,
  });
  const lines: LogLine[] = [];
  const other: string[] = [];
  let all = '';
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    all += s;
    const parts = (partial + s).split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      if (p.trim() === '') continue;
      try {
        const v = JSON.parse(p) as unknown;
        if (v && typeof v === 'object') lines.push(v as LogLine);
        else other.push(p);
      } catch {
        other.push(p);
      }
    }
  });
  let status: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      status = { code, signal };
      resolve(status);
    });
  });
  // a test that fails before stop() must not leave a daemon behind
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  void exited.then(() => process.removeListener('exit', onExit));
  return {
    child,
    pid: child.pid ?? -1,
    lines,
    other,
    stderr: () => all,
    exited,
    async waitForLine(pred, timeoutMs, what, from = 0) {
      let found: LogLine | undefined;
      await waitFor(
        () => {
          for (let i = from; i < lines.length; i++) {
            const l = lines[i] as LogLine;
            if (pred(l)) {
              found = l;
              return true;
            }
          }
          if (status)
            throw new Error(`syncward exited (${status.code ?? status.signal}) before ${what}:\n${all}`);
          return false;
        },
        timeoutMs,
        what,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\nsyncward stderr (last 4 KB):\n${all.slice(-4000)}`);
      });
      return found as LogLine;
    },
    async stop(graceMs = 15_000) {
      if (status) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The message of a log line, '' when it has none. */
export function msg(l: LogLine): string {
  return typeof l.msg === 'string' ? l.msg : '';
}

/** `syncward start` logs "source S: watching N directories under P" once a source is watched. */
export const isWatching = (l: LogLine) => /watching \d+ directories/.test(msg(l));

/** Runs a short syncward command to completion (status, resume, check). */
export function runSyncward(
  args: string[],
  timeoutMs = 30_000,
): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Sends a real SIGHUP and waits for the daemon's "config reloaded" line (it lists added, changed, removed). */
export function sighup(daemon: SpawnedSyncward, what: string, timeoutMs = 20_000): Promise<LogLine> {
  const mark = daemon.lines.length;
  daemon.child.kill('SIGHUP');
  return daemon.waitForLine((l) => /^config reloaded/.test(msg(l)), timeoutMs, `the reload ${what}`, mark);
}
