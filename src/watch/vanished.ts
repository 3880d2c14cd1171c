import type { BytePath } from '../util/bytes.js';

/** a vanished name waits this long for the delete or rename that explains it */
export const VANISHED_WAIT_MS = 60_000;

/**
 * Names a change event (IN_ATTRIB, IN_CLOSE_WRITE) named but that were gone
 * when looked at, so inotify cannot say which file changed. The event that
 * explains each decides: a rename means the file lives on under the new name,
 * which is looked at as any; a delete means the change was made through a
 * name that no longer exists, and if it was a hard link the file's other
 * names carry it. Pure: no I/O; time comes in as `now`.
 */
export class VanishedNames {
  private readonly names = new Map<BytePath, { since: number; at: number }>();

  /** Notes a changed name found gone; `since`: its event was queued after this time. */
  changed(path: BytePath, since: number, now: number): void {
    const known = this.names.get(path);
    this.names.set(path, { since: Math.min(since, known?.since ?? since), at: now });
  }

  /**
   * A name (or every name beneath a directory) deleted or moved out of the
   * tree: forgotten, and the earliest `since` among them returned (undefined:
   * none was noted).
   */
  deleted(path: BytePath, isDir: boolean): number | undefined {
    let since: number | undefined;
    for (const p of this.matching(path, isDir)) {
      const n = this.names.get(p) as { since: number };
      since = Math.min(since ?? n.since, n.since);
      this.names.delete(p);
    }
    return since;
  }

  /** A name (or a directory) renamed: forgotten, its file is under the new name; returns its `since`, if noted. */
  moved(from: BytePath, isDir: boolean): number | undefined {
    return this.deleted(from, isDir);
  }

  /** Forgets names whose delete or rename never came (a rename above them, read in another order). */
  prune(now: number): void {
    for (const [p, n] of this.names) if (now - n.at > VANISHED_WAIT_MS) this.names.delete(p);
  }

  get size(): number {
    return this.names.size;
  }

  private matching(path: BytePath, isDir: boolean): BytePath[] {
    if (this.names.size === 0) return [];
    const out = this.names.has(path) ? [path] : [];
    if (isDir) {
      const prefix = path === '' ? '' : `${path}/`;
      for (const p of this.names.keys()) if (p !== path && p.startsWith(prefix)) out.push(p);
    }
    return out;
  }
}
