import { EventEmitter } from 'node:events';
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { type FanEvent, Fanotify, type FidInfo, fanConstants, handleOf } from '../native/fanotify.js';
import { type BytePath, fromBuffer, joinRel, toFs } from '../util/bytes.js';
import type { UnwatchedSummary } from './tree-watcher.js';
import type { BatchInfo, FsEvent } from './types.js';

export interface FanotifyWatcherOptions {
  /** Directories (relative byte paths) whose events are dropped: excluded by the filter, or syncward's own state. */
  ignoreDir?: (rel: BytePath) => boolean;
}

/** watcher "auto": a tree with more directories than this is watched with fanotify where it can be */
export const AUTO_FANOTIFY_DIRS = 50_000;

/** directory handles resolved to where they are now, kept until a directory is renamed or removed */
const CACHE_MAX = 65_536;

/** a directory handle that no longer resolves: removed before its events were read */
const GONE = Symbol('gone');

/**
 * A watcher for one source tree with a single fanotify mark on the
 * filesystem it lives on (issue 15): no watch per directory, no walk at
 * start. Events name a directory by its handle and the entry by its name; a
 * handle resolves to where that directory is *now*, and the kernel merges
 * queued events on the same name, so an entry's events say only "this name
 * changed": what it is now (lstat) decides the event, as inotify's order
 * cannot be trusted to survive the merge. A rename comes as one event with
 * both names.
 *
 * Same events as TreeWatcher: 'events' (FsEvent[]), 'overflow', 'rootGone'
 * ({reason}), 'warning' (WatchWarning).
 */
export class FanotifyWatcher extends EventEmitter {
  readonly backend = 'fanotify';
  private readonly root: string;
  private readonly ignoreDir: (rel: BytePath) => boolean;
  private fan: Fanotify | null = null;
  private rootReal = '';
  private rootHandle: Buffer | null = null;
  /** handle bytes (latin1) -> relative path, null for a directory outside the tree or ignored, GONE once removed */
  private readonly where = new Map<string, BytePath | null | typeof GONE>();
  private readonly c = fanConstants();
  private closed = false;
  /** a handle that could not be resolved in this read: its events go by a catch-up */
  private unresolved: NodeJS.ErrnoException | null = null;
  /** the addon cannot find a file by its handle (built before statOfHandle): said once */
  private oldAddonSaid = false;

  constructor(root: string, o: FanotifyWatcherOptions = {}) {
    super();
    this.root = root.replace(/\/+$/, '') || '/';
    this.ignoreDir = o.ignoreDir ?? (() => false);
  }

  /** fanotify has no watch per directory */
  get watchedDirs(): number {
    return 0;
  }

  watchedPaths(): BytePath[] {
    return [];
  }

  /** nothing waits for a watch: one mark covers every directory */
  unwatchedSummary(): UnwatchedSummary {
    return { dirs: 0, since: null, codes: [], sample: [] };
  }

  /**
   * Marks the filesystem the root lives on. Rejects (with the errno's code)
   * when fanotify cannot report this tree: no CAP_SYS_ADMIN, an old kernel,
   * a filesystem without file handles, or another filesystem mounted inside
   * the tree (a filesystem mark would not see it).
   */
  async start(): Promise<{ dirs: number; ms: number }> {
    const t0 = performance.now();
    this.rootReal = realpathSync(this.root);
    const inner = mountsBeneath(this.rootReal);
    if (inner.length > 0) {
      throw Object.assign(
        new Error(
          `${inner.length} filesystem(s) are mounted inside ${this.root} (${inner.slice(0, 3).join(', ')})`,
        ),
        { code: 'EXDEV' },
      );
    }
    const fan = new Fanotify();
    this.fan = fan;
    try {
      fan.markFilesystem(Buffer.from(this.rootReal));
      this.rootHandle = handleOf(Buffer.from(this.rootReal));
    } catch (e) {
      this.close();
      throw e;
    }
    fan.start(
      (events) => this.onEvents(events),
      (err) =>
        this.emit('warning', {
          path: this.root,
          code: err.code ?? 'EIO',
          message: `reading fanotify events failed: ${err.message}`,
        }),
    );
    return { dirs: 0, ms: Math.round(performance.now() - t0) };
  }

  close(): void {
    this.closed = true;
    this.fan?.close();
    this.fan = null;
    this.where.clear();
  }

  private abs(rel: BytePath): Buffer {
    return rel === ''
      ? Buffer.from(this.rootReal)
      : Buffer.concat([Buffer.from(`${this.rootReal}/`), toFs(rel)]);
  }

  /** Where a directory handle is in the tree now, null when outside it or ignored, GONE when removed. */
  private dirOf(info: FidInfo): BytePath | null | typeof GONE {
    const key = info.handle.toString('latin1');
    const known = this.where.get(key);
    if (known !== undefined) return known;
    let abs: Buffer | null;
    try {
      abs = this.fan?.pathOf(info.handle) ?? null;
    } catch (e) {
      // the kernel could not say where the directory is (ENOMEM was seen under load): its events
      // are not lost, they are caught up as after a queue overflow
      this.unresolved = e as NodeJS.ErrnoException;
      return null;
    }
    const rel = abs === null ? GONE : this.relOf(abs);
    if (this.where.size >= CACHE_MAX) this.where.clear();
    this.where.set(key, rel);
    return rel;
  }

  private relOf(abs: Buffer): BytePath | null {
    const p = fromBuffer(abs);
    const root = fromBuffer(Buffer.from(this.rootReal));
    let rel: BytePath;
    if (p === root) rel = '';
    else if (p.startsWith(root === '/' ? '/' : `${root}/`)) rel = p.slice(root === '/' ? 1 : root.length + 1);
    else return null;
    if (rel === '') return rel;
    // inside an ignored directory: as if it were not watched (TreeWatcher does not descend there)
    let at = rel.indexOf('/');
    while (at !== -1) {
      if (this.ignoreDir(rel.slice(0, at))) return null;
      at = rel.indexOf('/', at + 1);
    }
    return this.ignoreDir(rel) ? null : rel;
  }

  private onEvents(events: FanEvent[]): void {
    if (this.closed) return;
    const c = this.c as Record<string, number>;
    const out: FsEvent[] = [];
    const lost = new Lost();
    const dirChanged = (c.FAN_RENAME as number) | (c.FAN_DELETE as number) | (c.FAN_DELETE_SELF as number);
    for (const ev of events) {
      if (ev.mask & (c.FAN_Q_OVERFLOW as number)) {
        this.where.clear();
        this.emit('overflow');
        continue;
      }
      const gone = this.rootGoneBy(ev);
      if (gone !== null) {
        this.emit('rootGone', { reason: gone });
        return;
      }
      if (ev.mask & (c.FAN_RENAME as number)) this.onRename(ev, out, lost);
      else this.onEntry(ev, out, lost);
      // a directory renamed or removed moves every cached path beneath it
      if (ev.mask & (c.FAN_ONDIR as number) && ev.mask & dirChanged) this.where.clear();
    }
    const info: BatchInfo = lost.unseen.size > 0 ? { unseen: [...lost.unseen] } : {};
    if (out.length > 0 || info.unseen) this.emit('events', out, info);
    if (this.unresolved) {
      const err = this.unresolved;
      this.unresolved = null;
      this.where.clear();
      this.emit('warning', {
        path: this.root,
        code: err.code ?? 'EIO',
        message: `a file handle an event carried could not be resolved (${err.message}); its events are caught up by a full sync, as after a queue overflow`,
      });
      this.emit('overflow');
    }
  }

  /**
   * Whether the event removed the root: the entry deleted or renamed in its
   * parent is the root (the event's target fid), or the root's own
   * DELETE_SELF / MOVE_SELF (its handle and "."). Null when it did not.
   */
  private rootGoneBy(ev: FanEvent): 'deleted' | 'moved away' | null {
    const c = this.c as Record<string, number>;
    const root = this.rootHandle;
    if (root === null || !(ev.mask & (c.FAN_ONDIR as number))) return null;
    const deleted = (c.FAN_DELETE as number) | (c.FAN_DELETE_SELF as number);
    const moved = (c.FAN_RENAME as number) | (c.FAN_MOVE_SELF as number);
    if (!(ev.mask & (deleted | moved))) return null;
    const self = (c.FAN_DELETE_SELF as number) | (c.FAN_MOVE_SELF as number);
    const isRoot = (i: FidInfo) =>
      i.handle.equals(root) &&
      (i.type === c.FAN_EVENT_INFO_TYPE_FID || (i.name === '' && (ev.mask & self) !== 0));
    if (!ev.infos.some(isRoot)) return null;
    return ev.mask & deleted ? 'deleted' : 'moved away';
  }

  private onRename(ev: FanEvent, out: FsEvent[], lost: Lost): void {
    const c = this.c as Record<string, number>;
    const oldInfo = ev.infos.find((i) => i.type === c.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME);
    const newInfo = ev.infos.find((i) => i.type === c.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME);
    if (!oldInfo || !newInfo) return;
    const isDir = (ev.mask & (c.FAN_ONDIR as number)) !== 0;
    const oldDir = inTree(this.dirOf(oldInfo));
    const newDir = inTree(this.dirOf(newInfo));
    const from = oldDir === null ? null : joinRel(oldDir, oldInfo.name);
    const path = newDir === null ? null : joinRel(newDir, newInfo.name);
    const into = path !== null && !(isDir && this.ignoreDir(path));
    if (from !== null && into) {
      const moved: FsEvent = { kind: 'move', path, from, isDir };
      const inode = isDir ? this.inodeOf(path, ev) : undefined;
      out.push(inode === undefined ? moved : { ...moved, inode });
    } else if (from !== null) out.push({ kind: 'delete', path: from, isDir });
    else if (into)
      // moved in from outside the tree: as if created there
      this.onEntry(
        {
          ...ev,
          mask: (c.FAN_CREATE as number) | (ev.mask & (c.FAN_ONDIR as number)),
          infos: [{ ...newInfo, type: c.FAN_EVENT_INFO_TYPE_DFID_NAME as number }],
        },
        out,
        lost,
      );
  }

  /**
   * The "dev:ino" of the directory now at `rel`, when it is the object the
   * rename reported (its fid matches the handle of the name now): the
   * transport then links the new name from the old one on the target.
   */
  private inodeOf(rel: BytePath, ev: FanEvent): string | undefined {
    const c = this.c as Record<string, number>;
    const self = ev.infos.find((i) => i.type === c.FAN_EVENT_INFO_TYPE_FID);
    if (!self) return undefined;
    try {
      const before = lstatSync(this.abs(rel), { bigint: true });
      if (!handleOf(this.abs(rel)).equals(self.handle)) return undefined;
      const after = lstatSync(this.abs(rel), { bigint: true });
      if (before.dev !== after.dev || before.ino !== after.ino) return undefined;
      return `${after.dev}:${after.ino}`;
    } catch {
      return undefined;
    }
  }

  /** An entry's events (possibly merged by the kernel): what the name is now decides. */
  private onEntry(ev: FanEvent, out: FsEvent[], lost: Lost): void {
    const c = this.c as Record<string, number>;
    const info = ev.infos.find((i) => i.type === c.FAN_EVENT_INFO_TYPE_DFID_NAME);
    if (!info) return;
    const dir = this.dirOf(info);
    const isDir = (ev.mask & (c.FAN_ONDIR as number)) !== 0;
    // a file's metadata or content changed: the other names of its inode show it too
    const changed = !isDir && (ev.mask & ((c.FAN_ATTRIB as number) | (c.FAN_CLOSE_WRITE as number))) !== 0;
    if (dir === GONE) {
      // its directory was removed before this event was read: the file may live on by other names
      if (changed) this.lostName(ev, out, lost);
      return;
    }
    if (dir === null) return;
    if (info.name === '') {
      // an event on a directory itself (its metadata): reported as its own handle and "."
      if (ev.mask & (c.FAN_ATTRIB as number)) out.push({ kind: 'upsert', path: dir, isDir: true });
      return;
    }
    const rel = joinRel(dir, info.name);
    if (changed && !this.names(rel, ev)) this.lostName(ev, out, lost);
    const entryChanged = (c.FAN_CREATE as number) | (c.FAN_DELETE as number);
    if (ev.mask & entryChanged) {
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(this.abs(rel));
      } catch {
        out.push({ kind: 'delete', path: rel, isDir });
        return;
      }
      if (st.isDirectory()) {
        if (!this.ignoreDir(rel)) out.push({ kind: 'upsertTree', path: rel, isDir: true });
        return;
      }
      // as TreeWatcher.completeOnCreate: a regular file with one link may still be being written
      if (!st.isFile() || st.nlink > 1)
        out.push({ kind: 'upsert', path: rel, isDir: false, ...(st.nlink > 1 ? { links: st.nlink } : {}) });
      else if (ev.mask & (c.FAN_CLOSE_WRITE as number)) out.push({ kind: 'upsert', path: rel, isDir: false });
      else out.push({ kind: 'write', path: rel, isDir: false });
      return;
    }
    if (ev.mask & ((c.FAN_CLOSE_WRITE as number) | (c.FAN_ATTRIB as number)))
      out.push({ kind: 'upsert', path: rel, isDir });
    else if (ev.mask & (c.FAN_MODIFY as number)) out.push({ kind: 'write', path: rel, isDir: false });
  }

  /** Whether the name `rel` still leads to the object the event happened to (its fid is the name's handle). */
  private names(rel: BytePath, ev: FanEvent): boolean {
    const self = ev.infos.find((i) => i.type === this.c.FAN_EVENT_INFO_TYPE_FID);
    if (!self) return true; // nothing to compare: the name is all there is
    try {
      return handleOf(this.abs(rel)).equals(self.handle);
    } catch {
      return false;
    }
  }

  /**
   * A file changed through a name that no longer leads to it (removed,
   * renamed, or in a removed directory). If the file lives on, its other
   * names must carry the change: the one the kernel's cache knows when it is
   * in the tree, else the inode goes to HardLinks, whose scan finds them.
   */
  private lostName(ev: FanEvent, out: FsEvent[], lost: Lost): void {
    const self = ev.infos.find((i) => i.type === this.c.FAN_EVENT_INFO_TYPE_FID);
    const fan = this.fan;
    if (!self || !fan || !lost.first(self.handle)) return;
    let file: ReturnType<Fanotify['fileOf']>;
    try {
      file = fan.fileOf(self.handle);
    } catch (e) {
      // as a directory handle the kernel could not resolve: caught up by a full sync
      this.unresolved = e as NodeJS.ErrnoException;
      return;
    }
    if (file === undefined) {
      if (!this.oldAddonSaid)
        this.emit('warning', {
          path: this.root,
          code: 'ENOSYS',
          message:
            'the native addon is older than this code (no statOfHandle): a change made through a hard link removed before its event was read may not reach the other names; run: npm run build:native',
        });
      this.oldAddonSaid = true;
      return;
    }
    if (file === null) return; // gone with its last name: nothing left to send
    let abs: Buffer | null = null;
    try {
      abs = fan.pathOf(self.handle);
      if (abs !== null) {
        const st = lstatSync(abs);
        if (`${st.dev}:${st.ino}` !== file.key) abs = null;
      }
    } catch {
      abs = null;
    }
    if (abs !== null) {
      const rel = this.relOf(abs);
      if (rel !== null && rel !== '') {
        out.push({ kind: 'upsert', path: rel, isDir: false });
        return;
      }
      // its one name is outside the tree (or ignored): nothing of ours changed
      if (file.nlink === 1) return;
    }
    lost.unseen.add(file.key);
  }
}

/** What one read found of files changed through names that no longer lead to them. */
class Lost {
  /** "dev:ino" of files whose names in the tree are not known here */
  readonly unseen = new Set<string>();
  private readonly seen = new Set<string>();

  /** true the first time a handle is met in this read (merged events repeat it) */
  first(handle: Buffer): boolean {
    const key = handle.toString('latin1');
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}

/** A directory's place for a rename: a removed one is as unknown as one outside the tree. */
function inTree(where: BytePath | null | typeof GONE): BytePath | null {
  return where === GONE ? null : where;
}

/** Mount points strictly beneath `dir` (from /proc/self/mountinfo, octal escapes decoded). */
export function mountsBeneath(dir: string, mountinfo?: string): string[] {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return [];
    }
  }
  const prefix = dir === '/' ? '/' : `${dir}/`;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    const mountPoint = field.replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(Number.parseInt(o, 8)),
    );
    if (mountPoint !== dir && mountPoint.startsWith(prefix)) out.push(mountPoint);
  }
  return out;
}

/** Why fanotify cannot watch a tree, for the log line that says the source falls back to inotify. */
export function fanotifyRefusal(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EPERM':
      return 'it needs root (CAP_SYS_ADMIN and CAP_DAC_READ_SEARCH)';
    case 'EINVAL':
      return 'this kernel cannot report renames with both names (FAN_RENAME needs Linux >= 5.17)';
    case 'ENODEV':
    case 'EOPNOTSUPP':
    case 'ENOTSUP':
      return 'its filesystem cannot report file handles (FUSE, NFS, overlayfs and btrfs subvolumes cannot)';
    case 'EXDEV':
      return err.message.includes('mounted inside')
        ? `${err.message}: one filesystem mark would not see them`
        : 'its filesystem cannot report file handles for a whole-filesystem mark (a btrfs subvolume?)';
    default:
      return err.message;
  }
}
