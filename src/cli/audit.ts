import {
  type AuditResult,
  auditTarget,
  DRIFT_KINDS,
  type DriftEntry,
  NOTHING_PENDING,
  type PendingIndex,
  pendingIndex,
  repairChanges,
} from '../audit/index.js';
import type { Config, SourceConfig } from '../config/index.js';
import { JournalReader } from '../journal/index.js';
import { type RsyncProgress, transferred } from '../transport/index.js';
import { display } from '../util/bytes.js';
import { EXIT } from './exit.js';
import { type GuardFlags, guardPair, overrideHint } from './guard.js';
import { printable } from './names.js';
import { noMatch, selectPairs } from './pairs.js';
import { stderrProgress } from './progress.js';

export interface AuditCliOptions extends GuardFlags {
  source?: string;
  target?: string;
  checksum?: boolean;
  json?: boolean;
  /** send exactly the drifted paths, then audit again */
  repair?: boolean;
  /** without a terminal: time between progress log lines (default 5 s) */
  progressIntervalMs?: number;
}

/** Entries shown per target in the text report; --json has them all. */
const SHOWN = 50;
const PENDING_SHOWN = 10;

interface TargetReport extends Omit<AuditResult, 'entries'> {
  source: string;
  target: string;
  url: string;
  checksum: boolean;
  entries: DriftEntry[];
  /** with --repair: what was sent, and the drift left after it */
  repaired?: { paths: number; ok: boolean; message?: string; remaining: number; refused?: boolean };
}

/**
 * `syncward audit`: compares each selected source with each of its targets
 * (rsync --dry-run --itemize-changes, all targets in parallel) and reports
 * the drift. Exit 0 every target in sync, 1 drift found, 2 a target could not
 * be audited (or nothing matched). Needs no daemon.
 */
export async function runAudit(
  config: Config,
  o: AuditCliOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const isRoot = process.getuid?.() === 0;
  const checksum = o.checksum === true;
  const pairs = selectPairs(config, o);
  if (pairs.length === 0) {
    err.write(noMatch('audit', o));
    return EXIT.usage;
  }
  // the daemon may be running and writing it: read-only, beside it (WAL)
  let journal: JournalReader | null = null;
  try {
    journal = JournalReader.open(config.stateDir);
  } catch (e) {
    err.write(
      `syncward audit: cannot read the journal in ${config.stateDir} (${(e as Error).message}); pending changes are not known, so differences on their way count as drift\n`,
    );
  }
  const pendingOf = (key: string) => (): PendingIndex => {
    if (!journal) return NOTHING_PENDING;
    try {
      return pendingIndex(journal.pending(key), journal.needsFull(key));
    } catch {
      // a journal from before a table existed, or one being replaced: nothing known pending
      return NOTHING_PENDING;
    }
  };
  // paths that failed stuck_after transfers in a row: drift no sync repairs by itself
  const stuckOf = (key: string, source: SourceConfig): string[] => {
    try {
      return journal?.stuck(key, source.stuckAfter) ?? [];
    } catch {
      return [];
    }
  };
  const progress = stderrProgress(err, 'audit', o);
  const reports = await Promise.all(
    pairs.map(async (pair): Promise<TargetReport> => {
      const { source, target, src, tgt, transport } = pair;
      const key = `${source.name}/${target.name}`;
      progress?.start(key, key);
      const onProgress = progress ? (p: RsyncProgress) => progress.update(key, p) : undefined;
      const opts = {
        isRoot,
        checksum,
        exclude: auditExcludes(source),
        pending: pendingOf(`${source.name}/${target.name}`),
        stuck: stuckOf(key, source),
      };
      const r = await auditTarget(src, tgt, { ...opts, onProgress });
      progress?.finish(key, !r.error);
      const report: TargetReport = {
        source: source.name,
        target: target.name,
        url: target.url,
        checksum,
        ...r,
      };
      if (!o.repair || !r.ok || r.entries.length === 0) return report;
      // -I: these paths are known to differ, even where size and mtime match (a --checksum finding)
      const changes = repairChanges(r.entries);
      const repair = { extraArgs: ['--ignore-times'] };
      // the daemon's delete guard: an audit of an emptied source finds everything "extra"
      const guard = await guardPair(config, pair, 'repair', o, () => transport.countDeletes(changes, repair));
      if (guard.kind === 'refused') {
        const message = `${guard.reason}; nothing was sent. ${overrideHint(guard.rule, guard.deletes)}`;
        // the text report says it on stdout; with --json, stderr says it too
        if (o.json) err.write(`syncward audit: repair of ${key} refused: ${message}\n`);
        return {
          ...report,
          repaired: { paths: 0, ok: false, refused: true, message, remaining: r.entries.length },
        };
      }
      const sent =
        guard.kind === 'failed'
          ? { result: guard.result, rootAttrs: null }
          : // the root's own times and mode follow (a repaired entry in it moved them again)
            await transport.sendBatch(changes, repair);
      const sentOk =
        transferred(sent.result.class) && (sent.rootAttrs === null || sent.rootAttrs.class === 'ok');
      const after = await auditTarget(src, tgt, opts);
      return {
        ...report,
        ...after,
        repaired: {
          paths: changes.length,
          ok: sentOk,
          message: sentOk ? undefined : sent.result.message,
          remaining: after.entries.length,
        },
      };
    }),
  );
  progress?.stop();
  journal?.close();
  if (o.json) {
    const results = reports.map((r) => ({
      ...r,
      inSync: r.ok && r.entries.length === 0 && !r.truncated && r.stuck.length === 0,
      entries: r.entries.map((e) => ({ ...e, path: shown(e.path) })),
      stuck: r.stuck.map(shown),
      pending: r.pending.map((e) => ({ ...e, path: shown(e.path) })),
    }));
    out.write(`${JSON.stringify({ results }, null, 2)}\n`);
  } else {
    for (const r of reports) out.write(textReport(r));
  }
  if (reports.some((r) => !r.ok)) return EXIT.usage;
  return reports.some((r) => r.entries.length > 0 || r.truncated || r.stuck.length > 0)
    ? EXIT.failure
    : EXIT.ok;
}

function textReport(r: TargetReport): string {
  const head = `${r.source} -> ${r.target} (${r.url})`;
  const took = `${(r.durationMs / 1000).toFixed(1)} s`;
  if (!r.ok) {
    const [first = 'unknown error', ...rest] = (r.error ?? '').split('\n');
    return `FAIL  ${head}: could not audit: ${[first, ...rest.map((l) => `      ${l}`)].join('\n')}\n`;
  }
  const total = DRIFT_KINDS.reduce((n, k) => n + r.counts[k], 0);
  const note = r.checksum
    ? ''
    : '      (contents compared by size and mtime only; --checksum reads every file)\n';
  const fixed = r.repaired ? ` after repairing ${r.repaired.paths} path(s)` : '';
  const onTheirWay = pendingLines(r);
  const stuck = stuckLines(r);
  if (total === 0 && r.stuck.length === 0)
    return `ok    ${head}: in sync${fixed} (${took})\n${onTheirWay}${note}`;
  if (total === 0)
    return `STUCK ${head}: in sync but for ${r.stuck.length} stuck path(s) (${took})\n${stuck}${onTheirWay}${note}`;
  const counts = DRIFT_KINDS.filter((k) => r.counts[k] > 0)
    .map((k) => `${r.counts[k]} ${k}`)
    .join(', ');
  const lines = [`DRIFT ${head}: ${counts} (${took})`];
  if (r.repaired?.refused) lines.push(`      repair refused: ${r.repaired.message}`);
  else if (r.repaired && !r.repaired.ok)
    lines.push(`      repair failed: ${r.repaired.message ?? 'unknown error'}`);
  if (r.repaired && !r.repaired.refused)
    lines.push(`      after repairing ${r.repaired.paths} path(s), this drift remains:`);
  for (const e of r.entries.slice(0, SHOWN))
    lines.push(`      ${e.kind.padEnd(8)} ${printable(e.path)}  (${e.detail})`);
  if (total > SHOWN) lines.push(`      ... and ${total - SHOWN} more (--json lists ${r.entries.length})`);
  return `${lines.join('\n')}\n${stuck}${onTheirWay}${note}`;
}

/** Stuck paths: drift that no sync repairs by itself, each by name. */
function stuckLines(r: TargetReport): string {
  if (r.stuck.length === 0) return '';
  const lines = [
    `      stuck: ${r.stuck.length} path(s) fail every transfer to this target and are left out of the others; fix the cause (the daemon log has rsync's message), they are retried when they change and after each full sync`,
  ];
  for (const p of r.stuck.slice(0, SHOWN)) lines.push(`      stuck    ${printable(p)}`);
  if (r.stuck.length > SHOWN) lines.push(`      ... and ${r.stuck.length - SHOWN} more stuck`);
  return `${lines.join('\n')}\n`;
}

/** Pending differences: shown apart from drift, a few by name. */
function pendingLines(r: TargetReport): string {
  if (r.pendingCount === 0) return '';
  const why = r.fullSyncOwed
    ? `a full sync is owed to this target (${r.fullSyncOwed})`
    : 'still pending in the journal';
  const lines = [`      pending: ${r.pendingCount} difference(s) on their way, not drift (${why})`];
  for (const e of r.pending.slice(0, PENDING_SHOWN))
    lines.push(`      pending  ${printable(e.path)}  (${e.kind}: ${e.detail})`);
  if (r.pendingCount > PENDING_SHOWN)
    lines.push(`      ... and ${r.pendingCount - PENDING_SHOWN} more pending`);
  return `${lines.join('\n')}\n`;
}

/**
 * What every audit leaves out: the canary file (it changes all the time and
 * is checked on its own). state_dir never lies in a source (the config's path
 * rules refuse it).
 */
export function auditExcludes(source: SourceConfig): string[] {
  return source.canary ? [`/${source.canary.path}`] : [];
}

function shown(p: string): string {
  return p === '' ? '.' : display(p);
}
