import type { BytePath } from '../util/bytes.js';

/**
 * What a target must receive for one path:
 * - `upsert`: send this entry as it is now (a file, symlink, or a directory's own metadata);
 * - `upsertTree`: send this directory and everything beneath it, deleting extras beneath it;
 * - `delete`: remove exactly this path (and, for a directory, its contents) on the target.
 */
export type Op = 'upsert' | 'upsertTree' | 'delete';

export interface Change {
  path: BytePath;
  op: Op;
}
