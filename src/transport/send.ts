import type { Change } from '../change/index.js';
import {
  buildBatchCall,
  buildRootAttrsCall,
  type RsyncCall,
  type SourceSpec,
  type TargetSpec,
  touchesRoot,
} from './argv.js';
import { transferred } from './exit-codes.js';
import type { RsyncResult } from './run.js';

/** Runs one call of a send; `step` lets the caller bound each step on its own. */
export type SendRunner = (call: RsyncCall, step: 'batch' | 'rootAttrs') => Promise<RsyncResult>;

export interface BatchSent {
  result: RsyncResult;
  /** the root's own times and mode, sent after a batch that touched the root; null: not sent */
  rootAttrs: RsyncResult | null;
}

/**
 * One batch to a target and, when it changed something directly in the
 * root and reached the target, the root's mode, owner and times after it:
 * the target root's mtime moves whenever rsync creates, renames or deletes
 * an entry in it (a file's temp copy included). The daemon's worker and
 * audit --repair both send this way. `more`: false skips the follow-up
 * (the daemon is stopping).
 */
export async function sendBatch(
  run: SendRunner,
  src: SourceSpec,
  tgt: TargetSpec,
  changes: readonly Change[],
  o: { isRoot: boolean },
  more: () => boolean = () => true,
): Promise<BatchSent> {
  const result = await run(buildBatchCall(src, tgt, changes, { isRoot: o.isRoot }), 'batch');
  const reached = transferred(result.exit.class) || result.exit.class === 'partial';
  if (!reached || !touchesRoot(changes) || !more()) return { result, rootAttrs: null };
  const rootAttrs = await run(buildRootAttrsCall(src, tgt, { isRoot: o.isRoot }), 'rootAttrs');
  return { result, rootAttrs };
}
