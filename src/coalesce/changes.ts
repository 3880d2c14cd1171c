import type { Change } from '../change/index.js';
import type { FsEvent } from '../watch/types.js';

/**
 * What a batch of the watcher's events means: one change per event (two for
 * a move), before any merging. The only place events become changes: the
 * journal records these, and each target's coalescer merges the same ones.
 * A move is the delete of its old name and the arrival of its new one, which
 * remembers the old (`from`); a write means the file must go eventually, and
 * is marked as still being written. Pure.
 */
export function changesOf(events: readonly FsEvent[]): Change[] {
  const out: Change[] = [];
  for (const ev of events) {
    switch (ev.kind) {
      case 'write':
        out.push({ path: ev.path, op: 'upsert', writing: true });
        break;
      case 'upsert':
        out.push(ev.isDir ? { path: ev.path, op: 'upsert', dir: true } : { path: ev.path, op: 'upsert' });
        break;
      case 'upsertTree':
        out.push({ path: ev.path, op: 'upsertTree' });
        break;
      case 'delete':
        out.push({ path: ev.path, op: 'delete' });
        break;
      case 'move':
        // without its old path (moved in from outside), only the arrival half
        if (ev.from === undefined) out.push({ path: ev.path, op: ev.isDir ? 'upsertTree' : 'upsert' });
        else {
          out.push({ path: ev.from, op: 'delete' });
          out.push({
            path: ev.path,
            op: ev.isDir ? 'upsertTree' : 'upsert',
            from: ev.from,
            ...(ev.inode !== undefined ? { inode: ev.inode } : {}),
          });
        }
        break;
    }
  }
  return out;
}
