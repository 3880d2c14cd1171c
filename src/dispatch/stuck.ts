import type { Change } from '../change/index.js';
import { type BytePath, coveredBy } from '../util/bytes.js';

/**
 * Stuck paths: the decisions, as plain functions. A path rsync cannot
 * transfer (unreadable, longer than rsync's 4,096-byte limit, ...) fails on
 * its own; everything else must keep flowing, full syncs included.
 */

/** What to do with the paths one transfer could not deliver. */
export interface Triage {
  /**
   * failed changes already satisfied: a directory above them is no longer a
   * directory on the source (rsync: "Not a directory"), so nothing of them
   * exists; that directory's own change replaces the old tree on the target
   */
  satisfied: Change[];
  /** failed changes to try again after a backoff */
  retry: Change[];
  /** failed changes that have now failed `limit` times: stuck */
  stuck: Change[];
  /** the attempt count of each failed path after this failure */
  attempts: Map<BytePath, number>;
  /**
   * the transfer's other changes beneath a path to retry: their journal rows
   * stay with it (a failed directory may not have delivered them), so they
   * go again with it. A retried delete of D clears only the rows beneath D
   * as old as its own, and a change beneath D can be newer (a scan's or a
   * rename's event read after D's delete): left behind, its row would stay.
   */
  alongside: Change[];
}

/**
 * Sorts the failed paths of one transfer. A failed path that was not itself
 * listed (it lies beneath a directory sent whole, or a full sync found it)
 * is retried as a whole tree: a directory that could not be listed must be
 * listed again, and a plain upsert of it would "succeed" without its contents.
 */
export function triageFailures(o: {
  changes: readonly Change[];
  failed: readonly BytePath[];
  notDirectory: ReadonlySet<BytePath>;
  attempts: ReadonlyMap<BytePath, number>;
  limit: number;
}): Triage {
  const byPath = new Map(o.changes.map((c) => [c.path, c]));
  const t: Triage = { satisfied: [], retry: [], stuck: [], attempts: new Map(), alongside: [] };
  for (const path of o.failed) {
    const change = byPath.get(path) ?? { path, op: 'upsertTree' as const };
    if (o.notDirectory.has(path)) {
      t.satisfied.push(change);
      continue;
    }
    const n = (o.attempts.get(path) ?? 0) + 1;
    t.attempts.set(path, n);
    (n >= o.limit ? t.stuck : t.retry).push(change);
  }
  const retried = new Set(t.retry.map((c) => c.path));
  const failed = new Set(o.failed);
  for (const c of o.changes) if (!failed.has(c.path) && coveredBy(c.path, retried)) t.alongside.push(c);
  return t;
}

/**
 * The stuck paths an event gives a fresh chance: the changed path itself
 * and anything beneath it (a renamed, deleted or chmodded directory may have
 * been why they failed).
 */
export function releasedBy(stuck: Iterable<BytePath>, changed: readonly BytePath[]): BytePath[] {
  const tops = new Set(changed);
  const out: BytePath[] = [];
  for (const p of stuck) if (coveredBy(p, tops)) out.push(p);
  return out;
}

/**
 * The state after a transfer or a lag check, for a target that is reachable:
 * lagging while its oldest pending change (stuck ones not counted) is older
 * than the limit, else syncing while work remains, else idle. Deciding this
 * in one place keeps a finished retry from flipping lagging -> idle -> lagging.
 */
export function settledState(o: {
  busy: boolean;
  oldestPendingAt: number | null;
  now: number;
  lagLimitMs: number;
}): 'idle' | 'syncing' | 'lagging' {
  if (o.oldestPendingAt !== null && o.now - o.oldestPendingAt > o.lagLimitMs) return 'lagging';
  return o.busy ? 'syncing' : 'idle';
}
