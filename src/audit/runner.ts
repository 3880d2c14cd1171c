import type { Alert } from '../alerts/index.js';
import type { Change } from '../change/index.js';
import { AUDIT_SAMPLE, type AuditRow, type Journal } from '../journal/index.js';
import type { AuditEntry, AuditEvent, AuditSummary, TargetAuditResult } from '../status/index.js';
import type { SourceSpec, TargetSpec } from '../transport/index.js';
import { type BytePath, display } from '../util/bytes.js';
import type { Logger } from '../util/log.js';
import { type DaemonRef, driftAdvice } from '../util/shell.js';
import { type AuditResult, auditTarget, failedAudit } from './audit.js';
import type { DriftEntry } from './itemize.js';
import { type PendingIndex, pendingIndex } from './pending.js';

/** Entries a daemon audit returns per list. */
const AUDIT_ENTRIES = 1000;

/** One target of a running source, as an audit needs it (the source provides it). */
export interface AuditSubject {
  source: string;
  target: string;
  /** the target's journal key, "source/target" */
  key: string;
  url: string;
  sourceSpec: SourceSpec;
  targetSpec: TargetSpec;
  /** paths left out of the comparison (the canary) */
  exclude: string[];
  /** why the target cannot be audited now, or null */
  skip(): string | null;
  /** the target's stuck paths */
  stuck(): BytePath[];
  /** collects the changes the watcher accepts from now on; the function returned stops it */
  watch(seen: Change[]): () => void;
  /** runs the audit's rsync as one of the target's calls (a pre-connected rsync to it ends first) */
  aside?<T>(call: () => Promise<T>): Promise<T>;
}

export interface AuditRunnerOptions {
  /** the daemon's journal (null once it stopped) */
  journal: () => Journal | null;
  log: Logger;
  isRoot: boolean;
  /** raises the drift alert */
  raise: (alert: Omit<Alert, 'at'>) => void;
  /** each finished audit of a target */
  onAudit: (event: AuditEvent) => void;
  /** how the drift alert's commands name this daemon */
  commands: DaemonRef;
}

/**
 * The daemon's audits (scheduled, API): runs them, keeps each target's last
 * result, records it in the journal, and raises `drift`. A target already
 * being audited is not audited twice: the request gets the running audit's
 * result.
 */
export class AuditRunner {
  /** the last audit per target key ("source/target"), null when the journal has none */
  private readonly last = new Map<string, AuditSummary | null>();
  /** audits running per target key: a second request joins the first */
  private readonly running = new Map<string, Promise<TargetAuditResult>>();

  constructor(private readonly o: AuditRunnerOptions) {}

  /** Audits the subjects in parallel. Never rejects: each failure is in its result. */
  run(subjects: readonly AuditSubject[], checksum: boolean): Promise<TargetAuditResult[]> {
    return Promise.all(
      subjects.map((t) => {
        const running = this.running.get(t.key);
        if (running) return running;
        const p = this.auditOne(t, checksum).finally(() => this.running.delete(t.key));
        this.running.set(t.key, p);
        return p;
      }),
    );
  }

  /** The target's last audit, across restarts (the journal keeps them). */
  lastAudit(key: string): AuditSummary | null {
    const journal = this.o.journal();
    if (!this.last.has(key) && journal) {
      const row = journal.recentAudits(key, 1)[0];
      this.last.set(key, row ? summaryOf(row) : null);
    }
    return this.last.get(key) ?? null;
  }

  private async auditOne(t: AuditSubject, checksum: boolean): Promise<TargetAuditResult> {
    const at = Date.now();
    let r: AuditResult;
    const skip = t.skip();
    if (skip) {
      r = failedAudit(skip, 0);
    } else {
      const seen: Change[] = [];
      const unwatch = t.watch(seen);
      try {
        const audit = () =>
          auditTarget(t.sourceSpec, t.targetSpec, {
            isRoot: this.o.isRoot,
            checksum,
            exclude: t.exclude,
            pending: () => this.pendingFor(t.key, seen),
            stuck: t.stuck(),
          });
        r = await (t.aside ? t.aside(audit) : audit());
      } catch (e) {
        r = failedAudit(`audit failed: ${(e as Error).message}`, Date.now() - at);
      } finally {
        unwatch();
      }
    }
    const summary: AuditSummary = {
      at,
      checksum,
      ok: r.ok && r.entries.length === 0 && !r.truncated && r.stuck.length === 0,
      error: r.ok ? null : (r.error ?? 'unknown error'),
      drift: { ...r.counts },
      pending: r.pendingCount,
      stuck: r.stuck.length,
    };
    const entry = (e: DriftEntry): AuditEntry => ({ ...e, path: e.path === '' ? '.' : display(e.path) });
    const result: TargetAuditResult = {
      source: t.source,
      target: t.target,
      url: t.url,
      summary,
      entries: r.entries.slice(0, AUDIT_ENTRIES).map(entry),
      pendingEntries: r.pending.slice(0, AUDIT_ENTRIES).map(entry),
      truncated: r.truncated || r.entries.length > AUDIT_ENTRIES,
      durationMs: r.durationMs,
    };
    this.last.set(t.key, summary);
    this.record(t.key, result, r.durationMs);
    this.report(t, result, r);
    this.o.onAudit({ source: t.source, target: t.target, summary });
    return result;
  }

  private record(key: string, result: TargetAuditResult, durationMs: number): void {
    const { summary } = result;
    try {
      this.o.journal()?.recordAudit({
        target: key,
        at: summary.at,
        checksum: summary.checksum,
        ok: summary.ok,
        error: summary.error,
        counts: summary.drift,
        pending: summary.pending,
        durationMs,
        sample: result.entries
          .slice(0, AUDIT_SAMPLE)
          .map(({ kind, path, detail }) => ({ kind, path, detail })),
      });
    } catch (e) {
      this.o.log.error(
        { err: (e as Error).message },
        `journal: cannot record the audit of ${key}: ${(e as Error).message}`,
      );
    }
  }

  /** The log line, or the drift alert. */
  private report(t: AuditSubject, result: TargetAuditResult, r: AuditResult): void {
    const { summary } = result;
    const { source, target } = t;
    const key = `${source}/${target}`;
    const log = this.o.log;
    if (summary.error !== null) {
      log.warn({ source, target }, `audit of ${key}: could not audit: ${summary.error}`);
    } else if (!summary.ok && r.entries.length === 0 && !r.truncated) {
      // stuck paths have their own alert
      log.warn(
        { source, target, stuck: r.stuck.slice(0, 20).map(display) },
        `audit of ${key}: in sync but for ${r.stuck.length} stuck path(s) that fail every transfer (${r.stuck.slice(0, 3).map(display).join(', ')}${r.stuck.length > 3 ? ', ...' : ''})`,
      );
    } else if (!summary.ok) {
      const total = Object.values(summary.drift).reduce((a, b) => a + b, 0);
      const counts = Object.entries(summary.drift)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');
      const examples = result.entries
        .slice(0, 3)
        .map((e) => `${e.kind} ${e.path}`)
        .join('; ');
      this.o.raise({
        kind: 'drift',
        source,
        target,
        message: `target ${key} differs from the source: ${counts}${examples ? ` (e.g. ${examples})` : ''}${total > 3 ? ', ...' : ''}; something changed it outside syncward, or a transfer lost it. ${driftAdvice(this.o.commands, source, target)}`,
        paths: result.entries.map((e) => e.path),
      });
    } else {
      log.info(
        { source, target, pending: summary.pending, ms: r.durationMs },
        `audit of ${key}: in sync${summary.pending > 0 ? ` (${summary.pending} difference(s) still pending, not drift)` : ''}`,
      );
    }
  }

  /** What a target still has coming: its journal rows, a full sync owed, and what the watcher accepted meanwhile. */
  private pendingFor(key: string, seen: readonly Change[]): PendingIndex {
    const j = this.o.journal();
    const rows = j?.pending(key) ?? [];
    const full = j?.target(key)?.needsFull ?? null;
    return pendingIndex([...rows, ...seen], full);
  }
}

function summaryOf(a: AuditRow): AuditSummary {
  return {
    at: a.at,
    checksum: a.checksum,
    ok: a.ok,
    error: a.error,
    drift: { ...a.counts },
    pending: a.pending,
  };
}
