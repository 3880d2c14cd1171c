import type { FsEvent } from '../watch/types.js';
import type { Filter } from './filter.js';

/**
 * Applies the source's filter to a batch of watcher events. Pure.
 * A move across the filter boundary is half a move: moved from an excluded
 * name to a synced one is an upsert; from a synced name to an excluded one is
 * a delete (the target must not keep the old name).
 */
export function routeEvents(filter: Filter, events: readonly FsEvent[]): FsEvent[] {
  const out: FsEvent[] = [];
  for (const ev of events) {
    if (ev.kind !== 'move') {
      if (!filter.excludes(ev.path, ev.isDir)) out.push(ev);
      continue;
    }
    const fromOut = ev.from === undefined || filter.excludes(ev.from, ev.isDir);
    const toOut = filter.excludes(ev.path, ev.isDir);
    if (!fromOut && !toOut) out.push(ev);
    else if (fromOut && !toOut)
      out.push({ kind: ev.isDir ? 'upsertTree' : 'upsert', path: ev.path, isDir: ev.isDir });
    else if (!fromOut && toOut) out.push({ kind: 'delete', path: ev.from as string, isDir: ev.isDir });
  }
  return out;
}
