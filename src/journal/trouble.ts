/**
 * What went wrong with state_dir's storage at start (a damaged journal, a
 * full or read-only disk), told as what happened, what to do and what is
 * lost. Pure: the error's code decides.
 */

import { shellWord, syncwardCommand } from '../util/shell.js';

export type StorageTrouble = 'corrupt' | 'full' | 'readonly' | 'denied' | 'other';

/** SQLite codes as better-sqlite3 names them (SQLITE_CORRUPT_VTAB...), errno codes as Node does. */
export function storageTrouble(e: unknown): StorageTrouble {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return 'corrupt';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'full';
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') return 'readonly';
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'EACCES' || code === 'EPERM') return 'denied';
  return 'other';
}

export interface TroubleContext {
  stateDir: string;
  /** the journal file */
  file: string;
  /** how the targets catch up once syncward runs again, e.g. "the startup full sync resends every difference" */
  catchUp: string;
  uid: number;
}

/** The operator's message for a storage error at start: what happened, what to do, what is lost. */
export function storageTroubleMessage(e: unknown, c: TroubleContext): string {
  const why = (e as Error | null)?.message ?? String(e);
  // quoted for a shell: a state_dir may hold spaces
  const file = shellWord(c.file);
  const dir = shellWord(c.stateDir);
  switch (storageTrouble(e)) {
    case 'corrupt':
      return `the journal ${c.file} is damaged (SQLite: ${why}); syncward cannot start on it. Move it aside, then start again: mv ${file} ${shellWord(`${c.file}.broken`)} (and ${c.file}-wal, ${c.file}-shm the same way if they exist). Nothing in the source or on the targets is lost: the journal only lists what the targets still need, and ${c.catchUp}; only the transfer, audit and alert history stays behind in the old file.`;
    case 'full':
      return `no space left on the file system of state_dir ${c.stateDir} (${why}); syncward cannot record what the targets still need. Free space there (df -h ${dir} shows it), then start again. Nothing is lost: the journal keeps what it had recorded, and ${c.catchUp}.`;
    case 'readonly':
      return `state_dir ${c.stateDir} cannot be written (${why}): its file system is read-only. Remount it read-write, or set state_dir to a writable directory (under systemd: ReadWritePaths=${dir}), then start again. Nothing is lost: ${c.catchUp}.`;
    case 'denied':
      return `syncward (uid ${c.uid}) cannot open ${c.file} (${why}): run \`chown ${c.uid} ${file}* && chmod 600 ${file}*\`, then start again.`;
    default:
      return `cannot open the journal ${c.file}: ${why}`;
  }
}

/**
 * How the targets catch up on what a lost or unwritable journal owed them:
 * the startup full sync, except for sources that turned it off.
 */
export function catchUpText(sources: { name: string; initialSync: boolean }[], configFile?: string): string {
  const off = sources.filter((s) => !s.initialSync).map((s) => s.name);
  const all = 'the full sync at start resends every difference';
  if (off.length === 0) return all;
  // initial_sync can only be off in a config file: without one there is always the full sync at start
  const sync = (...args: string[]) =>
    syncwardCommand('sync', { configFile }, ...args) ?? 'syncward sync -c FILE';
  return off.length === sources.length
    ? `initial_sync is off, so run \`${sync()}\` once syncward runs again: it resends every difference`
    : `${all}, except for ${off.join(', ')} (initial_sync: false): run ${off.map((n) => `\`${sync('--source', n)}\``).join(', ')} once syncward runs again`;
}
