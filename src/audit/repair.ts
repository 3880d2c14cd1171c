import type { Change } from '../change/index.js';
import type { DriftEntry } from './itemize.js';

/**
 * The batch that repairs exactly what an audit found (pure): what is extra
 * on the target goes, a missing directory is sent with everything beneath
 * it, anything else (missing file, content, metadata) is sent as itself.
 * Entries beneath an extra or missing directory are left out: that
 * directory's delete or send covers them (and the delete guard's dry run
 * then counts each deleted entry once).
 */
export function repairChanges(entries: readonly DriftEntry[]): Change[] {
  const whole = new Set(
    entries
      .filter((e) => e.type === 'dir' && (e.kind === 'extra' || e.kind === 'missing'))
      .map((e) => e.path),
  );
  const covered = (path: string): boolean => {
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1))
      if (whole.has(path.slice(0, i))) return true;
    return false;
  };
  return entries
    .filter((e) => !covered(e.path))
    .map((e): Change => {
      if (e.kind === 'extra') return { path: e.path, op: 'delete' };
      if (e.kind === 'missing' && e.type === 'dir') return { path: e.path, op: 'upsertTree' };
      return { path: e.path, op: 'upsert' };
    });
}
