/**
 * The delete guard's decision (pure): may a transfer that can delete on a
 * target go ahead? Every path that can delete asks it (daemon batches, full
 * syncs from startup, cron and the API, `syncward sync`, `audit --repair`);
 * guard.ts gathers its inputs (the source root's look, a dry-run count).
 */

/** What the source root looks like right before the transfer. */
export type RootState =
  | { kind: 'ok' }
  /** nothing in it but what syncward itself puts there (the canary) */
  | { kind: 'empty' }
  /** gone, not a directory, or unreadable: `detail` says which ("does not exist") */
  | { kind: 'missing'; detail: string }
  /** another filesystem than the one watched (st_dev changed): unmounted or replaced */
  | { kind: 'replaced' };

/** What an operator allowed beyond the rules for one run: a resume, or the CLI's flags. */
export interface Allowance {
  /** deletions allowed even past max_delete (the larger of the two applies) */
  deletes: number;
  /** an empty, missing or replaced source root may be mirrored as it is */
  emptySource: boolean;
}

export const NOTHING_ALLOWED: Allowance = { deletes: 0, emptySource: false };
/** `syncward resume`: the held transfer goes ahead as it is */
export const EVERYTHING_ALLOWED: Allowance = { deletes: Number.POSITIVE_INFINITY, emptySource: true };

/** Which rule refused: each has its own override. */
export type GuardRule = 'rootMissing' | 'rootReplaced' | 'rootEmpty' | 'maxDelete';

export interface GuardCheck {
  /** what would run, for the message: "full sync", "transfer", "repair" */
  what: string;
  /** the source root, for the message */
  root: string;
  /** the source mirrors deletions (config `delete`); without it nothing is ever deleted */
  mirrorsDeletes: boolean;
  rootState: RootState;
  /** the target's max_delete, if set */
  maxDelete?: number;
  allow: Allowance;
  /** entries the transfer's dry run would delete; undefined until counted */
  counted?: number;
  /** entries deleted on this target just before, which count with these against max_delete */
  recent?: number;
}

export type GuardVerdict =
  | { verdict: 'go' }
  /** a limit applies: count the deletions with a dry run, then ask again with `counted` */
  | { verdict: 'count' }
  /** `deletes`: what the dry run counted, when the rule is about a count */
  | { verdict: 'refuse'; rule: GuardRule; reason: string; deletes?: number };

/**
 * The decision. A missing or replaced root refuses outright (a sync from it
 * would mirror the wrong tree); an empty root allows no deletion at all; a
 * max_delete allows that many. Counting costs a dry run, so it is asked for
 * only when a limit applies.
 */
export function judgeDeletes(c: GuardCheck): GuardVerdict {
  if (!c.mirrorsDeletes) return { verdict: 'go' };
  const root = c.rootState;
  const emptyOk = c.allow.emptySource;
  if (root.kind === 'missing' && !emptyOk)
    return { verdict: 'refuse', rule: 'rootMissing', reason: `the source root ${c.root} ${root.detail}` };
  if (root.kind === 'replaced' && !emptyOk)
    return {
      verdict: 'refuse',
      rule: 'rootReplaced',
      reason: `the source root ${c.root} is not the filesystem that was watched (unmounted or replaced)`,
    };
  const emptyLimit = root.kind === 'empty' && !emptyOk;
  if (!emptyLimit && c.maxDelete === undefined) return { verdict: 'go' };
  if (c.counted === undefined) return { verdict: 'count' };
  const n = c.counted;
  // an emptied root (a failed mount, a wrong rm -rf) must not empty a target, even a little
  if (emptyLimit && n > 0)
    return {
      verdict: 'refuse',
      rule: 'rootEmpty',
      deletes: n,
      reason: `the source root ${c.root} is empty (a missing mount? a wrong rm -rf?) and a ${c.what} would delete ${n} entries on the target`,
    };
  if (c.maxDelete === undefined) return { verdict: 'go' };
  const max = Math.max(c.maxDelete, c.allow.deletes);
  const recent = c.recent ?? 0;
  if (n + recent <= max) return { verdict: 'go' };
  const limit = max === c.maxDelete ? `max_delete ${max}` : `the ${max} allowed`;
  return {
    verdict: 'refuse',
    rule: 'maxDelete',
    deletes: n,
    reason: `a ${c.what} would delete ${n} entries${recent > 0 ? ` (plus ${recent} deleted on it just before)` : ''}, more than ${limit}`,
  };
}
