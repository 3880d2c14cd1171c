import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildFullSyncCall,
  excludeArgs,
  parseProgress2Line,
  type RsyncProgress,
  runRsync,
  type SourceSpec,
  type TargetSpec,
  transferred,
} from '../transport/index.js';
import { type BytePath, parentOf } from '../util/bytes.js';
import { DRIFT_KINDS, type DriftEntry, type DriftKind, parseItemizeLine } from './itemize.js';
import { isPending, NOTHING_PENDING, type PendingIndex, unionPending } from './pending.js';

export interface AuditOptions {
  isRoot: boolean;
  /** compare file contents (rsync --checksum): reads every file on both sides */
  checksum?: boolean;
  /**
   * report every directory whose only difference is its mtime; by default
   * one is left out when a difference or pending change beneath it explains
   * it (creating or deleting inside a directory sets its mtime), and reported
   * otherwise — the root included
   */
  dirMtime?: boolean;
  /**
   * hard bound on the rsync run (default: 4 × the target's timeout_s + 1 h, as
   * a full sync); a run that makes no progress for timeout_s ends before
   */
  timeoutMs?: number;
  /** entries kept in the result; the counts still cover everything (default 100 000) */
  maxEntries?: number;
  signal?: AbortSignal;
  /**
   * What the target still has coming (the journal's pending rows), read just
   * before and just after the dry run: a difference on a path pending in
   * either snapshot is reported as pending, not drift.
   */
  pending?: () => PendingIndex;
  /**
   * How long to wait after the dry run before the second snapshot, so that
   * a file written (and closed) while rsync compared is in the journal by
   * then (default 300 ms; only with `pending`)
   */
  settleMs?: number;
  /** paths left out of the comparison (rsync patterns, e.g. the canary "/.syncward-canary") */
  exclude?: string[];
  /**
   * Paths that fail every transfer to this target (stuck): drift that no sync
   * will repair by itself. They are left out of the dry run (a path too long
   * for rsync would fail it) and reported as stuck.
   */
  stuck?: readonly BytePath[];
  /** gets each --info=progress2 line of the dry run (rsync prints them only when this is set) */
  onProgress?: (p: RsyncProgress) => void;
}

export interface AuditResult {
  /** rsync ran to the end: entries are the whole truth (an empty list means in sync) */
  ok: boolean;
  entries: DriftEntry[];
  /** drift entries per kind, also those beyond maxEntries (pending ones not counted) */
  counts: Record<DriftKind, number>;
  /** differences on paths still pending for the target: on their way, not drift (at most maxEntries) */
  pending: DriftEntry[];
  /** how many pending differences, also those beyond maxEntries */
  pendingCount: number;
  /** paths that fail every transfer (stuck): drift, listed by name */
  stuck: BytePath[];
  /** why everything counts as pending (a full sync is owed to the target), or undefined */
  fullSyncOwed?: string;
  /** entries were dropped past maxEntries */
  truncated: boolean;
  /** why the audit could not run, with rsync's own message */
  error?: string;
  durationMs: number;
}

/** The result of an audit that could not run (skipped, or it threw): nothing compared, error says why. */
export function failedAudit(error: string, durationMs: number): AuditResult {
  return {
    ok: false,
    entries: [],
    counts: { missing: 0, extra: 0, content: 0, metadata: 0 },
    truncated: false,
    pending: [],
    pendingCount: 0,
    stuck: [],
    error,
    durationMs,
  };
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
  // excludes first: rsync's first matching rule wins, and an excluded path on the
  // target is not deleted either (no --delete-excluded), so it is never "extra"
  const leftOut = [...(o.exclude ?? []).map((x) => `--filter=- ${x}`), ...excludeArgs(o.stuck ?? [])];
  const from: SourceSpec = leftOut.length ? { ...src, filterArgs: [...leftOut, ...src.filterArgs] } : src;
  const call = buildFullSyncCall(from, spec, {
    isRoot: o.isRoot,
    dryRun: true,
    itemize: true,
    progress: o.onProgress !== undefined,
  });
  const max = o.maxEntries ?? 100_000;
  const before = o.pending?.() ?? NOTHING_PENDING;
  const candidates: DriftEntry[] = [];
  const dirTimes: DriftEntry[] = [];
  const pending: DriftEntry[] = [];
  let pendingCount = 0;
  const counts = Object.fromEntries(DRIFT_KINDS.map((k) => [k, 0])) as Record<DriftKind, number>;
  let truncated = false;
  const r = await runRsync(call, {
    timeoutMs: o.timeoutMs ?? (tgt.timeoutS * 4 + 3600) * 1000,
    // hashing one big file for --checksum reads it (rchar) and uses CPU: progress, unlike for rsync's --timeout
    stallS: tgt.timeoutS,
    signal: o.signal,
    onStdoutLine: (line) => {
      const p = o.onProgress ? parseProgress2Line(line) : undefined;
      if (p) {
        o.onProgress?.(p);
        return;
      }
      const e = parseItemizeLine(line, { checksum: o.checksum, dirMtime: true });
      if (!e) return;
      if (!o.dirMtime && isDirTimeOnly(e)) {
        // decided once every entry is known: explained by one beneath it, or drift
        if (dirTimes.length < max) dirTimes.push(e);
        return;
      }
      if (isPending(e, before)) {
        pendingCount++;
        if (pending.length < max) pending.push(e);
        return;
      }
      counts[e.kind]++;
      if (candidates.length < max) candidates.push(e);
      else truncated = true;
    },
  });
  // a change that arrived while rsync compared is pending too; the wait only serves
  // to classify differences, so a dry run that found none (all in sync) skips it
  if (o.pending && candidates.length > 0) await sleep(o.settleMs ?? 300);
  const both = o.pending ? unionPending(before, o.pending()) : before;
  const explained = ancestorsOf([...candidates, ...pending]);
  for (const e of dirTimes) {
    if (explained.has(e.path)) continue;
    if (both.ancestors.has(e.path)) {
      // a change beneath it is on its way and will set it
      pendingCount++;
      if (pending.length < max) pending.push(e);
      continue;
    }
    counts[e.kind]++;
    candidates.push(e);
  }
  const entries: DriftEntry[] = [];
  for (const e of candidates) {
    if (!isPending(e, both)) {
      entries.push(e);
      continue;
    }
    counts[e.kind]--;
    pendingCount++;
    if (pending.length < max) pending.push(e);
  }
  // vanished (24): a file went away on the source while rsync listed it; the rest was compared
  const ok = transferred(r.exit.class);
  const error = ok
    ? undefined
    : `rsync exit ${r.code ?? r.signal} (${r.exit.class}): ${r.exit.message}${r.exit.rsyncMessage ? `\n${r.exit.rsyncMessage.trim()}` : ''}`;
  return {
    ok,
    entries,
    counts,
    truncated,
    pending,
    pendingCount,
    stuck: [...(o.stuck ?? [])],
    fullSyncOwed: both.fullSync ?? undefined,
    error,
    durationMs: r.durationMs,
  };
}

/** A directory whose only difference is its mtime. */
function isDirTimeOnly(e: DriftEntry): boolean {
  return e.type === 'dir' && e.kind === 'metadata' && e.detail === 'mtime';
}

/** Every proper ancestor of the entries' paths ('' is the root). */
function ancestorsOf(entries: readonly DriftEntry[]): Set<BytePath> {
  const out = new Set<BytePath>();
  for (const e of entries) {
    if (e.path === '') continue;
    for (let p = parentOf(e.path); !out.has(p); p = parentOf(p)) {
      out.add(p);
      if (p === '') break;
    }
  }
  return out;
}
