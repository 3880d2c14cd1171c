/**
 * The change model: what a target must receive for a path. The watcher's
 * events become changes once (coalesce/changes.ts), and the same changes go
 * to the journal and to each target's queue. A leaf: the journal, the
 * coalescer, dispatch, transport, audit and hooks import it, and it imports
 * only bytes.
 */
import type { BytePath } from '../util/bytes.js';

/**
 * What a target must receive for one path:
 * - `upsert`: send this entry as it is now (a file, symlink, or a directory's own metadata);
 * - `upsertTree`: send this directory and everything beneath it, deleting extras beneath it;
 * - `delete`: remove exactly this path (and, for a directory, its contents) on the target.
 */
export type Op = 'upsert' | 'upsertTree' | 'delete';

/**
 * A change for one path. `path` and `op` are what the journal keeps and
 * what a transfer sends; the other fields say how it came about, for the
 * coalescer (and, for a move, the transport), and are left out where
 * they do not apply.
 */
export interface Change {
  path: BytePath;
  op: Op;
  /**
   * an upsert of a file still being written (IN_MODIFY, no close yet): the
   * coalescer holds it until the close or max_wait_ms; the journal keeps a
   * plain upsert, since the file must go eventually
   */
  writing?: true;
  /** an upsert of a directory's own entry (its metadata): one where a directory was deleted becomes a tree transfer */
  dir?: true;
  /**
   * the old name of an entry moved within the tree: this change is the
   * arrival, and the delete of `from` comes just before it (the journal
   * keeps the two). It lets a transfer use the old name as its basis
   * (transport/moves.ts). The coalescer keeps it while the entry stays this
   * arrival; the journal does not (a replay sends the new name normally).
   */
  from?: BytePath;
  /**
   * a directory moved within the tree: its "dev:ino" as the watcher saw it
   * when it paired the move (the inode its watch is on). A transfer uses the
   * old name as a basis only while the new name is still this directory.
   */
  inode?: string;
}
