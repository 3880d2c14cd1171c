import { buildFullSyncCall, runRsync, type SourceSpec, type TargetSpec } from '../transport/index.js';
import { DRIFT_KINDS, type DriftEntry, type DriftKind, parseItemizeLine } from './itemize.js';

export interface AuditOptions {
  isRoot: boolean;
  /** compare file contents (rsync --checksum): reads every file on both sides */
  checksum?: boolean;
  /** report directories whose only difference is their mtime */
  dirMtime?: boolean;
  /** hard bound on the rsync run (default: 4 × the target's I/O timeout + 1 h, as a full sync) */
  timeoutMs?: number;
  /** entries kept in the result; the counts still cover everything (default 100 000) */
  maxEntries?: number;
  signal?: AbortSignal;
}

export interface AuditResult {
  /** rsync ran to the end: entries are the whole truth (an empty list means in sync) */
  ok: boolean;
  entries: DriftEntry[];
  /** entries per kind, also those beyond maxEntries */
  counts: Record<DriftKind, number>;
  /** entries were dropped past maxEntries */
  truncated: boolean;
  /** why the audit could not run, with rsync's own message */
  error?: string;
  durationMs: number;
}

/**
 * Drift between a source and one target: a full sync run with --dry-run
 * --itemize-changes (and --delete when the source mirrors deletions), parsed
 * line by line as rsync prints it, so a huge tree costs no more memory than
 * the entries kept.
 */
export async function auditTarget(src: SourceSpec, tgt: TargetSpec, o: AuditOptions): Promise<AuditResult> {
  // --checksum is ours here, not the operator's: it goes where their extras go, in a copy
  const spec: TargetSpec = o.checksum ? { ...tgt, rsyncArgs: [...tgt.rsyncArgs, '--checksum'] } : tgt;
  const call = buildFullSyncCall(src, spec, { isRoot: o.isRoot, dryRun: true, itemize: true });
  const max = o.maxEntries ?? 100_000;
  const entries: DriftEntry[] = [];
  const counts = Object.fromEntries(DRIFT_KINDS.map((k) => [k, 0])) as Record<DriftKind, number>;
  let truncated = false;
  const r = await runRsync(call, {
    timeoutMs: o.timeoutMs ?? (tgt.timeoutS * 4 + 3600) * 1000,
    signal: o.signal,
    onStdoutLine: (line) => {
      const e = parseItemizeLine(line, { checksum: o.checksum, dirMtime: o.dirMtime });
      if (!e) return;
      counts[e.kind]++;
      if (entries.length < max) entries.push(e);
      else truncated = true;
    },
  });
  // vanished (24): a file went away on the source while rsync listed it; the rest was compared
  const ok = r.exit.class === 'ok' || r.exit.class === 'vanished';
  const error = ok
    ? undefined
    : `rsync exit ${r.code ?? r.signal} (${r.exit.class}): ${r.exit.message}${r.exit.rsyncMessage ? `\n${r.exit.rsyncMessage.trim()}` : ''}`;
  return { ok, entries, counts, truncated, error, durationMs: r.durationMs };
}
