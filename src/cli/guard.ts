import { type Config, rootIgnore } from '../config/index.js';
import { type Allowance, type GuardOutcome, type GuardRule, guardDeletes } from '../dispatch/index.js';
import type { DeleteCount } from '../transport/index.js';
import type { SourceTargetPair } from './pairs.js';

/** The one-shot commands' overrides of the delete guard. */
export interface GuardFlags {
  /** --allow-deletes N: up to N deletions per target, even past max_delete */
  allowDeletes?: number;
  /** --allow-empty-source: mirror an empty source root (the target is emptied too) */
  allowEmptySource?: boolean;
}

export function allowanceOf(o: GuardFlags): Allowance {
  return { deletes: o.allowDeletes ?? 0, emptySource: o.allowEmptySource === true };
}

/**
 * The daemon's delete guard for `sync` and `audit --repair`: the same root
 * checks and max_delete, counted by `count` (a dry run of the call).
 */
export function guardPair(
  config: Config,
  pair: SourceTargetPair,
  what: string,
  flags: GuardFlags,
  count: () => Promise<DeleteCount>,
): Promise<GuardOutcome> {
  return guardDeletes({
    what,
    source: pair.src,
    count,
    maxDelete: pair.target.maxDelete,
    allow: allowanceOf(flags),
    rootIgnore: rootIgnore(pair.source, config.stateDir),
  });
}

/** What the operator can do about a refusal: the flag that overrides it, or the fix. */
export function overrideHint(rule: GuardRule, deletes?: number): string {
  switch (rule) {
    case 'rootMissing':
      return 'mount or restore the source, then run again';
    case 'rootReplaced':
    case 'rootEmpty':
      return 'check the source (is it mounted?); if it is really meant to be empty, run again with --allow-empty-source';
    case 'maxDelete':
      return `check the source; if these deletions are meant, run again with --allow-deletes ${deletes ?? 'N'}`;
  }
}
