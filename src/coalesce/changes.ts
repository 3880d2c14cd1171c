import type { FsEvent } from '../watch/types.js';
import type { Change } from './types.js';

/**
 * What a batch of events means for the journal: one change per event, before
 * any merging (the journal collapses per path, the coalescer merges in
 * memory). A move is the delete of its old name and the arrival of its new
 * one; a write means the file must go eventually. Pure.
 */
export function changesOf(events: readonly FsEvent[]): Change[] {
  const out: Change[] = [];
  for (const ev of events) {
    switch (ev.kind) {
      case 'write':
      case 'upsert':
        out.push({ path: ev.path, op: 'upsert' });
        break;
      case 'upsertTree':
        out.push({ path: ev.path, op: 'upsertTree' });
        break;
      case 'delete':
        out.push({ path: ev.path, op: 'delete' });
        break;
      case 'move':
        if (ev.from !== undefined) out.push({ path: ev.from, op: 'delete' });
        out.push({ path: ev.path, op: ev.isDir ? 'upsertTree' : 'upsert' });
        break;
    }
  }
  return out;
}
