/**
 * What the watcher does about directories it could not list or watch: pure
 * decisions, so the timers and syscalls in tree-watcher.ts stay a thin shell.
 *
 * A directory that failed is unwatched: nothing inside it is seen until a
 * retry succeeds. Retries run in rounds with a growing delay; once a round
 * lists and watches it, the directory is sent whole (upsertTree), which
 * covers whatever was created inside it meanwhile.
 */

/** The first retry round runs this soon after a failure... */
export const RETRY_FIRST_MS = 100;
/** ...each round that made no progress doubles the delay, up to this. */
export const RETRY_MAX_MS = 30_000;

/**
 * Codes that say the process or the user is short of something (fds, kernel
 * file table, memory, inotify watches), not that this directory is wrong:
 * the next attempt in the same round would fail the same way.
 */
const EXHAUSTED = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'ENOSPC']);

/** Why a listing or a watch failed, as the watcher acts on it. */
export type FailureKind = 'gone' | 'unwatched';

/**
 * ENOENT and ENOTDIR: the directory was deleted or replaced before we got to
 * it, and its own events say so. Anything else (EMFILE, ENFILE, ENOMEM,
 * ENOSPC, EACCES, EIO...) leaves it unwatched until a retry succeeds.
 */
export function failureKind(code: string | undefined): FailureKind {
  return code === 'ENOENT' || code === 'ENOTDIR' ? 'gone' : 'unwatched';
}

/** Whether a retry round should stop at this failure: every other retry would meet the same shortage. */
export function stopsRound(code: string): boolean {
  return EXHAUSTED.has(code);
}

/** The delay before retry round `attempt` (0 is the first after a failure or after progress). */
export function retryDelayMs(attempt: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(Math.max(attempt, 0), 20));
}

/**
 * After a retry round: what comes next. Nothing left: recovered. Some
 * directories came back: try the rest soon (the shortage is easing). None
 * came back: wait longer.
 */
export function afterRound(
  attempt: number,
  o: { left: number; progressed: boolean },
): { kind: 'recovered' } | { kind: 'retry'; attempt: number; delayMs: number } {
  if (o.left === 0) return { kind: 'recovered' };
  const next = o.progressed ? 0 : attempt + 1;
  return { kind: 'retry', attempt: next, delayMs: retryDelayMs(next) };
}

/**
 * Once nothing is unwatched any more. The directories that came back were
 * sent whole already; when the outage lasted long enough to raise the
 * `unwatched` alert (`alertAfterMs`), or the root itself could not be
 * listed, a full sync also runs, as the alert promised.
 */
export function fullSyncAfterRecovery(o: {
  unwatchedMs: number;
  alertAfterMs: number;
  root: boolean;
}): boolean {
  return o.root || o.unwatchedMs >= o.alertAfterMs;
}
