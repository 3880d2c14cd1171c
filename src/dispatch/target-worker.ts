import { EventEmitter } from 'node:events';
import { type Change, Coalescer } from '../coalesce/index.js';
import {
  buildBatchCall,
  buildFullSyncCall,
  type RsyncCall,
  type RsyncResult,
  runRsync,
  type SourceSpec,
  type TargetSpec,
} from '../transport/index.js';
import { display } from '../util/bytes.js';
import type { Logger } from '../util/log.js';
import type { FsEvent } from '../watch/types.js';
import { type BackoffPolicy, defaultBackoff, retryDelay } from './backoff.js';

/**
 * The health of one (source, target) pair:
 * - starting: waiting for its first sync
 * - syncing: a transfer is running
 * - idle: in sync, nothing pending
 * - down: the last transfer failed for a network/timeout reason; retrying with backoff
 * - misconfigured: auth, module, usage error; retrying slowly, the message says what to fix
 * - held: paused by a safety rule; nothing is sent until resumed
 */
export type TargetState = 'starting' | 'syncing' | 'idle' | 'down' | 'misconfigured' | 'held';

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
  result: RsyncResult['exit']['class'];
  code: number | null;
  message?: string;
  /** a few of the paths, for the log */
  sample: string[];
}

export interface TargetWorkerOptions {
  sourceName: string;
  source: SourceSpec;
  target: TargetSpec;
  delayMs: number;
  maxWaitMs: number;
  isRoot: boolean;
  log: Logger;
  backoff?: BackoffPolicy;
  /** hard bound on one rsync call, on top of rsync's own --timeout */
  callTimeoutMs?: number;
}

/**
 * Dispatcher for one target of one source: at most one rsync in flight;
 * whatever arrives meanwhile forms the next batch. Workers of different
 * targets share nothing, so a slow or dead target never delays another.
 *
 * Events: 'state' (state, previous, reason), 'transfer' (TransferReport),
 * 'idle' () when nothing is pending or running.
 */
export class TargetWorker extends EventEmitter {
  readonly name: string;
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
  lastError: string | null = null;
  lastSuccessAt: number | null = null;

  constructor(private readonly o: TargetWorkerOptions) {
    super();
    this.name = o.target.name;
    this.queue = new Coalescer({ delayMs: o.delayMs, maxWaitMs: o.maxWaitMs });
  }

  get state(): TargetState {
    return this._state;
  }

  /** changes waiting for this target (ready or not) */
  get pending(): number {
    return this.queue.size;
  }

  /** true when nothing is pending, running or scheduled */
  get isIdle(): boolean {
    return this.running === null && this.queue.size === 0 && this.fullSyncReason === null;
  }

  addEvents(events: readonly FsEvent[]): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const ev of events) this.queue.add(ev, now);
    this.pump();
  }

  /** A full rsync of the whole tree at the next chance (startup, overflow, lost watch). */
  requestFullSync(reason: string): void {
    if (this.stopped) return;
    if (this.fullSyncReason === null) this.fullSyncReason = reason;
    this.pump();
  }

  hold(reason: string): void {
    this.holdReason = reason;
    this.setState('held', reason);
  }

  resume(): void {
    if (this.holdReason === null) return;
    this.holdReason = null;
    this.setState(this.lastSuccessAt === null ? 'starting' : 'idle', 'resumed');
    this.pump();
  }

  /** Stops taking work and waits for the transfer in flight, at most `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    if (this.running) {
      await Promise.race([this.running, new Promise((r) => setTimeout(r, graceMs).unref())]);
    }
  }

  private setState(next: TargetState, reason: string): void {
    if (next === this._state) return;
    const prev = this._state;
    this._state = next;
    const level = next === 'down' || next === 'misconfigured' || next === 'held' ? 'warn' : 'info';
    this.o.log[level](
      { source: this.o.sourceName, target: this.name, state: next, previous: prev, reason },
      `target ${this.o.sourceName}/${this.name}: ${prev} -> ${next}${reason ? ` (${reason})` : ''}`,
    );
    this.emit('state', next, prev, reason);
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
    if (this.stopped || this.running || this.holdReason !== null) return;
    const now = Date.now();
    if (now < this.retryAt) {
      this.wakeAt(this.retryAt);
      return;
    }
    if (this.fullSyncReason !== null) {
      const reason = this.fullSyncReason;
      this.fullSyncReason = null;
      // Everything already pending is covered by the full sync; what arrives
      // from now on stays queued for the batch after it.
      this.queue.clear();
      this.run(
        'full',
        buildFullSyncCall(this.o.source, this.o.target, { isRoot: this.o.isRoot }),
        [],
        reason,
      );
      return;
    }
    if (this.queue.hasReady(now)) {
      const changes = this.queue.take(now);
      if (changes.length > 0) {
        this.run(
          'batch',
          buildBatchCall(this.o.source, this.o.target, changes, { isRoot: this.o.isRoot }),
          changes,
        );
        return;
      }
    }
    const next = this.queue.nextReadyAt();
    if (next !== undefined) this.wakeAt(next);
    else if (this.queue.size === 0) this.emit('idle');
  }

  private run(kind: 'batch' | 'full', call: RsyncCall, changes: Change[], reason?: string): void {
    this.clearTimer();
    if (this._state !== 'down' && this._state !== 'misconfigured') this.setState('syncing', '');
    const started = Date.now();
    this.running = runRsync(call, {
      timeoutMs: this.o.callTimeoutMs ?? (this.o.target.timeoutS * 4 + 60) * 1000,
    })
      .then(
        (res) => this.finish(kind, changes, res, reason),
        (err: Error) => {
          // rsync could not even be spawned: treat as misconfiguration of this host
          this.finish(kind, changes, spawnFailure(err, Date.now() - started), reason);
        },
      )
      .finally(() => {
        this.running = null;
        if (!this.stopped) this.pump();
      });
  }

  private finish(kind: 'batch' | 'full', changes: Change[], res: RsyncResult, reason?: string): void {
    const cls = res.exit.class;
    const ok = cls === 'ok' || cls === 'vanished';
    const deletes = changes.reduce((n, c) => n + (c.op === 'delete' ? 1 : 0), 0);
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
      message: ok ? undefined : res.exit.message,
      sample: changes.slice(0, 5).map((c) => `${c.op} ${display(c.path) || '.'}`),
    };
    this.emit('transfer', report);
    if (ok) {
      this.failures = 0;
      this.retryAt = 0;
      this.lastError = null;
      this.lastSuccessAt = Date.now();
      this.o.log.info(
        { ...report, sample: report.sample },
        kind === 'full'
          ? `full sync ${this.o.sourceName} -> ${this.name} done: ${res.files} files, ${res.bytes} bytes in ${res.durationMs} ms`
          : `sent ${changes.length} change(s) ${this.o.sourceName} -> ${this.name} in ${res.durationMs} ms`,
      );
      this.setState(
        this.queue.size > 0 ? 'syncing' : 'idle',
        kind === 'full' ? `full sync done${reason ? ` (${reason})` : ''}` : '',
      );
      return;
    }
    // Failed: nothing is dropped. The batch goes back into the queue (newer
    // events for the same paths still win), a failed full sync is redone.
    this.failures++;
    const now = Date.now();
    if (kind === 'full') this.fullSyncReason = reason ?? 'retry';
    for (const c of changes) this.queue.addChange(c, now);
    const backoffKind =
      cls === 'misconfigured' ? 'misconfigured' : cls === 'transient' ? 'transient' : 'other';
    const delay = retryDelay(this.failures, backoffKind, this.o.backoff ?? defaultBackoff);
    this.retryAt = now + delay;
    this.lastError = res.exit.message;
    this.o.log.error(
      { ...report, rsyncMessage: res.exit.rsyncMessage, retryInMs: delay, attempt: this.failures },
      `${kind === 'full' ? 'full sync' : 'transfer'} ${this.o.sourceName} -> ${this.name} failed (rsync exit ${res.code ?? res.signal}, ${cls}): ${res.exit.message}; retry in ${Math.round(delay / 100) / 10} s`,
    );
    this.setState(cls === 'misconfigured' ? 'misconfigured' : 'down', res.exit.message);
  }
}

function spawnFailure(err: Error, durationMs: number): RsyncResult {
  return {
    code: null,
    signal: null,
    durationMs,
    stderrTail: err.message,
    stdoutTail: '',
    files: 0,
    bytes: 0,
    exit: { class: 'misconfigured', code: null, message: err.message, rsyncMessage: '' },
  } as RsyncResult;
}
