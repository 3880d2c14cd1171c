import { readdirSync, statSync } from 'node:fs';
import { type DeleteCount, type SendResult, type SourceSpec, transferred } from '../transport/index.js';
import { type Allowance, type GuardRule, judgeDeletes, type RootState } from './delete-rules.js';

export interface GuardRequest {
  /** what would run, for the message: "full sync", "transfer", "repair" */
  what: string;
  source: SourceSpec;
  /** what exactly the call that would run deletes, from a dry run of it (Transport.countDeletes) */
  count: () => Promise<DeleteCount>;
  maxDelete?: number;
  allow: Allowance;
  /** names in the source root that do not make it "not empty" (the canary's file or directory) */
  rootIgnore?: readonly string[];
  /** st_dev of the root when watching began (the daemon); a different one means it was replaced */
  rootDev?: number | null;
  /** entries deleted on this target just before (the daemon's window) */
  recent?: number;
}

export type GuardOutcome =
  /** go ahead; `counted`: what the dry run said it deletes, null when nothing needed counting */
  | { kind: 'go'; counted: number | null }
  | { kind: 'refused'; rule: GuardRule; reason: string; deletes?: number }
  /** the dry run itself failed (target down, auth): report it as the transfer's failure */
  | { kind: 'failed'; result: SendResult };

/**
 * The one guard before anything is deleted on a target: looks at the source
 * root, counts with a dry run when a limit applies, and lets delete-rules.ts
 * decide. The daemon holds the target on a refusal; the CLI refuses and names
 * the flag that overrides.
 */
export async function guardDeletes(r: GuardRequest): Promise<GuardOutcome> {
  const check = {
    what: r.what,
    root: r.source.root,
    mirrorsDeletes: r.source.delete,
    rootState: probeRoot(r.source.root, r.rootIgnore ?? [], r.rootDev ?? null),
    maxDelete: r.maxDelete,
    allow: r.allow,
    recent: r.recent,
  };
  let v = judgeDeletes(check);
  let counted: number | null = null;
  if (v.verdict === 'count') {
    // A delete of a directory removes everything beneath it on the target:
    // count entries, not changes, with a dry run of this very call.
    const { result, deletes } = await r.count();
    if (!transferred(result.class) && result.class !== 'partial') return { kind: 'failed', result };
    counted = deletes;
    v = judgeDeletes({ ...check, counted });
  }
  if (v.verdict === 'refuse') return { kind: 'refused', rule: v.rule, reason: v.reason, deletes: v.deletes };
  return { kind: 'go', counted };
}

/** The source root as the guard sees it: there, the same filesystem, and not empty. */
export function probeRoot(root: string, ignore: readonly string[], dev: number | null): RootState {
  try {
    const st = statSync(root);
    if (!st.isDirectory()) return { kind: 'missing', detail: 'is not a directory' };
    if (dev !== null && st.dev !== dev) return { kind: 'replaced' };
    // the canary survives `rm -rf src/*` (a dotfile): it must not make an emptied root look alive
    const empty = readdirSync(root).every((n) => ignore.includes(n));
    return empty ? { kind: 'empty' } : { kind: 'ok' };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      kind: 'missing',
      detail: code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (e as Error).message})`,
    };
  }
}
