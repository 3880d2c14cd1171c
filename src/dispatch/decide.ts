import type { ExitClass } from '../transport/index.js';
import { type BackoffPolicy, defaultBackoff, retryDelay } from './backoff.js';

export interface TargetFailure {
  /** when to try again */
  delayMs: number;
  /** the state the target is in now */
  state: 'down' | 'misconfigured';
  /** the target enters that state now (not already in it, not held): the one failure worth a warning */
  changed: boolean;
  /** the raised alert: a full disk is a fact the rules latch; down and misconfigured are states the rules time */
  alert: 'noSpace' | null;
}

/**
 * What a failed transfer (the target did not answer, or refused) does to a
 * target: misconfiguration backs off slowly and says so, everything else is
 * "down". Only the change of state is news (a warning); each retry of a
 * target already down is a count. No alert is raised for down or
 * misconfigured: the monitor fires those once the state has lasted
 * down_after_s / misconfigured_after_s, and not while a safety hold already
 * speaks for the target.
 */
export function targetFailure(
  cls: ExitClass,
  failures: number,
  current: string,
  held: boolean,
  policy: BackoffPolicy = defaultBackoff,
  random: () => number = Math.random,
): TargetFailure {
  const backoffKind = cls === 'misconfigured' ? 'misconfigured' : cls === 'transient' ? 'transient' : 'other';
  const delayMs = retryDelay(failures, backoffKind, policy, random);
  const state = cls === 'misconfigured' ? 'misconfigured' : 'down';
  const changed = current !== state && !held;
  const alert = changed && cls === 'noSpace' ? 'noSpace' : null;
  return { delayMs, state, changed, alert };
}

/** What the worker knows when it considers its next transfer. */
export interface WorkerView {
  now: number;
  /** a transfer runs, or a safety hold stops the target */
  busy: boolean;
  /** a failed target is retried no earlier than this */
  retryAt: number;
  /** a full sync is owed */
  fullSyncDue: boolean;
  /** failed paths waiting for their retry, due at retryDueAt */
  retries: number;
  retryDueAt: number;
  /** the queue has a batch ready now */
  ready: boolean;
  /** when the queue's next entry is ready (undefined: nothing pending), asked only when needed */
  nextReadyAt: () => number | undefined;
  /** nothing pending in the queue */
  empty: boolean;
  /** with max_delete: a batch with deletes waits until then for the rest of an rm -rf */
  settleUntil: number;
  checksDeletes: boolean;
}

export interface NextTransfer {
  run: 'full' | 'retry' | 'batch' | null;
  /** when to look again (null: only when something arrives or a transfer ends) */
  wakeAt: number | null;
  /** nothing pending, running or scheduled */
  idle: boolean;
}

/**
 * The next transfer, one at a time per target: a failed target waits for its
 * backoff; a full sync owed goes first (it covers everything pending), then
 * the retries that are due, then the ready batch (a retry that is not due yet
 * does not hold it up).
 */
export function nextTransfer(v: WorkerView): NextTransfer {
  const none = (wakeAt: number | null, idle = false): NextTransfer => ({ run: null, wakeAt, idle });
  if (v.busy) return none(null);
  if (v.now < v.retryAt) return none(v.retryAt);
  if (v.fullSyncDue) return { run: 'full', wakeAt: null, idle: false };
  if (v.retries > 0 && v.now >= v.retryDueAt) return { run: 'retry', wakeAt: null, idle: false };
  const retryWake = v.retries > 0 ? v.retryDueAt : null;
  if (v.ready) {
    if (v.checksDeletes && v.now < v.settleUntil) return none(earliest(retryWake, v.settleUntil));
    return { run: 'batch', wakeAt: retryWake, idle: false };
  }
  const next = v.nextReadyAt();
  if (next !== undefined) return none(earliest(retryWake, next));
  return none(retryWake, v.retries === 0 && v.empty);
}

/** With max_delete, the first batch with deletes waits once, so the rest of an rm -rf is counted with it. */
export function settleFirst(checksDeletes: boolean, settleUntil: number, deletes: number): boolean {
  return checksDeletes && settleUntil === 0 && deletes > 0;
}

function earliest(a: number | null, b: number): number {
  return a === null ? b : Math.min(a, b);
}
