import {
  type AuditResult,
  auditTarget,
  DRIFT_KINDS,
  type DriftEntry,
  repairChanges,
} from '../audit/index.js';
import type { Config } from '../config/index.js';
import { buildBatchCall, runRsync } from '../transport/index.js';
import { display } from '../util/bytes.js';
import { EXIT } from './exit.js';
import { noMatch, selectPairs } from './pairs.js';

export interface AuditCliOptions {
  source?: string;
  target?: string;
  checksum?: boolean;
  json?: boolean;
  /** send exactly the drifted paths, then audit again */
  repair?: boolean;
}

/** Entries shown per target in the text report; --json has them all. */
const SHOWN = 50;

interface TargetReport extends Omit<AuditResult, 'entries'> {
  source: string;
  target: string;
  url: string;
  checksum: boolean;
  entries: DriftEntry[];
  /** with --repair: what was sent, and the drift left after it */
  repaired?: { paths: number; ok: boolean; message?: string; remaining: number };
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
  const reports = await Promise.all(
    pairs.map(async ({ source, target, src, tgt }): Promise<TargetReport> => {
      const r = await auditTarget(src, tgt, { isRoot, checksum });
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
      const sent = await runRsync(
        buildBatchCall(src, { ...tgt, rsyncArgs: [...tgt.rsyncArgs, '--ignore-times'] }, changes, { isRoot }),
        { timeoutMs: (tgt.timeoutS * 4 + 3600) * 1000 },
      );
      const sentOk = sent.exit.class === 'ok' || sent.exit.class === 'vanished';
      const after = await auditTarget(src, tgt, { isRoot, checksum });
      return {
        ...report,
        ...after,
        repaired: {
          paths: changes.length,
          ok: sentOk,
          message: sentOk ? undefined : sent.exit.message,
          remaining: after.entries.length,
        },
      };
    }),
  );
  if (o.json) {
    const results = reports.map((r) => ({
      ...r,
      inSync: r.ok && r.entries.length === 0 && !r.truncated,
      entries: r.entries.map((e) => ({ ...e, path: shown(e.path) })),
    }));
    out.write(`${JSON.stringify({ results }, null, 2)}\n`);
  } else {
    for (const r of reports) out.write(textReport(r));
  }
  if (reports.some((r) => !r.ok)) return EXIT.usage;
  return reports.some((r) => r.entries.length > 0 || r.truncated) ? EXIT.failure : EXIT.ok;
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
  if (total === 0) return `ok    ${head}: in sync${fixed} (${took})\n${note}`;
  const counts = DRIFT_KINDS.filter((k) => r.counts[k] > 0)
    .map((k) => `${r.counts[k]} ${k}`)
    .join(', ');
  const lines = [`DRIFT ${head}: ${counts} (${took})`];
  if (r.repaired && !r.repaired.ok)
    lines.push(`      repair failed: ${r.repaired.message ?? 'unknown error'}`);
  if (r.repaired) lines.push(`      after repairing ${r.repaired.paths} path(s), this drift remains:`);
  for (const e of r.entries.slice(0, SHOWN))
    lines.push(`      ${e.kind.padEnd(8)} ${printable(shown(e.path))}  (${e.detail})`);
  if (total > SHOWN) lines.push(`      ... and ${total - SHOWN} more (--json lists ${r.entries.length})`);
  return `${lines.join('\n')}\n${note}`;
}

/** A name on one line: control characters (a newline in a file name) as \xNN. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function shown(p: string): string {
  return p === '' ? '.' : display(p);
}
