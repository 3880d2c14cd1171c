import { EventEmitter } from 'node:events';
import type { WorkerAlert, WorkerAlertKind } from '../alerts/index.js';
import type { Change } from '../change/index.js';
import { Coalescer, sortByPath } from '../coalesce/index.js';
import type { Journal, PendingRow } from '../journal/index.js';
import {
  type DeleteCount,
  describeTransfer,
  mergeProgress,
  type RsyncProgress,
  type SendOptions,
  type SendResult,
  type SourceSpec,
  type TransferProgress,
  type Transport,
  transferProgress,
  transferred,
} from '../transport/index.js';
import { type BytePath, brief, display } from '../util/bytes.js';
import type { Logger } from '../util/log.js';
import { type BackoffPolicy, defaultBackoff, retryDelay } from './backoff.js';
import { nextTransfer, settleFirst, targetFailure } from './decide.js';
import { EVERYTHING_ALLOWED, NOTHING_ALLOWED } from './delete-rules.js';
import { type GuardOutcome, guardDeletes } from './guard.js';
import { releasedBy, settledState, type Triage, triageFailures } from './stuck.js';

/**
 * The health of one (source, target) pair:
 * - starting: waiting for its first sync
 * - syncing: a transfer is running
 * - idle: in sync, nothing pending
 * - lagging: reachable, but its oldest pending change is older than lag_threshold_s
 * - down: the last transfer failed for a network/timeout reason; retrying with backoff
 * - misconfigured: auth, module, usage error; retrying slowly, the message says what to fix
 * - held: paused by a safety rule; nothing is sent until resumed
 * - paused: paused by an operator (syncward pause); changes keep journaling, nothing is sent until resumed
 */
export type TargetState =
  | 'starting'
  | 'syncing'
  | 'idle'
  | 'lagging'
  | 'down'
  | 'misconfigured'
  | 'held'
  | 'paused';

/** An operator's pause of a target: since when, and the reason shown with it. */
export interface Pause {
  since: number;
  reason: string;
}

export interface TransferReport {
  source: string;
  target: string;
  kind: 'batch' | 'full';
  reason?: string;
  changes: number;
  deletes: number;
  files: number;
  bytes: number;
  durationMs: number;
  result: SendResult['class'];
  code: number | null;
  message?: string;
  /** a few of the paths, for the log */
  sample: string[];
}

/** What reached the target in one transfer (for after-sync hooks): a full sync lists no paths. */
export interface Delivery {
  kind: 'batch' | 'full';
  changes: Change[];
}

export interface TargetWorkerOptions {
  sourceName: string;
  /** the source's root and whether it mirrors deletes, for the delete guard */
  source: SourceSpec;
  /** how this target is reached: every call to it goes through this */
  transport: Transport;
  delayMs: number;
  maxWaitMs: number;
  log: Logger;
  /** durable record of what this target still needs; the worker clears what it delivered */
  journal?: Journal;
  /** this target's key in the journal: "source/target" */
  key?: string;
  /** safety hold: more deletes than this in one transfer (or within DELETE_WINDOW_MS) waits for resume */
  maxDelete?: number;
  /** more pending changes than this: one full sync instead */
  fullSyncThreshold?: number;
  /** failed transfers of one path (rsync 23) before it is stuck */
  stuckAfter?: number;
  lagThresholdS?: number;
  backoff?: BackoffPolicy;
  /** names in the source root that do not make it "not empty" (the canary's file or directory) */
  rootIgnore?: string[];
  /** st_dev of the source root when watching began (null: not known yet) */
  rootDev?: () => number | null;
  /** the command that lifts a hold on this target, as its alert prints it */
  resumeCommand?: string;
  /** names a batch must also send to keep the source's hard links (HardLinks.companions) */
  companions?: (changes: readonly Change[]) => BytePath[];
}

/** States logged as warnings: the target is not getting what it should. */
const WARN_STATES: ReadonlySet<TargetState> = new Set(['down', 'misconfigured', 'held', 'lagging', 'paused']);

/** How often a running full sync logs its progress. */
const PROGRESS_LOG_MS = 5_000;

/** Deletes sent within this window count together against max_delete (a slow rm -rf arrives in many batches). */
const DELETE_WINDOW_MS = 10_000;
/** With max_delete set, a batch with deletes waits this long once so the rest of an rm -rf joins it. */
const DELETE_SETTLE_MS = 150;

/**
 * Dispatcher for one target of one source: at most one rsync in flight;
 * whatever arrives meanwhile forms the next batch. Workers of different
 * targets share nothing, so a slow or dead target never delays another.
 *
 * Nothing is dropped: a failed batch goes back into the queue, and the
 * journal keeps every change until this target confirmed it.
 *
 * Events: 'state' (state, previous, reason), 'transfer' (TransferReport),
 * 'alert' (WorkerAlert), 'delivered' (Delivery) after a transfer reached the
 * target, 'idle' () when nothing is pending or running.
 */
export class TargetWorker extends EventEmitter {
  readonly name: string;
  readonly key: string;
  private readonly queue: Coalescer;
  private _state: TargetState = 'starting';
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private fullSyncReason: string | null = null;
  private retryAt = 0;
  private failures = 0;
  private stopped = false;
  private holdReason: string | null = null;
  /** an operator's pause (kept in the journal: it outlives a restart) */
  private pausedBy: Pause | null = null;
  /** set by resume(): the next transfer may delete beyond max_delete */
  private allowDeletes = false;
  private settleUntil = 0;
  private recentDeletes: Array<{ at: number; n: number }> = [];
  /** highest journal sequence number of the events queued so far */
  private queuedSeq = 0;
  /** full syncs in a row that rsync cut short (skipped deletions): the backoff before the next */
  private incompleteFulls = 0;
  /** failed attempts per path (rsync 23) */
  private readonly attempts = new Map<BytePath, number>();
  /** paths given up on until they change again or a full sync succeeds */
  private readonly stuckPaths = new Map<BytePath, Change>();
  /** ends the rsync in flight when stop() runs out of time */
  private readonly abort = new AbortController();
  /** a full sync cut short, waiting to run again */
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /**
   * Failed changes waiting for their retry, due at retryDueAt. Kept apart
   * from the queue, where a directory sent whole would swallow them (and
   * leave them out, since they keep failing): they go in a batch of their own.
   */
  private readonly retryDue = new Map<BytePath, Change>();
  private retryDueAt = 0;
  /** the full sync in flight: when it began, rsync's last progress line and when it came */
  private full: { startedAt: number; last?: RsyncProgress; at: number | null } | null = null;
  lastError: string | null = null;
  lastSuccessAt: number | null = null;
  /** when the last full sync of the whole tree succeeded */
  lastFullSyncAt: number | null = null;
  /** when the current state began, and why */
  stateSince = Date.now();
  stateReason = '';

  constructor(private readonly o: TargetWorkerOptions) {
    super();
    this.name = o.transport.target;
    this.key = o.key ?? `${o.sourceName}/${this.name}`;
    this.queue = new Coalescer({ delayMs: o.delayMs, maxWaitMs: o.maxWaitMs });
  }

  get state(): TargetState {
    return this._state;
  }

  /** changes waiting for this target (ready or not) */
  get pending(): number {
    return this.queue.size;
  }

  get stuck(): number {
    return this.stuckPaths.size;
  }

  /** the stuck paths (byte strings) */
  stuckList(): BytePath[] {
    return [...this.stuckPaths.keys()];
  }

  /** the stuck paths, at most `max` of them, for people */
  stuckNames(max = 100): string[] {
    return [...this.stuckPaths.keys()].slice(0, max).map((p) => display(p) || '.');
  }

  /** Failed transfers in a row since the last success. */
  get failedAttempts(): number {
    return this.failures;
  }

  get held(): string | null {
    return this.holdReason;
  }

  get paused(): Pause | null {
    return this.pausedBy;
  }

  /** the full sync in flight, as far as rsync has told (null when none runs) */
  get progress(): TransferProgress | null {
    return this.full && transferProgress(this.full.startedAt, this.full.last, this.full.at);
  }

  /** true when nothing is pending, running or scheduled */
  get isIdle(): boolean {
    return (
      this.running === null &&
      this.queue.size === 0 &&
      this.fullSyncReason === null &&
      this.retryTimers.size === 0 &&
      this.retryDue.size === 0
    );
  }

  /** The changes the watcher just saw (changesOf), already in the journal up to sequence `seq`. */
  addChanges(changes: readonly Change[], seq = 0): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const c of changes) {
      this.queue.add(c, now);
      // changed: a fresh chance in the queue, no longer left out; a retry
      // still owed joins it as the older change (a tree owed stays a tree)
      this.attempts.delete(c.path);
      const owed = this.retryDue.get(c.path);
      if (owed) {
        this.retryDue.delete(c.path);
        this.queue.addChange(owed, now);
      }
    }
    // a stuck path that changes, or lies beneath a directory that changed, gets fresh chances
    if (this.stuckPaths.size > 0) {
      const changed = changes.map((c) => c.path);
      for (const p of releasedBy(this.stuckPaths.keys(), changed)) {
        const c = this.stuckPaths.get(p) as Change;
        this.stuckPaths.delete(p);
        this.attempts.delete(p);
        if (!changed.includes(p)) this.queue.addChange(c, now);
      }
    }
    if (seq > this.queuedSeq) this.queuedSeq = seq;
    this.pump();
  }

  /** Pending journal rows from an earlier run: they go with the first batch. */
  loadPending(rows: readonly PendingRow[]): void {
    const now = Date.now();
    for (const r of rows) {
      this.queue.addChange({ path: r.path, op: r.op }, now);
      if (r.seq > this.queuedSeq) this.queuedSeq = r.seq;
      // failed attempts count across a restart: a stuck path is stuck again at its next failure
      if (r.attempts > 0) this.attempts.set(r.path, r.attempts);
    }
    this.pump();
  }

  /** A full rsync of the whole tree at the next chance (startup, overflow, lost watch). */
  requestFullSync(reason: string): void {
    if (this.stopped) return;
    if (this.fullSyncReason === null) this.fullSyncReason = reason;
    this.o.journal?.setNeedsFull(this.key, this.fullSyncReason);
    this.pump();
  }

  hold(reason: string): void {
    if (this.holdReason !== null) return;
    this.holdReason = reason;
    this.clearTimer();
    this.setState('held', reason);
    this.alert(
      'held',
      `target ${this.o.sourceName}/${this.name} is on hold: ${reason}; nothing is sent until an operator ${this.o.resumeCommand ? `runs: \`${this.o.resumeCommand}\`` : 'resumes it'}`,
    );
  }

  /**
   * An operator's pause: nothing more is sent (a transfer in flight ends
   * first) until unpause(); changes keep going into the journal and the
   * queue. The pause is kept in the journal, so a restart keeps it. False
   * when it was paused already.
   */
  pause(p: Pause = { since: Date.now(), reason: 'paused by an operator' }): boolean {
    if (this.pausedBy !== null) return false;
    this.pausedBy = p;
    this.savePause();
    this.clearTimer();
    this.setState('paused', p.reason);
    return true;
  }

  /** Lifts an operator's pause: what was journaled meanwhile goes now (a safety hold stays). */
  unpause(): boolean {
    if (this.pausedBy === null) return false;
    this.pausedBy = null;
    this.savePause();
    if (this.holdReason !== null) this.setState('held', this.holdReason);
    else if (this.lastSuccessAt === null && this.isIdle) this.setState('starting', 'resumed by operator');
    else this.settle(Date.now(), 'resumed by operator', !this.isIdle);
    this.pump();
    return true;
  }

  /** The pause as it is now, in the journal (a failure is logged: the pause still holds in this run). */
  private savePause(): void {
    try {
      this.o.journal?.setPaused(this.key, this.pausedBy);
    } catch (e) {
      this.o.log.error(
        { err: (e as Error).message },
        `journal: cannot record the pause or its end (a restart may not see it): ${(e as Error).message}`,
      );
    }
  }

  /** Lifts a hold; the transfer that was held goes ahead, deletes included. */
  resume(): boolean {
    if (this.holdReason === null) return false;
    this.holdReason = null;
    this.allowDeletes = true;
    this.recentDeletes = [];
    if (this.pausedBy === null)
      this.setState(this.lastSuccessAt === null ? 'starting' : 'syncing', 'resumed by operator');
    this.pump();
    return true;
  }

  /** Stops taking work and waits for the transfer in flight, at most `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    if (this.running) {
      const finished = await Promise.race([
        this.running.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref()),
      ]);
      if (!finished) {
        // Out of time: stop rsync. What it carried stays in the journal and goes after the restart.
        this.abort.abort();
        await this.running;
      }
    }
  }

  /** Epoch ms of the oldest change this target still needs (journal), or null. */
  oldestPendingAt(): number | null {
    const j = this.o.journal;
    if (!j || this.stopped) return null;
    return j.oldestPending(this.key, this.o.stuckAfter ?? 5);
  }

  /** Re-evaluates lagging from the journal's oldest pending change. */
  checkLag(now = Date.now()): void {
    if (!this.o.journal || this.stopped) return;
    if (this._state !== 'idle' && this._state !== 'syncing' && this._state !== 'lagging') return;
    const busy = this.running !== null || this.queue.size > 0;
    if (this._state === 'lagging' || this.settled(now, busy) === 'lagging')
      this.settle(now, 'caught up', busy);
  }

  /** What the state is once a transfer ended, or at a lag check (stuck paths do not count as lag). */
  private settled(now: number, busy: boolean): 'idle' | 'syncing' | 'lagging' {
    return settledState({
      busy,
      oldestPendingAt: this.oldestPendingAt(),
      now,
      lagLimitMs: (this.o.lagThresholdS ?? 60) * 1000,
    });
  }

  /** `busy`: work remains after this (a finishing transfer does not count itself). */
  private settle(now: number, reason: string, busy = this.queue.size > 0): void {
    const next = this.settled(now, busy);
    if (next === 'lagging') {
      const oldest = this.oldestPendingAt() ?? now;
      this.setState('lagging', `oldest pending change is ${Math.round((now - oldest) / 1000)} s old`);
    } else this.setState(next, reason);
  }

  /**
   * Options of the next call: paths that keep failing are left out (except
   * those the call lists itself), so that their error does not make rsync
   * skip every deletion of the run; they are retried on their own.
   */
  private callOptions(): SendOptions {
    return {
      signal: this.abort.signal,
      leaveOut: new Set([...this.attempts.keys(), ...this.stuckPaths.keys()]),
    };
  }

  /** The failing paths a call left out: their journal rows stay. */
  private leftOut(listed: readonly Change[]): Set<BytePath> {
    const out = new Set([...this.attempts.keys(), ...this.stuckPaths.keys()]);
    for (const c of listed) out.delete(c.path);
    return out;
  }

  private setState(next: TargetState, reason: string): void {
    if (next === this._state) return;
    // a pause or hold ends only by unpause() or resume(): a transfer that was in
    // flight when it came must not end it by finishing; a pause shows over a hold
    const pinned = this.pausedBy !== null ? 'paused' : this.holdReason !== null ? 'held' : null;
    if (pinned !== null && next !== pinned) return;
    const prev = this._state;
    this._state = next;
    this.stateSince = Date.now();
    this.stateReason = reason;
    const level = WARN_STATES.has(next) ? 'warn' : 'info';
    this.o.log[level](
      { source: this.o.sourceName, target: this.name, state: next, previous: prev, reason },
      `target ${this.o.sourceName}/${this.name}: ${prev} -> ${next}${reason ? ` (${reason})` : ''}`,
    );
    try {
      this.o.journal?.recordState(this.key, next, prev, reason);
    } catch (e) {
      this.o.log.error(
        { err: (e as Error).message },
        `journal: cannot record state: ${(e as Error).message}`,
      );
    }
    this.emit('state', next, prev, reason);
  }

  private alert(kind: WorkerAlertKind, message: string, paths?: string[]): void {
    this.emit('alert', { kind, message, paths } satisfies WorkerAlert);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private wakeAt(at: number): void {
    if (at >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, at - Date.now()),
    );
  }

  /** Starts the next transfer if the target is free and something is due. */
  private pump(): void {
    if (this.stopped) return;
    // checked even while a transfer runs or the target is down: this is what
    // bounds memory during an outage of any length
    const threshold = this.o.fullSyncThreshold ?? 10_000;
    if (this.queue.size > threshold) {
      // A long outage or a huge burst: one full sync is cheaper than a giant
      // file list, and the queue's memory is released. The journal keeps the
      // rows until that full sync succeeds.
      const reason = `${this.queue.size} changes pending (more than full_sync_threshold ${threshold})`;
      this.queue.clear();
      if (this.fullSyncReason === null) this.fullSyncReason = reason;
      this.o.journal?.setNeedsFull(this.key, this.fullSyncReason);
    }
    const now = Date.now();
    const step = nextTransfer({
      now,
      busy: this.running !== null || this.holdReason !== null || this.pausedBy !== null,
      retryAt: this.retryAt,
      fullSyncDue: this.fullSyncReason !== null,
      retries: this.retryDue.size,
      retryDueAt: this.retryDueAt,
      ready: this.queue.hasReady(now),
      nextReadyAt: () => this.queue.nextReadyAt(),
      empty: this.queue.size === 0,
      settleUntil: this.settleUntil,
      checksDeletes: this.checksDeletes,
    });
    if (step.wakeAt !== null) this.wakeAt(step.wakeAt);
    if (step.idle) this.emit('idle');
    // nothing due now and the target is not backing off: the transport may get the next batch's call ready
    if (step.run === null && this.quiet(now)) this.o.transport.idle?.();
    switch (step.run) {
      case 'full': {
        // Everything already pending is covered by the full sync; what arrives
        // from now on stays queued for the batch after it.
        const reason = this.fullSyncReason as string;
        this.queue.clear();
        this.launch(this.runFull(reason));
        return;
      }
      case 'retry': {
        const retry = [...this.retryDue.values()];
        this.retryDue.clear();
        this.launch(this.runBatch(retry, this.queuedSeq));
        return;
      }
      case 'batch': {
        const seq = this.queuedSeq;
        const changes = this.queue.take(now);
        if (changes.length === 0) {
          const next = this.queue.nextReadyAt();
          if (next !== undefined) this.wakeAt(next);
          return;
        }
        if (settleFirst(this.checksDeletes, this.settleUntil, countDeletes(changes))) {
          // let the rest of an rm -rf arrive before counting
          for (const c of changes) this.queue.addChange(c, now);
          this.settleUntil = now + DELETE_SETTLE_MS;
          this.wakeAt(this.settleUntil);
          return;
        }
        this.settleUntil = 0;
        this.launch(this.runBatch(changes, seq));
        return;
      }
    }
  }

  /**
   * The batch and the other names of the linked files it sends, as upserts
   * (rsync -H links names within one file list only), in path order.
   */
  private withCompanions(batch: Change[]): Change[] {
    const extra = this.o.companions?.(batch) ?? [];
    if (extra.length === 0) return batch;
    this.o.log.debug(
      { source: this.o.sourceName, target: this.name, companions: extra.length },
      `target ${this.o.sourceName}/${this.name}: the batch also sends ${extra.length} other name(s) of the linked files in it`,
    );
    return sortByPath([...batch, ...extra.map((path): Change => ({ path, op: 'upsert' }))]);
  }

  /** Nothing running, held, paused, backing off, or ready to go (a batch waiting for its deletes to settle is ready). */
  private quiet(now: number): boolean {
    return (
      this.running === null &&
      this.holdReason === null &&
      this.pausedBy === null &&
      now >= this.retryAt &&
      !this.queue.hasReady(now)
    );
  }

  /** max_delete applies to the next transfer (not lifted by a resume) */
  private get checksDeletes(): boolean {
    return this.o.maxDelete !== undefined && this.o.source.delete && !this.allowDeletes;
  }

  /** The one transfer in flight; when it ends, the next one is considered. */
  private launch(transfer: Promise<void>): void {
    this.running = transfer.finally(() => {
      this.running = null;
      if (!this.stopped) this.pump();
    });
  }

  private recentDeleteCount(now: number): number {
    this.recentDeletes = this.recentDeletes.filter((d) => now - d.at < DELETE_WINDOW_MS);
    return this.recentDeletes.reduce((n, d) => n + d.n, 0);
  }

  private begin(): void {
    this.clearTimer();
    if (this._state !== 'down' && this._state !== 'misconfigured' && this._state !== 'lagging')
      this.setState('syncing', '');
  }

  private async runBatch(batch: Change[], seq: number): Promise<void> {
    this.begin();
    const changes = this.withCompanions(batch);
    const call = this.callOptions();
    const left = this.leftOut(changes);
    if (canDelete(changes)) {
      const guard = await this.guard('transfer', this.recentDeleteCount(Date.now()), () =>
        this.o.transport.countDeletes(changes, call),
      );
      if (this.stopped) return;
      if (guard.kind === 'failed') {
        this.finish('batch', changes, guard.result, seq, left);
        return;
      }
      if (guard.kind === 'refused') {
        for (const c of changes) this.queue.addChange(c, Date.now());
        this.hold(guard.reason);
        return;
      }
      if (guard.counted) this.recentDeletes.push({ at: Date.now(), n: guard.counted });
    }
    const { result: res, rootAttrs } = await this.o.transport.sendBatch(changes, {
      ...call,
      more: () => !this.stopped,
    });
    // A failure is logged: the next batch that touches the root, a full sync, or an audit (as drift) catches it
    if (rootAttrs && !transferred(rootAttrs.class))
      this.o.log.warn(
        { source: this.o.sourceName, target: this.name, rsyncMessage: rootAttrs.detail },
        `target ${this.o.sourceName}/${this.name}: the root directory's times and mode could not be set (${rootAttrs.message}); the next change in the root or the next full sync sets them`,
      );
    this.finish('batch', changes, res, seq, left);
  }

  /** The delete guard (guard.ts) for the next transfer; a resume lets that one through as it is. */
  private guard(what: string, recent: number, count: () => Promise<DeleteCount>): Promise<GuardOutcome> {
    return guardDeletes({
      what,
      source: this.o.source,
      count,
      maxDelete: this.o.maxDelete,
      allow: this.allowDeletes ? EVERYTHING_ALLOWED : NOTHING_ALLOWED,
      rootIgnore: this.o.rootIgnore,
      rootDev: this.o.rootDev?.() ?? null,
      recent,
    });
  }

  private async runFull(reason: string): Promise<void> {
    this.begin();
    // Rows recorded up to here are covered by this full sync (rsync reads the tree after this point)
    const seq = this.o.journal?.currentSeq ?? this.queuedSeq;
    const call = this.callOptions();
    const left = this.leftOut([]);
    // count what it would delete before deleting anything
    const guard = await this.guard('full sync', 0, () => this.o.transport.countDeletes('all', call));
    if (this.stopped) return;
    if (guard.kind === 'failed') {
      this.finish('full', [], guard.result, seq, left, reason);
      return;
    }
    if (guard.kind === 'refused') {
      this.fullSyncReason = reason;
      this.hold(guard.reason);
      return;
    }
    this.fullSyncReason = null;
    const res = await this.sendAll(call);
    this.finish('full', [], res, seq, left, reason);
    if (transferred(res.class)) await this.pruneBackups();
  }

  /** The full sync's rsync, its progress kept for status and logged every PROGRESS_LOG_MS. */
  private async sendAll(call: SendOptions): Promise<SendResult> {
    const full: NonNullable<typeof this.full> = { startedAt: Date.now(), at: null };
    this.full = full;
    const ticker = setInterval(() => this.logProgress(full), PROGRESS_LOG_MS);
    ticker.unref();
    try {
      return await this.o.transport.sendAll({
        ...call,
        onProgress: (p) => {
          full.last = mergeProgress(full.last, p);
          full.at = Date.now();
        },
      });
    } finally {
      clearInterval(ticker);
      this.full = null;
    }
  }

  /** "full sync www -> web1: 40%, 1,204/3,000+ files checked, 96 sent, 12.3 MiB, 4.1 MiB/s, 30 s so far" */
  private logProgress(full: NonNullable<typeof this.full>): void {
    const p = transferProgress(full.startedAt, full.last, full.at);
    this.o.log.info(
      { source: this.o.sourceName, target: this.name, progress: p },
      `full sync ${this.o.sourceName} -> ${this.name}: ${describeTransfer(p, Date.now())}`,
    );
  }

  /** Drops dated backup directories older than keep_days on the target; a failure is only logged. */
  private async pruneBackups(): Promise<void> {
    const res = await this.o.transport.pruneBackups({ signal: this.abort.signal });
    if (res === null) return;
    if (transferred(res.class))
      this.o.log.info(
        { source: this.o.sourceName, target: this.name },
        `target ${this.o.sourceName}/${this.name}: backups older than keep_days pruned`,
      );
    else
      this.o.log.warn(
        { source: this.o.sourceName, target: this.name, rsyncMessage: res.detail },
        `target ${this.o.sourceName}/${this.name}: pruning old backups failed: ${res.message}`,
      );
  }

  /** The journal's transfer history and the target's last success / last error (for status after a restart). */
  private recordTransfer(r: TransferReport): void {
    try {
      this.o.journal?.recordTransfer({
        target: this.key,
        kind: r.kind,
        started: Date.now() - r.durationMs,
        durationMs: r.durationMs,
        changes: r.changes,
        files: r.files,
        bytes: r.bytes,
        result: r.result,
        code: r.code,
        message: r.message,
      });
    } catch (e) {
      this.o.log.error(
        { err: (e as Error).message },
        `journal: cannot record transfer: ${(e as Error).message}`,
      );
    }
  }

  private finish(
    kind: 'batch' | 'full',
    changes: Change[],
    res: SendResult,
    seq: number,
    leftOut: ReadonlySet<BytePath>,
    reason?: string,
  ): void {
    const cls = res.class;
    const ok = transferred(cls);
    const deletes = countDeletes(changes);
    const report: TransferReport = {
      source: this.o.sourceName,
      target: this.name,
      kind,
      reason,
      changes: changes.length,
      deletes,
      files: res.files,
      bytes: res.bytes,
      durationMs: res.durationMs,
      result: cls,
      code: res.code,
      message: ok ? undefined : res.message,
      sample: changes.slice(0, 5).map((c) => `${c.op} ${display(c.path) || '.'}`),
    };
    this.emit('transfer', report);
    this.o.log.debug(
      {
        source: report.source,
        target: report.target,
        kind,
        changes: report.changes,
        files: report.files,
        bytes: report.bytes,
        ms: report.durationMs,
        result: cls,
      },
      `target ${this.o.sourceName}/${this.name}: ${kind} of ${report.changes} change(s): ${cls} in ${report.durationMs} ms`,
    );
    this.recordTransfer(report);
    const now = Date.now();
    const failedPaths = cls === 'partial' ? res.failedPaths : [];
    if (ok || failedPaths.length > 0) {
      // The target answered: what did not fail is delivered
      const t = triageFailures({
        changes,
        failed: failedPaths,
        notDirectory: new Set(res.notDirectory),
        attempts: this.attempts,
        limit: this.o.stuckAfter ?? 5,
      });
      const failed = new Set([...t.retry, ...t.stuck].map((c) => c.path));
      const satisfied = new Set(t.satisfied.map((c) => c.path));
      // rsync skipped --delete inside every tree it recursed: those trees are
      // not delivered yet (but a tree beneath what is no longer a directory
      // is satisfied: sent again it would fail the same way, forever)
      const incomplete =
        res.deletionSkipped && kind === 'batch'
          ? changes.filter((c) => c.op === 'upsertTree' && !failed.has(c.path) && !satisfied.has(c.path))
          : [];
      const fullDone = kind === 'full' && !res.deletionSkipped;
      if (deletes > 0) this.recentDeletes.push({ at: now, n: deletes });
      this.allowDeletes = false;
      this.failures = 0;
      this.retryAt = 0;
      this.lastError = null;
      this.lastSuccessAt = now;
      if (fullDone) {
        // stuck paths were left out: they have their own alert, and the rest is in sync
        this.lastFullSyncAt = now;
        this.incompleteFulls = 0;
      }
      const kept = new Set([...failed, ...leftOut, ...incomplete.map((c) => c.path)]);
      if (kind === 'batch' || fullDone) this.record(kind, changes, kept, seq);
      const delivered = changes.filter((c) => !kept.has(c.path));
      for (const c of [...delivered, ...t.satisfied]) {
        this.attempts.delete(c.path);
        this.stuckPaths.delete(c.path);
      }
      if (fullDone || delivered.length > 0)
        this.emit('delivered', { kind, changes: delivered } satisfies Delivery);
      if (failed.size > 0 || incomplete.length > 0 || res.deletionSkipped)
        this.partial(kind, t, incomplete, res, seq, reason);
      else {
        this.o.log.info(
          report,
          kind === 'full'
            ? `full sync ${this.o.sourceName} -> ${this.name} done: ${res.files} files, ${res.bytes} bytes in ${res.durationMs} ms`
            : `sent ${changes.length} change(s) ${this.o.sourceName} -> ${this.name} in ${res.durationMs} ms`,
        );
      }
      // one more try for each stuck path after a full sync: what was wrong may have been fixed
      if (fullDone && this.stuckPaths.size > 0) this.retryLater([...this.stuckPaths.values()], 0);
      this.settle(now, kind === 'full' ? `full sync done${reason ? ` (${reason})` : ''}` : '');
      return;
    }
    if (this.stopped) {
      // shutting down: not a target failure; the journal still holds these changes
      this.o.log.info(
        { source: this.o.sourceName, target: this.name, kind },
        `${kind === 'full' ? 'full sync' : 'transfer'} ${this.o.sourceName} -> ${this.name} interrupted by shutdown; its changes stay in the journal and are sent after the restart`,
      );
      return;
    }
    // Failed: nothing is dropped. The batch goes back into the queue (newer
    // events for the same paths still win), a failed full sync is redone.
    this.failures++;
    if (kind === 'full') this.fullSyncReason = reason ?? 'retry';
    for (const c of changes) this.queue.addChange(c, now);
    const f = targetFailure(cls, this.failures, this._state, this.holdReason !== null, this.o.backoff);
    const delay = f.delayMs;
    this.retryAt = now + delay;
    this.lastError = res.message;
    // the failure that changes the state is a warning; each retry after it is a count (status: failures)
    this.o.log[f.changed ? 'warn' : 'debug'](
      { ...report, rsyncMessage: res.detail, retryInMs: delay, attempt: this.failures },
      `${kind === 'full' ? 'full sync' : 'transfer'} ${this.o.sourceName} -> ${this.name} failed (rsync exit ${res.code ?? res.signal}, ${cls}, attempt ${this.failures}): ${res.message}; retry in ${Math.round(delay / 100) / 10} s`,
    );
    if (f.changed) this.setState(f.state, res.message);
    if (f.alert !== null)
      this.alert(f.alert, `target ${this.o.sourceName}/${this.name} is ${f.state}: ${res.message}`);
  }

  /** Failed changes go again, in a batch of their own, `delay` ms from now. */
  private retryLater(changes: readonly Change[], delay: number): void {
    if (changes.length === 0) return;
    for (const c of changes) this.retryDue.set(c.path, c);
    this.retryDueAt = Date.now() + delay;
  }

  /** Clears from the journal what reached the target: all but the `kept` paths and what lies beneath them. */
  private record(kind: 'batch' | 'full', changes: Change[], kept: ReadonlySet<BytePath>, seq: number): void {
    const j = this.o.journal;
    if (!j) return;
    try {
      if (kind === 'full') {
        j.deliveredAll(this.key, seq, kept);
        j.setNeedsFull(this.key, null);
      } else {
        // also the rows beneath a delivered directory delete/upsertTree,
        // which the coalescer merged into it
        j.deliveredBatch(this.key, changes, seq, kept);
      }
    } catch (e) {
      this.o.log.error(
        { err: (e as Error).message },
        `journal: cannot record delivery: ${(e as Error).message}`,
      );
    }
  }

  /**
   * rsync exit 23: the target is fine, some paths are not (unreadable, too
   * long for rsync, permission on the target). Those are retried with
   * backoff, and after stuck_after attempts they are stuck: alerted, kept
   * in the journal, left out of every other transfer (full syncs included),
   * retried when they change and after each full sync. A path beneath a
   * directory that is no longer one was already satisfied (triageFailures).
   * When the error made rsync skip deletions, the trees of this transfer (or
   * the full sync) go again, with the failing paths left out.
   */
  private partial(
    kind: 'batch' | 'full',
    t: Triage,
    incomplete: Change[],
    res: SendResult,
    seq: number,
    reason?: string,
  ): void {
    const limit = this.o.stuckAfter ?? 5;
    for (const [p, n] of t.attempts) this.attempts.set(p, n);
    const nowStuck = t.stuck.filter((c) => !this.stuckPaths.has(c.path)).map((c) => display(c.path) || '.');
    for (const c of t.stuck) this.stuckPaths.set(c.path, c);
    const failed = [...t.retry, ...t.stuck];
    try {
      const j = this.o.journal;
      if (j && failed.length > 0) {
        // a failed path found beneath a tree or by a full sync has no row of its own yet; it is
        // as old as the transfer (seq): a delete of a directory above it, seen meanwhile, clears it
        // (a newer seq outlived that delete, the retry it covered never came, and the row stayed)
        j.recordIfAbsent(this.key, failed, Date.now(), seq);
        j.failedAttempt(
          this.key,
          failed.map((c) => c.path),
        );
      }
    } catch (e) {
      this.o.log.error({ err: (e as Error).message }, `journal: ${(e as Error).message}`);
    }
    const fullAgain = kind === 'full' && res.deletionSkipped;
    if (fullAgain) this.incompleteFulls++;
    const delay = retryDelay(
      Math.max(1, this.incompleteFulls, ...t.attempts.values()),
      'other',
      this.o.backoff ?? defaultBackoff,
    );
    // The target itself is fine: only these paths wait; everything else keeps flowing
    this.retryLater([...t.retry, ...t.alongside, ...incomplete], delay);
    if (fullAgain) {
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        if (!this.stopped) this.requestFullSync(reason ?? 'retry');
      }, delay);
      this.retryTimers.add(timer);
    }
    const again = fullAgain
      ? `; rsync skipped deletions because of them, so the full sync runs again in ${Math.round(delay / 100) / 10} s without them`
      : incomplete.length > 0
        ? `; rsync skipped deletions because of them, so ${incomplete.length} director${incomplete.length === 1 ? 'y goes' : 'ies go'} again without them`
        : '';
    this.o.log.warn(
      {
        source: this.o.sourceName,
        target: this.name,
        failed: failed.slice(0, 20).map((c) => display(c.path)),
        satisfied: t.satisfied.slice(0, 20).map((c) => display(c.path)),
        rsyncMessage: res.detail,
      },
      `${kind === 'full' ? 'full sync' : 'transfer'} ${this.o.sourceName} -> ${this.name}: ${failed.length} path(s) failed (rsync exit 23): ${res.message}${t.retry.length ? `; retrying them in ${Math.round(delay / 100) / 10} s` : ''}${again}`,
    );
    if (nowStuck.length > 0) {
      const message = `target ${this.o.sourceName}/${this.name}: ${nowStuck.length} path(s) failed ${limit} times and are stuck (${nowStuck
        .slice(0, 5)
        .map((n) => brief(n))
        .join(
          ', ',
        )}${nowStuck.length > 5 ? ', ...' : ''}): ${res.message}. Everything else keeps syncing; they are retried when they change and after each full sync.`;
      this.o.log.error(
        { source: this.o.sourceName, target: this.name, stuck: nowStuck.slice(0, 100) },
        message,
      );
      this.alert('stuck', message, nowStuck);
    }
  }
}

/** A batch that can delete on the target: a delete, or the root sent whole (-r with --delete). */
function canDelete(changes: readonly Change[]): boolean {
  return changes.some((c) => c.op === 'delete' || (c.op === 'upsertTree' && c.path === ''));
}

function countDeletes(changes: readonly Change[]): number {
  let n = 0;
  for (const c of changes) if (c.op === 'delete') n++;
  return n;
}
