import type { Change } from '../coalesce/types.js';
import type { DriftEntry } from './itemize.js';

/**
 * The batch that repairs exactly what an audit found (pure): what is extra
 * on the target goes, a missing directory is sent with everything beneath
 * it, anything else (missing file, content, metadata) is sent as itself.
 */
export function repairChanges(entries: readonly DriftEntry[]): Change[] {
  return entries.map((e): Change => {
    if (e.kind === 'extra') return { path: e.path, op: 'delete' };
    if (e.kind === 'missing' && e.type === 'dir') return { path: e.path, op: 'upsertTree' };
    return { path: e.path, op: 'upsert' };
  });
}
