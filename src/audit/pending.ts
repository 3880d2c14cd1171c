import type { Change } from '../change/index.js';
import { type BytePath, parentOf } from '../util/bytes.js';
import type { DriftEntry } from './itemize.js';

/**
 * What a target still has coming, as an audit needs it: a difference on a
 * path that is on its way is not drift. Built from the journal's pending
 * rows (and, in the daemon, from what the watcher accepted while the audit ran).
 */
export interface PendingIndex {
  /** every pending path, whatever its op */
  readonly paths: ReadonlySet<BytePath>;
  /** pending upsertTree and delete paths: everything beneath them is on its way too */
  readonly trees: ReadonlySet<BytePath>;
  /** every proper ancestor of a pending path: a missing or extra directory holding pending work */
  readonly ancestors: ReadonlySet<BytePath>;
  /** a full sync is owed to the target (why), so every difference is on its way; null if not */
  readonly fullSync: string | null;
}

export const NOTHING_PENDING: PendingIndex = {
  paths: new Set(),
  trees: new Set(),
  ancestors: new Set(),
  fullSync: null,
};

/** Indexes pending changes; `fullSync` is the reason a full sync is owed, if one is. */
export function pendingIndex(changes: Iterable<Change>, fullSync: string | null = null): PendingIndex {
  const paths = new Set<BytePath>();
  const trees = new Set<BytePath>();
  const ancestors = new Set<BytePath>();
  for (const c of changes) addChange(c, paths, trees, ancestors);
  return { paths, trees, ancestors, fullSync };
}

/** Both snapshots together: what was pending before the dry run, or became pending during it. */
export function unionPending(a: PendingIndex, b: PendingIndex): PendingIndex {
  return {
    paths: new Set([...a.paths, ...b.paths]),
    trees: new Set([...a.trees, ...b.trees]),
    ancestors: new Set([...a.ancestors, ...b.ancestors]),
    fullSync: a.fullSync ?? b.fullSync,
  };
}

function addChange(c: Change, paths: Set<BytePath>, trees: Set<BytePath>, ancestors: Set<BytePath>): void {
  paths.add(c.path);
  if (c.op !== 'upsert') trees.add(c.path);
  if (c.path === '') return;
  for (let p = parentOf(c.path); ; p = parentOf(p)) {
    if (ancestors.has(p)) break;
    ancestors.add(p);
    if (p === '') break;
  }
}

/**
 * Whether a drift entry is explained by pending work: the path itself is
 * pending; or a directory above it is to be sent whole or deleted; or it is a
 * directory missing (or extra) on the target with pending work beneath it
 * (rsync creates the parents of listed paths); or a full sync is owed.
 */
export function isPending(e: DriftEntry, idx: PendingIndex): boolean {
  if (idx.fullSync !== null) return true;
  if (idx.paths.has(e.path)) return true;
  if (e.type === 'dir' && (e.kind === 'missing' || e.kind === 'extra') && idx.ancestors.has(e.path))
    return true;
  if (idx.trees.size === 0 || e.path === '') return false;
  if (idx.trees.has('')) return true;
  for (let p = parentOf(e.path); ; p = parentOf(p)) {
    if (idx.trees.has(p)) return true;
    if (p === '') return false;
  }
}

/** Splits audit entries into real drift and differences still on their way. */
export function splitPending(
  entries: readonly DriftEntry[],
  idx: PendingIndex,
): { drift: DriftEntry[]; pending: DriftEntry[] } {
  const drift: DriftEntry[] = [];
  const pending: DriftEntry[] = [];
  for (const e of entries) (isPending(e, idx) ? pending : drift).push(e);
  return { drift, pending };
}
