import { type DriftEntry, parseItemizeLine } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { transferred } from '../transport/index.js';
import { display } from '../util/bytes.js';
import { EXIT } from './exit.js';
import { type GuardFlags, guardPair, overrideHint } from './guard.js';
import { printable } from './names.js';
import { noMatch, selectPairs } from './pairs.js';
import { stderrProgress } from './progress.js';

export interface SyncOptions extends GuardFlags {
  source?: string;
  target?: string;
  dryRun?: boolean;
  json?: boolean;
  /** without a terminal: time between progress log lines (default 5 s) */
  progressIntervalMs?: number;
}

interface SyncResult {
  source: string;
  target: string;
  ok: boolean;
  code: number | null;
  class: string;
  files: number;
  bytes: number;
  durationMs: number;
  message?: string;
  /** the delete guard refused: nothing was sent */
  refused?: boolean;
  /** a dry run: what it would do, in rsync's order */
  changes?: PlannedChange[];
}

/** One thing a dry run would do on a target: send (new or changed content), update (attributes only), delete. */
export interface PlannedChange {
  op: 'send' | 'update' | 'delete';
  /** relative to the source root, bytes as latin1 chars ('' is the root) */
  path: string;
  type: DriftEntry['type'];
  /** what differs: "file", "size, checksum", "mode, mtime", "directory" */
  detail: string;
}

/** What a sync does about a difference rsync itemized: the audit's drift kinds as actions. Pure. */
export function plannedChange(e: DriftEntry): PlannedChange {
  const op = e.kind === 'extra' ? 'delete' : e.kind === 'metadata' ? 'update' : 'send';
  return { op, path: e.path, type: e.type, detail: e.detail };
}

/** A dry run's list for one target, one change per line, names escaped (printable). Pure. */
export function plannedText(head: string, changes: readonly PlannedChange[]): string {
  const n = (op: PlannedChange['op']) => changes.filter((c) => c.op === op).length;
  const lines = [`${head}: would send ${n('send')}, update ${n('update')}, delete ${n('delete')}`];
  for (const c of changes) lines.push(`  ${c.op.padEnd(7)} ${printable(c.path)}  (${c.detail})`);
  return `${lines.join('\n')}\n`;
}

/**
 * `syncward sync`: one full rsync of each selected source to each of its
 * selected targets, all targets in parallel, then a summary. Works with or
 * without the daemon running (rsync makes a second sync harmless). Each
 * target passes the daemon's delete guard first (empty or missing source
 * root, max_delete); a refusal sends nothing and exits 1.
 */
export async function runSync(
  config: Config,
  o: SyncOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const jobs: Promise<SyncResult>[] = [];
  const pairs = selectPairs(config, o);
  const progress = stderrProgress(err, 'sync', o);
  for (const pair of pairs) {
    const { source: s, target: t, transport } = pair;
    const key = `${s.name}/${t.name}`;
    progress?.log(`sync ${s.name} -> ${t.name} (${t.url}) ...\n`);
    progress?.start(key, key);
    const run = async (): Promise<SyncResult> => {
      // a dry run deletes nothing: only a real sync goes through the delete guard
      const guard = o.dryRun
        ? null
        : await guardPair(config, pair, 'full sync', o, () => transport.countDeletes('all'));
      if (guard?.kind === 'refused') {
        progress?.finish(key, false);
        const message = `${guard.reason}; nothing was sent. ${overrideHint(guard.rule, guard.deletes)}`;
        // never silent, not even with --json
        const line = `REFUSED ${s.name} -> ${t.name}: ${message}\n`;
        if (progress) progress.log(line);
        else err.write(line);
        return {
          source: s.name,
          target: t.name,
          ok: false,
          code: null,
          class: 'refused',
          files: 0,
          bytes: 0,
          durationMs: 0,
          message,
          refused: true,
        };
      }
      const changes: PlannedChange[] = [];
      const r =
        guard?.kind === 'failed'
          ? guard.result
          : await transport.sendAll({
              dryRun: o.dryRun,
              onProgress: progress ? (p) => progress.update(key, p) : undefined,
              onItemized: (line) => {
                const e = parseItemizeLine(line);
                if (e) changes.push(plannedChange(e));
              },
            });
      const ok = transferred(r.class);
      progress?.finish(key, ok);
      const took = `${(r.durationMs / 1000).toFixed(1)} s`;
      if (progress) {
        progress.log(
          !ok
            ? `FAIL ${s.name} -> ${t.name}: rsync exit ${r.code ?? r.signal} (${r.class}): ${r.message}\n${indent(r.detail)}`
            : o.dryRun
              ? `ok   ${s.name} -> ${t.name}: dry run in ${took}, nothing changed: ${changes.length} change(s) listed on stdout\n`
              : `ok   ${s.name} -> ${t.name}: ${r.files} file(s), ${r.bytes} byte(s) sent in ${took}\n`,
        );
      }
      return {
        source: s.name,
        target: t.name,
        ok,
        code: r.code,
        class: r.class,
        files: r.files,
        bytes: r.bytes,
        durationMs: r.durationMs,
        message: ok ? undefined : r.message,
        ...(o.dryRun ? { changes } : {}),
      };
    };
    jobs.push(run());
  }
  if (jobs.length === 0) {
    progress?.stop();
    err.write(noMatch('sync', o));
    return EXIT.usage;
  }
  const results = await Promise.all(jobs);
  progress?.stop();
  if (o.json) {
    const shown = results.map((r) =>
      r.changes
        ? { ...r, changes: r.changes.map((c) => ({ ...c, path: c.path === '' ? '.' : display(c.path) })) }
        : r,
    );
    out.write(`${JSON.stringify({ dryRun: o.dryRun === true, results: shown }, null, 2)}\n`);
  } else if (o.dryRun) {
    // per target, in the order asked, once all are done (they run in parallel)
    for (const r of results) if (r.changes) out.write(plannedText(`${r.source} -> ${r.target}`, r.changes));
  }
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.failure;
}

function indent(text: string): string {
  if (!text.trim()) return '';
  return `${text
    .trim()
    .split('\n')
    .map((l) => `       rsync: ${l}`)
    .join('\n')}\n`;
}
