import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type Config, parseConfig } from '../../src/config/index.js';
import { Daemon } from '../../src/daemon/index.js';
import { createLogger, type Logger, silentLogger } from '../../src/util/log.js';
import { type CompareOptions, compareTrees, waitFor } from './tree.js';

export interface TargetUnderTest {
  name: string;
  url: string;
  dir: string;
  passwordFile?: string;
  identityFile?: string;
  sshOptions?: string[];
  /** compare owners too (not for ssh targets written by an unprivileged user) */
  owner?: boolean;
  /** the target's timeout_s (default 20) */
  timeoutS?: number;
}

/** One source of a config under test (see sourcesYaml). */
export interface SourceUnderTest {
  name: string;
  path: string;
  targets: TargetUnderTest[];
  exclude?: string[];
  /** more lines of the source, indented by 4 */
  extra?: string;
}

/**
 * YAML for the given sources. The API listens on a free port
 * (state_dir/api.json has it) unless `api` says otherwise, so tests running
 * in parallel never compete for 8730.
 */
export function sourcesYaml(o: {
  stateDir: string;
  sources: SourceUnderTest[];
  api?: { listen: string; tokenFile?: string };
}): string {
  const api = o.api ?? { listen: '127.0.0.1:0' };
  const lines = [
    `state_dir: ${JSON.stringify(o.stateDir)}`,
    'api:',
    `  listen: ${JSON.stringify(api.listen)}`,
    ...(api.tokenFile ? [`  token_file: ${JSON.stringify(api.tokenFile)}`] : []),
    'sources:',
  ];
  for (const s of o.sources) {
    lines.push(
      `  - name: ${s.name}`,
      `    path: ${JSON.stringify(s.path)}`,
      `    exclude: ${JSON.stringify(s.exclude ?? [])}`,
      // SYNCWARD_TEST_WATCHER=fanotify runs a suite against the second backend
      ...(process.env.SYNCWARD_TEST_WATCHER ? [`    watcher: ${process.env.SYNCWARD_TEST_WATCHER}`] : []),
      ...(s.extra ? [s.extra] : []),
      '    targets:',
    );
    for (const t of s.targets) {
      lines.push(
        `      - name: ${t.name}`,
        `        url: ${JSON.stringify(t.url)}`,
        `        timeout_s: ${t.timeoutS ?? 20}`,
      );
      if (t.passwordFile) lines.push(`        password_file: ${JSON.stringify(t.passwordFile)}`);
      if (t.identityFile) lines.push(`        identity_file: ${JSON.stringify(t.identityFile)}`);
      if (t.sshOptions) lines.push(`        ssh_options: ${JSON.stringify(t.sshOptions)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** YAML for one source, named "src", mirrored to the given targets (see sourcesYaml). */
export function configYaml(o: {
  stateDir: string;
  source: string;
  targets: TargetUnderTest[];
  exclude?: string[];
  extra?: string;
  api?: { listen: string; tokenFile?: string };
}): string {
  return sourcesYaml({
    stateDir: o.stateDir,
    api: o.api,
    sources: [{ name: 'src', path: o.source, targets: o.targets, exclude: o.exclude, extra: o.extra }],
  });
}

/** One JSON log line as pino writes it (level 20 debug, 30 info, 40 warn, 50 error). */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger that keeps every line it writes, parsed, to count them by level and text. */
export function recordingLogger(level = 'debug'): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level }, { write: (l: string) => lines.push(JSON.parse(l) as LogLine) });
  return { log, lines };
}

/** A running in-process daemon, resolved once `readySources` sources (default all) are watched; `log` replaces the silent logger. */
export async function startDaemon(
  config: Config | string,
  o: { readySources?: number; log?: Logger } = {},
): Promise<{ daemon: Daemon; config: Config; dispose(): Promise<void> }> {
  const parsed = typeof config === 'string' ? parseConfig(config) : config;
  const wanted = o.readySources ?? parsed.sources.length;
  const log =
    o.log ??
    (process.env.SYNCWARD_TEST_LOG ? createLogger({ level: 'debug', format: 'json' }) : silentLogger());
  const daemon = new Daemon(parsed, log);
  const ready = new Promise<void>((resolve) => {
    let n = 0;
    daemon.on('ready', () => {
      if (++n === wanted) resolve();
    });
  });
  await daemon.start();
  await ready;
  return { daemon, config: parsed, dispose: () => daemon.stop(5000) };
}

export function tempStateDir(): { dir: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'syncward-state-'));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Waits until every target matches the source, listing what still differs on timeout. */
export async function converged(
  source: string,
  targets: TargetUnderTest[],
  timeoutMs = 30_000,
  what = 'targets match source',
  compare: CompareOptions = {},
) {
  let last: string[] = [];
  try {
    await waitFor(
      async () => {
        last = [];
        for (const t of targets) {
          // a tree still being written may lose an entry between its listing and its lstat: not yet, not a failure
          const diffs = await compareTrees(source, t.dir, { owner: t.owner ?? false, ...compare }).catch(
            (e: NodeJS.ErrnoException) => {
              if (e.code !== 'ENOENT' && e.code !== 'ENOTDIR') throw e;
              return [`changed while compared (${e.message})`];
            },
          );
          last.push(...diffs.map((d) => `${t.name}: ${d}`));
        }
        return last.length === 0;
      },
      timeoutMs,
      what,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; still different:\n  ${last.slice(0, 30).join('\n  ')}`);
  }
}
