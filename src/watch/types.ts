import type { BytePath } from '../util/bytes.js';

/**
 * What the watcher reports, after inotify's events were turned into facts
 * about the tree. Paths are relative to the source root, as byte strings.
 *
 * - `write`      IN_MODIFY on a regular file: being written, not complete yet.
 * - `upsert`     a complete entry: IN_CLOSE_WRITE, an unpaired IN_MOVED_TO of
 *                a file, IN_CREATE of a symlink / hard link / fifo, IN_ATTRIB.
 * - `upsertTree` a new or moved-in directory, now watched (with everything
 *                beneath it): send it recursively.
 * - `delete`     IN_DELETE or an unpaired IN_MOVED_FROM (moved out of the tree).
 * - `move`       IN_MOVED_FROM + IN_MOVED_TO paired by cookie, inside the tree:
 *                `from` is the old path, `path` the new one.
 */
export type FsEventKind = 'write' | 'upsert' | 'upsertTree' | 'delete' | 'move';

export interface FsEvent {
  kind: FsEventKind;
  path: BytePath;
  isDir: boolean;
  /** inotify's move cookie, for `move` events */
  cookie?: number;
  /** the old path, for `move` events */
  from?: BytePath;
  /** a directory `move`: the moved directory's "dev:ino", read when the move was paired and checked against its watch */
  inode?: string;
  /** a file created with this many links (> 1: a new hard link; see HardLinks) */
  links?: number;
}

/**
 * What a watcher's batch says beside its events, about changes it could not
 * name: made to a file through a name gone before its events were read (a
 * hard link's other name, elsewhere in the tree, shows the change). See
 * HardLinks, which finds those other names.
 */
export interface BatchInfo {
  /**
   * inotify: every event of the batch was queued after this time (ms since
   * the epoch, Date.now()'s clock; the last read that emptied the queue).
   * A change through a vanished name happened after it.
   */
  since?: number;
  /** fanotify: "dev:ino" of files changed through a name that is gone, found by the event's object handle */
  unseen?: string[];
}
