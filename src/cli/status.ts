import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SEVERITY, UNREACHED_STATES } from '../alerts/index.js';
import { API_FILE, type ApiStatus, apiUrl, readApiToken } from '../api/index.js';
import { type Config, parseListen } from '../config/index.js';
import { controlRequest } from '../daemon/index.js';
import { stateDirProblem } from '../journal/state-dir.js';
import { flattenLeaves } from '../relay/index.js';
import type { LeafStatus, RelayStatus, TargetStatus } from '../status/index.js';
import { describeTransfer, type TransferProgress } from '../transport/index.js';
import { brief } from '../util/bytes.js';
import { type DaemonRef, syncwardCommand } from '../util/shell.js';
import { type DaemonAt, refOf } from './daemon-at.js';

/** Nagios plugin convention: 0 OK, 1 WARNING, 2 CRITICAL. */
export const STATUS_EXIT = { ok: 0, warning: 1, critical: 2 } as const;
export type StatusCode = (typeof STATUS_EXIT)[keyof typeof STATUS_EXIT];

export interface StatusProblem {
  severity: 'warning' | 'critical';
  message: string;
  /** an open alert incident (the text report lists those apart) */
  alert?: boolean;
}

export interface StatusVerdict {
  code: StatusCode;
  problems: StatusProblem[];
}

/**
 * What the daemon's status means for a monitoring check. Pure.
 * Critical: a source not watched, a target down, misconfigured or on hold,
 * a missing canary (as the canaryMissing alert), a critical incident.
 * Warning: a target lagging or paused, stuck paths, drift (or a
 * failed audit) in the last audit, directories that could
 * not be watched (yet), a warning incident; a relay tier that cannot be
 * read, or a target of a relay (any tier down) that is unknown, down,
 * misconfigured or on hold (relayProblems).
 * Everything else (idle, syncing, starting) is ok.
 */
export function statusVerdict(s: StatusBody, ref: DaemonRef = {}): StatusVerdict {
  const problems: StatusProblem[] = [];
  const warn = (message: string) => problems.push({ severity: 'warning', message });
  const crit = (message: string) => problems.push({ severity: 'critical', message });
  for (const src of s.sources) {
    if (src.state === 'missing' || src.state === 'rootGone' || src.state === 'stopped')
      crit(
        `source ${src.name} is ${src.state === 'rootGone' ? 'gone (its root vanished or was unmounted)' : src.state} (${src.path})`,
      );
    const u = src.unwatched;
    if (u && u.dirs > 0)
      warn(
        `source ${src.name}: ${u.dirs} director${u.dirs === 1 ? 'y' : 'ies'} could not be listed or watched (${u.codes.join(', ')}: ${u.sample.join(', ')}), retried until they can`,
      );
    for (const t of src.targets) {
      const key = `${t.source}/${t.target}`;
      const why = t.stateReason ? `: ${t.stateReason}` : '';
      const tries = t.failures > 1 ? ` (${t.failures} failed tries, retrying with backoff)` : '';
      if (t.state === 'down' || t.state === 'misconfigured')
        crit(`${key} is ${t.state} since ${ago(s.now, t.stateSince)}${why}${tries}`);
      else if (t.state === 'held') {
        const resume = syncwardCommand('resume', ref, key);
        crit(
          `${key} is on hold${t.holdReason ? `: ${t.holdReason}` : why}; lift it with ${resume ? `\`${resume}\`` : "the dashboard's Resume"}`,
        );
      } else if (t.state === 'paused') {
        const resume = syncwardCommand('resume', ref, key);
        warn(
          `${key} is paused by an operator since ${ago(s.now, t.pausedSince ?? t.stateSince)}; ${t.pending} change(s) wait in the journal; lift it with ${resume ? `\`${resume}\`` : "the dashboard's Resume"}`,
        );
      } else if (t.state === 'lagging') warn(`${key} is lagging${why}`);
      if (t.stuck > 0) {
        const names = (t.stuckPaths ?? []).slice(0, 5).map((n) => brief(n));
        const more = t.stuck > names.length ? ', ...' : '';
        warn(
          `${key} has ${t.stuck} stuck path(s) that fail every transfer${names.length ? ` (${names.join(', ')}${more})` : ''}; everything else keeps syncing; fix the cause (the log has rsync's message)`,
        );
      }
      const a = t.lastAudit;
      const drift = a ? a.drift.missing + a.drift.extra + a.drift.content + a.drift.metadata : 0;
      if (a?.error) warn(`${key}: the last audit could not run: ${a.error}`);
      else if (a && !a.ok && drift > 0)
        warn(`${key}: the last audit (${ago(s.now, a.at)} ago) found drift: ${driftText(a.drift)}`);
      // a target down, misconfigured or held explains a missing canary by itself
      if (t.canary?.missingSince != null && !UNREACHED_STATES.has(t.state))
        problems.push({
          severity: SEVERITY.canaryMissing,
          message: `${key}: the canary written ${ago(s.now, t.canary.missingSince)} ago has not arrived`,
        });
      if (t.relay) relayProblems(key, t.relay, s.now, warn);
    }
  }
  for (const i of s.alerts) {
    if (i.resolvedAt !== null) continue;
    problems.push({ severity: i.severity, message: `alert ${i.kind}: ${i.message}`, alert: true });
  }
  const code = problems.some((p) => p.severity === 'critical')
    ? STATUS_EXIT.critical
    : problems.length > 0
      ? STATUS_EXIT.warning
      : STATUS_EXIT.ok;
  return { code, problems };
}

/**
 * What a relay tier adds to the verdict: warnings only. The relay alerts
 * for its own targets; upstream they are shown and warn, they do not page
 * a second time. A relay that cannot be read is one line for its whole
 * subtree (every leaf in it is unknown, not in sync).
 */
function relayProblems(at: string, r: RelayStatus, now: number, warn: (message: string) => void): void {
  if (r.state === 'unreachable') {
    const names = r.leaves.map((l) => l.target);
    warn(
      `${at}: the relay's API ${r.api} cannot be read since ${ago(now, r.since ?? now)} (${r.error}); ${names.length > 0 ? `its target(s) ${names.join(', ')} are unknown, not known to be in sync` : 'its targets are not known'}`,
    );
    return;
  }
  for (const l of r.leaves) {
    const key = `${at} → ${l.target}`;
    const why = l.stateReason ? `: ${l.stateReason}` : '';
    if (l.state === 'down' || l.state === 'misconfigured')
      warn(
        `${key} is ${l.state} since ${ago(now, l.stateSince)}${why} (the relay at ${r.api} alerts for it)`,
      );
    else if (l.state === 'held')
      warn(`${key} is on hold${l.holdReason ? `: ${l.holdReason}` : why}; lift it on the relay (${r.api})`);
    else if (l.state === 'unknown') warn(`${key} is unknown${why}`);
    if (l.relay) relayProblems(key, l.relay, now, warn);
  }
}

function driftText(d: Record<string, number>): string {
  const parts = Object.entries(d)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  return parts.length > 0 ? parts.join(', ') : 'differences';
}

/** A duration for people: 45s, 3m12s, 2h05m, 3d04h. Pure. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

function ago(now: number, at: number): string {
  return duration(now - at);
}

/** A replication lag: milliseconds below a second (238ms), tenths below 10 s (2.4s), then as duration. Pure. */
export function lagText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  return duration(ms);
}

function lastAuditCell(now: number, t: TargetStatus): string {
  const a = t.lastAudit;
  if (!a) return 'never';
  const when = `${ago(now, a.at)} ago`;
  if (a.error) return `failed, ${when}`;
  if (!a.ok && a.drift.missing + a.drift.extra + a.drift.content + a.drift.metadata === 0 && a.stuck)
    return `${a.stuck} stuck, ${when}`;
  if (!a.ok) return `drift: ${driftText(a.drift)}, ${when}`;
  return `in sync, ${when}`;
}

const pendingCell = (t: { pending: number; stuck: number }): string =>
  t.stuck > 0 ? `${t.pending} (${t.stuck} stuck)` : String(t.pending);

function lastSyncCell(now: number, t: { lastSuccessAt: number | null }): string {
  return t.lastSuccessAt !== null ? `${ago(now, t.lastSuccessAt)} ago` : 'never';
}

/**
 * A relay's target as a row beneath the relay target, indented by its tier.
 * LAG is the leaf's canary lag (from the first source's write when the
 * relay follows the upstream canary); the last column says what is wrong
 * with it, if anything. A leaf that is unknown shows no figures: the
 * relay's last word on them is not a fact of now.
 */
function leafRow(now: number, depth: number, l: LeafStatus, relay: RelayStatus): string[] {
  const known = l.state !== 'unknown';
  const lag =
    l.canary?.lagMs != null
      ? `${lagText(l.canary.lagMs)} (canary)`
      : l.oldestPendingAt !== null
        ? lagText(now - l.oldestPendingAt)
        : '-';
  let note = '-';
  if (!known)
    note =
      relay.state === 'unreachable'
        ? `relay unreachable since ${ago(now, relay.since ?? now)}`
        : l.stateReason || 'not known';
  else if (l.state === 'held') note = `on hold: ${l.holdReason ?? l.stateReason}`;
  else if (l.state === 'paused') note = `paused since ${ago(now, l.pausedSince ?? l.stateSince)}`;
  else if (l.state === 'down' || l.state === 'misconfigured') note = l.lastError ?? l.stateReason;
  else if (l.relay?.state === 'unreachable')
    note = `its relay is unreachable since ${ago(now, l.relay.since ?? now)}`;
  return [
    '',
    `${'  '.repeat(depth + 1)}└ ${l.target}`,
    l.state,
    known ? pendingCell(l) : '-',
    known ? lag : '-',
    lastSyncCell(now, l),
    note,
  ];
}

/** The human report: one row per target (a relay's targets beneath it), then open alerts and the verdict line. Pure. */
export function statusText(s: StatusBody, v: StatusVerdict): string {
  const header = ['SOURCE', 'TARGET', 'STATE', 'PENDING', 'LAG', 'LAST SYNC', 'LAST AUDIT'];
  const rows = s.sources.flatMap((src) =>
    src.targets.flatMap((t) => [
      [
        src.state === 'watching' || src.state === 'starting' ? src.name : `${src.name} (${src.state})`,
        t.target,
        t.state,
        pendingCell(t),
        t.oldestPendingAt !== null
          ? lagText(s.now - t.oldestPendingAt)
          : t.canary?.lagMs != null
            ? `${lagText(t.canary.lagMs)} (canary)`
            : '-',
        lastSyncCell(s.now, t),
        lastAuditCell(s.now, t),
      ],
      ...(t.relay
        ? flattenLeaves(t.relay).map((row) => leafRow(s.now, row.via.length, row.leaf, row.relay))
        : []),
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  const running = s.sources.flatMap((src) => src.targets.filter((t) => t.progress));
  if (running.length > 0) {
    out.push('', 'Full syncs running:');
    for (const t of running)
      out.push(`  ${t.source}/${t.target}: ${describeTransfer(t.progress as TransferProgress, s.now)}`);
  }
  const open = s.alerts.filter((i) => i.resolvedAt === null);
  if (open.length > 0) {
    out.push('', 'Open alerts:');
    for (const i of open)
      out.push(
        `  ${i.severity.toUpperCase().padEnd(8)} ${i.kind} (for ${ago(s.now, i.firedAt)}): ${i.message}`,
      );
  }
  out.push('');
  const word = v.code === STATUS_EXIT.ok ? 'OK' : v.code === STATUS_EXIT.warning ? 'WARNING' : 'CRITICAL';
  const targets = s.sources.reduce((n, src) => n + src.targets.length, 0);
  const found = v.problems.filter((p) => !p.alert);
  if (v.problems.length === 0) out.push(`syncward OK: ${targets} target(s) healthy`);
  else {
    const alerts = open.length > 0 ? `${found.length > 0 ? ', ' : ''}${open.length} open alert(s)` : '';
    out.push(`syncward ${word}: ${found.length > 0 ? `${found.length} problem(s)` : ''}${alerts}`);
    for (const p of found) out.push(`  ${p.severity === 'critical' ? 'CRITICAL' : 'WARNING '} ${p.message}`);
  }
  return `${out.join('\n')}\n`;
}

/** Where the running daemon's API is: api.listen, or state_dir/api.json for port 0. */
export function apiLocation(config: Config): { url: string } | { error: string } {
  let addr: ReturnType<typeof parseListen>;
  try {
    addr = parseListen(config.api.listen);
  } catch (e) {
    return { error: `api.listen ${(e as Error).message}` };
  }
  if (addr === null)
    return {
      error: `the API is off (api.listen: off in ${config.file ?? 'the config'}); status reads it: set api.listen, e.g. 127.0.0.1:8730, and restart syncward`,
    };
  if (addr.port !== 0) return { url: apiUrl(addr.host, addr.port) };
  const file = join(config.stateDir, API_FILE);
  // a planted api.json would send the token to whoever planted it
  const unsafe = stateDirProblem(config.stateDir);
  if (unsafe) return { error: `not reading ${file}: ${unsafe}` };
  try {
    const { url } = JSON.parse(readFileSync(file, 'utf8')) as { url?: unknown };
    if (typeof url === 'string') return { url };
    return { error: `${file} has no url` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      error:
        code === 'ENOENT'
          ? `no syncward daemon is running on state_dir ${config.stateDir} (no ${file}, which it writes when api.listen has port 0)`
          : `cannot read ${file}: ${(e as Error).message}`,
    };
  }
}

/** The parts of the daemon's status that `status` reads (the control socket answers with these). */
export type StatusBody = Pick<ApiStatus, 'now' | 'sources' | 'alerts'>;

/**
 * `syncward status`: asks the running daemon for its state (through its API
 * with -c, through the control socket in state_dir with --state-dir), prints
 * a table (or --json) and exits 0 ok, 1 warning, 2 critical (also: no daemon
 * answering, or it cannot be asked).
 */
export async function runStatus(
  from: DaemonAt,
  o: { json?: boolean; timeoutS?: number },
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const got =
    'config' in from ? await fromApi(from.config, o.timeoutS ?? 10) : await fromControl(from.stateDir);
  if ('error' in got) {
    err.write(`syncward CRITICAL: ${got.error}\n`);
    return STATUS_EXIT.critical;
  }
  const verdict = statusVerdict(got.status, refOf(from));
  if (o.json) out.write(`${JSON.stringify({ ...got.status, verdict }, null, 2)}\n`);
  else out.write(statusText(got.status, verdict));
  return verdict.code;
}

type Fetched = { status: StatusBody } | { error: string };

/** The status from the daemon's control socket in `stateDir` (no API or token needed: the socket is mode 600). */
async function fromControl(stateDir: string): Promise<Fetched> {
  let res: { status: number; body: unknown };
  try {
    res = await controlRequest(stateDir, 'GET', '/status');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { error: `no syncward daemon answers on state_dir ${stateDir} (${code})` };
  }
  const body = res.body as Partial<StatusBody> | string;
  if (res.status !== 200 || typeof body !== 'object' || !Array.isArray(body.sources))
    return { error: `the daemon on state_dir ${stateDir} answered ${res.status}: ${JSON.stringify(body)}` };
  return { status: body as StatusBody };
}

/** The status from the API of the daemon `config` names (api.listen, or state_dir/api.json for port 0). */
async function fromApi(config: Config, timeoutS: number): Promise<Fetched> {
  const start = `start it with: \`${syncwardCommand('start', { configFile: config.file })}\``;
  const where = apiLocation(config);
  if ('error' in where)
    return { error: `${where.error}${where.error.startsWith('no syncward') ? `; ${start}` : ''}` };
  const headers: Record<string, string> = {};
  if (config.api.tokenFile) {
    try {
      headers.authorization = `Bearer ${readApiToken(config.api.tokenFile)}`;
    } catch (e) {
      return { error: (e as Error).message };
    }
  }
  let res: Response;
  try {
    res = await fetch(`${where.url}/api/status`, { headers, signal: AbortSignal.timeout(timeoutS * 1000) });
  } catch (e) {
    const cause = (e as { cause?: NodeJS.ErrnoException }).cause;
    const code = cause?.code ?? (e as Error).name;
    if (code === 'TimeoutError')
      return { error: `the syncward daemon at ${where.url} did not answer within ${timeoutS} s` };
    return { error: `no syncward daemon answers at ${where.url} (${code}); ${start}` };
  }
  if (res.status === 401)
    return {
      error: `the daemon at ${where.url} rejected the token from ${config.api.tokenFile ?? '(no api.token_file)'}`,
    };
  if (res.status !== 200)
    return { error: `the daemon at ${where.url} answered ${res.status}: ${await res.text()}` };
  try {
    return { status: (await res.json()) as ApiStatus };
  } catch (e) {
    return {
      error: `the answer from ${where.url} is not JSON (${(e as Error).message}): is that a syncward?`,
    };
  }
}
