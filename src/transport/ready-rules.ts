/**
 * The decisions about a pre-connected ("ready") rsync, as plain functions of
 * data (ready.ts is the process around them, rsync.ts the caller).
 *
 * rsync reads --files-from=- only after it started, connected, read the
 * daemon's greeting, chose the module and logged in. An rsync started
 * before the change and left waiting on its stdin delivers it in the round
 * trips that remain. Everything such a call does is fixed when it starts,
 * so only a batch whose whole call is the same can use it.
 */
import type { RsyncCall } from './argv.js';
import type { ExitClass } from './exit-codes.js';

/**
 * Whether a batch can be handed to the ready rsync: its argv and
 * environment are exactly the ready one's. Anything that varies per call
 * shows in the argv: -r for a tree, --dry-run for a count, the exclude
 * rules that leave failing paths out, extra arguments, the dated
 * --backup-dir after midnight, the source read through another directory
 * fd. Those batches go cold.
 */
export function fitsReady(
  ready: Pick<RsyncCall, 'argv' | 'env'>,
  batch: Pick<RsyncCall, 'argv' | 'env'>,
): boolean {
  return sameWords(ready.argv, batch.argv) && sameEnv(ready.env, batch.env);
}

/** What ended a batch handed to the ready rsync, as far as the retry needs it. */
export interface ReadyOutcome {
  class: ExitClass;
  /** the caller aborted the call (the daemon is stopping) */
  aborted: boolean;
}

/**
 * Whether a batch that went through the ready rsync is sent again at once,
 * cold. A transient failure (the connection was cut, the peer went away,
 * the call stalled) may be the ready connection's own: a daemon cuts an idle
 * client after its `timeout`, a firewall forgets an idle flow, and an rsync
 * waiting on its stdin notices neither until it is handed its list. A cold
 * call would have connected afresh, so it gets that chance now rather than
 * after the worker's backoff. Other failures (auth, no space, a path that
 * fails) would fail a cold call the same way, and an aborted call is not
 * retried.
 */
export function retryCold(o: ReadyOutcome): boolean {
  return o.class === 'transient' && !o.aborted;
}

/** The shortest recycle interval kept when it is learned: an idle daemon restarting rsync more often costs CPU (issue 11: idle < 0.1% of a core). */
export const MIN_RECYCLE_MS = 10_000;

/**
 * The recycle interval after a ready rsync failed a handed-off batch with a
 * connection-class failure at `ageMs`: something cut it before that age (a
 * daemon `timeout` shorter than the configured interval), so later ones are
 * recycled at half that age, never below MIN_RECYCLE_MS and never above the
 * interval in force.
 */
export function learnedRecycleMs(currentMs: number, ageMs: number): number {
  return Math.min(currentMs, Math.max(MIN_RECYCLE_MS, Math.floor(ageMs / 2)));
}

/**
 * Whether a ready rsync is started now. Only while the caller says the
 * target is idle (`wanted`) and no other call to it runs (one connection per
 * target, a daemon with `max connections = 1` included), and not after one
 * exited by itself before it was used (a login refused, the daemon busy):
 * the next one waits until another call to the target has ended, so a
 * target refusing it costs at most one extra connection per transfer.
 */
export function shouldArm(s: {
  enabled: boolean;
  wanted: boolean;
  busy: number;
  closed: boolean;
  blocked: boolean;
  present: boolean;
}): boolean {
  return s.enabled && s.wanted && s.busy === 0 && !s.closed && !s.blocked && !s.present;
}

/** How soon after our own previous connection to a target ended a "max connections" refusal is taken for that connection's slot. */
export const SLOT_FREED_MS = 1000;

/**
 * Whether a call refused by a daemon at max connections is made again
 * after a short pause: when our own previous connection to the target (a
 * call, or the ready rsync ended for this one) ended just before, the slot
 * is ours. A daemon frees it only when its process for that connection
 * exits, which may be moments after our rsync did (seen with max
 * connections = 1: a count, then its batch, refused).
 */
export function slotNotYetFreed(o: { class: ExitClass; detail: string; sinceOursMs: number }): boolean {
  return o.class === 'transient' && /max connections/.test(o.detail) && o.sinceOursMs < SLOT_FREED_MS;
}

function sameWords(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((w, i) => w === b[i]);
}

function sameEnv(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
