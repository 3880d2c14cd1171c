import { EventEmitter } from 'node:events';
import { lstatSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { IN, Inotify, leafDevOf, type RawEvent, subdirs } from '../native/index.js';
import { type BytePath, display, fromText, joinRel, toFs } from '../util/bytes.js';
import { type DirRef, DirTable, NO_DIR } from './dir-table.js';
import { suggestMaxUserWatches } from './limits.js';
import { afterRound, failureKind, retryDelayMs, stopsRound } from './recovery.js';
import type { BatchInfo, FsEvent } from './types.js';

export interface TreeWatcherOptions {
  /** Directories (relative byte paths) not to watch or descend into: excluded by the filter, or syncward's own state. */
  ignoreDir?: (rel: BytePath) => boolean;
  /** how long an IN_MOVED_FROM waits for its IN_MOVED_TO before it counts as moved out of the tree */
  moveHoldMs?: number;
  /**
   * start() stops its walk and rejects with code ETOOMANYDIRS once more
   * directories than this are watched (the watches made stay, until
   * close()): watcher "auto" then takes fanotify for a large tree.
   */
  maxDirs?: number;
}

/** The code of start()'s rejection when the tree has more directories than maxDirs. */
export const TOO_MANY_DIRS = 'ETOOMANYDIRS';

export interface WatchLimitInfo {
  message: string;
  maxUserWatches: number | null;
  watched: number;
  needed: number;
}

export interface WatchWarning {
  path: string;
  code: string;
  message: string;
}

/** Directories that could not be listed or watched and wait for a retry (each with whatever lies beneath it). */
export interface UnwatchedSummary {
  dirs: number;
  /** since when something has been unwatched without a break (epoch ms), null when nothing is */
  since: number | null;
  /** the errno names seen, e.g. EMFILE, ENOSPC, EACCES */
  codes: string[];
  /** a few of the paths, for messages */
  sample: string[];
}

/** 'recovered': every directory that was unwatched is listed and watched again (and was sent whole). */
export interface RecoveredInfo {
  /** when the unwatched spell began (epoch ms) */
  since: number;
  /** how many directories came back (failure points, each with its subtree) */
  dirs: number;
  /** the source root itself could not be listed: only a full sync covers it */
  root: boolean;
}

/*
 * Only directories are known (no per-file state), each a DirRef of the
 * watcher's DirTable: it knows its name and parent, so its path follows
 * renames for free.
 */

/**
 * Where a walk found a directory while our view still had it elsewhere and
 * no IN_MOVED_FROM for it had been read yet. If that IN_MOVED_FROM then
 * expires unpaired (the rename went into a directory not watched yet), this
 * is where it went.
 */
interface FoundAt {
  parent: DirRef;
  name: BytePath;
}

/** A directory waiting for a retry: a watched one we could not list, or one we could not watch. */
type Unwatched =
  | { kind: 'list'; node: DirRef; code: string }
  | { kind: 'watch'; parent: DirRef; name: BytePath; code: string };

/** addWatch errors of a path that may only be stale: the directory may be elsewhere now */
const stalePath = (code: string | undefined) => code === 'ENOENT' || code === 'ENOTDIR';

interface HeldMove {
  /** the directory the entry left */
  node: DirRef;
  name: BytePath;
  /** its path then, for when that directory is forgotten before the move is settled */
  path: BytePath;
  isDir: boolean;
  at: number;
  /** the moved directory's node, found again by a walk before (or instead of) its IN_MOVED_TO */
  claimed?: boolean;
}

/*
 * IN_CLOSE_WRITE: a regular file is complete. IN_CREATE: the only event a
 * symlink, fifo or hard link gets. IN_MODIFY: a file is being written (lets
 * the coalescer bound the wait for a file that never closes). IN_ATTRIB:
 * metadata. DONT_FOLLOW: never watch through a symlinked directory.
 * EXCL_UNLINK: no events for files already unlinked but still open.
 */
/** directories listed between two turns of the event loop during a walk */
const WALK_SLICE = 64;

const MASK =
  IN.IN_CLOSE_WRITE |
  IN.IN_MOVED_FROM |
  IN.IN_MOVED_TO |
  IN.IN_CREATE |
  IN.IN_DELETE |
  IN.IN_ATTRIB |
  IN.IN_MODIFY |
  IN.IN_DELETE_SELF |
  IN.IN_MOVE_SELF |
  IN.IN_ONLYDIR |
  IN.IN_DONT_FOLLOW |
  IN.IN_EXCL_UNLINK;

/**
 * A recursive inotify watcher for one source tree.
 *
 * Events: 'events' (FsEvent[]), 'overflow' (after the tree was re-walked, so
 * every directory is watched again before the caller's catch-up starts),
 * 'watchLimit' (WatchLimitInfo), 'rootGone' ({reason}), 'warning' (WatchWarning),
 * 'recovered' (RecoveredInfo) when nothing is left unwatched after failures.
 *
 * A directory that cannot be listed or watched (EMFILE, ENFILE, ENOMEM,
 * ENOSPC, EACCES...) is retried in rounds with a growing delay until it can;
 * it is then sent whole, so what was created in it meanwhile arrives.
 * unwatchedSummary() says what waits, for the `unwatched` alert.
 */
export class TreeWatcher extends EventEmitter {
  readonly backend = 'inotify';
  private readonly root: string;
  /** the root and a slash, as a byte string, for abs() */
  private readonly rootPrefix: BytePath;
  private readonly ignoreDir: (rel: BytePath) => boolean;
  private readonly moveHoldMs: number;
  private readonly maxDirs: number;
  /** maxDirs while start() walks; no cap afterwards (a tree that grows stays watched) */
  private walkCap = Number.POSITIVE_INFINITY;
  private inotify: Inotify | null = null;
  /** the watched directories */
  private dirs = new DirTable();
  private rootNode: DirRef = NO_DIR;
  /** see FoundAt */
  private readonly foundAt = new Map<DirRef, FoundAt>();
  private readonly held = new Map<number, HeldMove>();
  private holdTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /**
   * Directories an event or a walk named but whose path was not there: an
   * ancestor was renamed and we have not read that rename yet, so our path
   * for it is stale. Retried once the events queued behind it are applied.
   */
  private retries: Array<
    { parent: DirRef; name: BytePath; tries: number } | { node: DirRef; tries: number }
  > = [];
  private retryTimer: NodeJS.Timeout | null = null;
  /** directories that could not be watched because the watch limit was reached, not reported yet */
  private overLimit: Buffer[] = [];
  /** directories waiting for a retry round, by listKey / watchKey */
  private readonly unwatched = new Map<string, Unwatched>();
  private unwatchedSince: number | null = null;
  private recoverAttempt = 0;
  private recoverTimer: NodeJS.Timeout | null = null;
  private recovering = false;
  /** what came back so far in this unwatched spell */
  private recovered = { dirs: 0, root: false };
  private rescanning: Promise<void> | null = null;
  private rescanAgain = false;
  /** when the last read that emptied the kernel queue was made: what the next read brings was queued after it */
  private drainedAt = Date.now();
  /** where a directory with two links need not be read (leafDevOf) */
  private leafDev = -1;

  constructor(root: string, o: TreeWatcherOptions = {}) {
    super();
    this.root = root.replace(/\/+$/, '') || '/';
    this.rootPrefix = fromText(`${this.root}/`);
    this.ignoreDir = o.ignoreDir ?? (() => false);
    this.moveHoldMs = o.moveHoldMs ?? 5;
    this.maxDirs = o.maxDirs ?? Number.POSITIVE_INFINITY;
  }

  /** Number of directories watched now. */
  get watchedDirs(): number {
    return this.dirs.size;
  }

  /** The relative path of every watched directory ('' is the root), for checks and diagnostics. */
  watchedPaths(): BytePath[] {
    return this.dirs.liveRefs().map((n) => this.dirs.pathOf(n));
  }

  /**
   * Watches the root and every directory beneath it. Events flow from the
   * moment each watch exists, so nothing created during the walk is missed.
   * Rejects when the root itself cannot be watched.
   */
  async start(): Promise<{ dirs: number; ms: number }> {
    const t0 = performance.now();
    const ino = new Inotify();
    this.inotify = ino;
    this.drainedAt = Date.now();
    ino.start(
      (events, drained) => this.shielded(() => this.onRaw(events, drained)),
      (err) =>
        this.emit('warning', {
          path: this.root,
          code: err.code ?? 'EIO',
          message: `reading inotify events failed: ${err.message}`,
        }),
    );
    let wd: number;
    try {
      wd = ino.addWatch(Buffer.from(this.root), MASK);
    } catch (e) {
      this.close();
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOSPC') throw new Error(limitMessage(this.root, readMaxUserWatches(), 0, 1));
      throw new Error(`cannot watch ${this.root}: ${err.code ?? err.message}`);
    }
    this.rootNode = this.dirs.add(NO_DIR, '', wd);
    this.leafDev = leafDevOf(this.root);
    this.walkCap = this.maxDirs;
    await this.walk([this.rootNode], null);
    this.walkCap = Number.POSITIVE_INFINITY;
    if (this.dirs.size > this.maxDirs)
      throw Object.assign(new Error(`${this.root} has more than ${this.maxDirs} directories`), {
        code: TOO_MANY_DIRS,
        dirs: this.dirs.size,
      });
    await this.reportLimit();
    return { dirs: this.dirs.size, ms: Math.round(performance.now() - t0) };
  }

  /**
   * Runs a step of the watcher that nothing else catches (an inotify read,
   * a timer, a walk in the background). An error there is a bug in it: it
   * must neither stop the daemon nor lose a change, so it is logged with
   * its stack and handled as lost events are, by a rescan of the tree and
   * the catch-up full sync that follows ('overflow').
   */
  private shielded(step: Promise<void> | (() => void)): void {
    const fail = (e: unknown) => {
      if (this.closed) return;
      const err = e as Error;
      this.emit('warning', {
        path: this.root,
        code: 'EINTERNAL',
        message: `the inotify watcher failed (${err.stack ?? err}); it rescans the tree and a full sync runs, so no change is lost`,
      } satisfies WatchWarning);
      this.onOverflow();
    };
    if (typeof step !== 'function') {
      step.catch(fail);
      return;
    }
    try {
      step();
    } catch (e) {
      fail(e);
    }
  }

  /** Stops watching; the fd is closed and every watch with it. */
  close(): void {
    this.closed = true;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.held.clear();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retries = [];
    if (this.recoverTimer) clearTimeout(this.recoverTimer);
    this.recoverTimer = null;
    this.unwatched.clear();
    this.unwatchedSince = null;
    this.inotify?.close();
    this.inotify = null;
    this.dirs = new DirTable();
    this.foundAt.clear();
    this.rootNode = NO_DIR;
  }

  // ---- tree bookkeeping ----------------------------------------------------

  private pathOf(node: DirRef): BytePath {
    return this.dirs.pathOf(node);
  }

  private abs(rel: BytePath): Buffer {
    return rel === '' ? Buffer.from(this.root) : Buffer.from(this.rootPrefix + rel, 'latin1');
  }

  private listKey(node: DirRef): string {
    return `l${this.dirs.wd(node)}`;
  }

  private watchKey(parent: DirRef, name: BytePath): string {
    return `w${this.dirs.wd(parent)}/${name}`;
  }

  private link(parent: DirRef, name: BytePath, wd: number, relink: boolean): DirRef | null {
    const dirs = this.dirs;
    const existing = dirs.byWd(wd);
    if (existing !== NO_DIR) {
      if (dirs.parent(existing) === parent && dirs.nameIs(existing, name)) return existing;
      // The same directory found somewhere else: renames we have not read yet
      // (they will move the node), or lost in an overflow (a rescan moves it
      // to where it is now). Never under its own subtree: our view may lag
      // the kernel's, and a cycle would make its path endless.
      if (existing === this.rootNode || dirs.within(parent, existing)) return null;
      if (!relink) {
        // Moved into a directory that was not watched yet: its IN_MOVED_TO
        // never comes, only the IN_MOVED_FROM we hold. The walk of the new
        // directory found it: that is where it went.
        const held = this.heldFor(existing);
        if (!held) {
          // Its IN_MOVED_FROM may still be in the kernel queue: remember where
          // it is, in case no IN_MOVED_TO follows (see reclaim)
          this.foundAt.set(existing, { parent, name });
          return null;
        }
        held.claimed = true;
      }
      this.foundAt.delete(existing);
      dirs.attach(existing, parent, name);
      return existing;
    }
    const old = dirs.child(parent, name);
    if (old !== NO_DIR) {
      // Another directory known under this name: it was moved or deleted and
      // we have not read those events yet (they will free the name, and the
      // IN_CREATE after them links this one), or, in a rescan, it is gone.
      if (!relink) return null;
      this.drop(old, true);
    }
    return dirs.add(parent, name, wd);
  }

  /** Forgets a directory and everything beneath it; `rm` also removes the kernel watches (moved out of the tree). */
  private drop(node: DirRef, rm: boolean): void {
    this.dirs.drop(node, (wd, n) => {
      if (this.foundAt.size > 0) this.foundAt.delete(n);
      if (rm) this.inotify?.rmWatch(wd);
    });
  }

  /**
   * Adds watches below `start` nodes. readdir runs synchronously, yielding to
   * the event loop every WALK_SLICE directories so events keep being read
   * during a long walk. Synchronous: measured on 100k directories, async
   * readdirs through libuv's thread pool cost ~25 MB more RSS (per-thread
   * malloc arenas) and were no faster on 2 cores. `seen` collects every
   * watched wd when reconciling after an overflow.
   */
  private async walk(start: DirRef[], seen: Set<number> | null): Promise<void> {
    const stack: DirRef[] = [...start];
    let n = 0;
    while (stack.length > 0 && !this.closed && this.dirs.size <= this.walkCap) {
      const node = stack.pop() as DirRef;
      for (const d of this.readDir(node, seen) ?? []) stack.push(d);
      if (++n % WALK_SLICE === 0) await new Promise((r) => setImmediate(r));
    }
  }

  /** Lists one watched directory and watches its subdirectories; returns them for the walk to descend, null when it could not be listed. */
  private readDir(node: DirRef, seen: Set<number> | null): DirRef[] | null {
    // forgotten while the walk waited (deleted, moved out): nothing to list
    if (this.closed || !this.dirs.live(node)) return [];
    const rel = this.pathOf(node);
    let names: BytePath[];
    try {
      names = subdirs(this.abs(rel), this.leafDev);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (failureKind(err.code) === 'gone' && this.unwatched.size > 0)
        this.unwatched.delete(this.listKey(node));
      if (err.code === 'ENOENT') this.retryLater({ node, tries: 0 });
      else this.failed({ kind: 'list', node, code: err.code ?? 'EIO' }, rel, err);
      return null;
    }
    if (this.unwatched.size > 0) this.unwatched.delete(this.listKey(node));
    const out: DirRef[] = [];
    for (const name of names) {
      const child = this.watchDir(node, name, seen, seen !== null, rel);
      if (child !== null) out.push(child);
    }
    return out;
  }

  /**
   * Watches one directory. `relink`: this name is known to be that directory
   * now (an event said so, or a rescan found it), so a stale node under the
   * name is replaced; a plain walk may be racing events not read yet and
   * leaves such conflicts to them.
   */
  private watchDir(
    parent: DirRef,
    name: BytePath,
    seen: Set<number> | null,
    relink: boolean,
    parentRel = this.pathOf(parent),
  ): DirRef | null {
    const rel = joinRel(parentRel, name);
    if (this.ignoreDir(rel) || !this.inotify) return null;
    let wd: number;
    try {
      wd = this.inotify.addWatch(this.abs(rel), MASK);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOSPC' && !this.unwatched.has(this.watchKey(parent, name)))
        this.overLimit.push(this.abs(rel));
      if (failureKind(err.code) === 'gone' && this.unwatched.size > 0)
        this.unwatched.delete(this.watchKey(parent, name));
      // a stale path (a rename above it not read yet) fails with ENOENT, or
      // with ENOTDIR once a file took the old parent's name: look again
      if (stalePath(err.code) && relink) this.retryLater({ parent, name, tries: 0 });
      else this.failed({ kind: 'watch', parent, name, code: err.code ?? 'EIO' }, rel, err);
      return null;
    }
    if (this.unwatched.size > 0) this.unwatched.delete(this.watchKey(parent, name));
    if (seen) {
      // Already watched and already where we found it: no need to descend again
      const already = seen.has(wd);
      seen.add(wd);
      if (already) return null;
    }
    return this.link(parent, name, wd, relink);
  }

  /**
   * A listing or a watch failed. Deleted or replaced meanwhile: its own
   * events say so. Anything else: it is unwatched until a retry round
   * succeeds (said once here; the `unwatched` alert says it while it lasts).
   */
  private failed(u: Unwatched, rel: BytePath, err: NodeJS.ErrnoException): void {
    if (failureKind(err.code) === 'gone') return;
    const key = u.kind === 'list' ? this.listKey(u.node) : this.watchKey(u.parent, u.name);
    const known = this.unwatched.get(key);
    if (known) {
      known.code = u.code;
      return;
    }
    this.unwatched.set(key, u);
    this.unwatchedSince ??= Date.now();
    this.scheduleRecovery();
    // the watch limit has its own message (reportLimit)
    if (u.code === 'ENOSPC') return;
    const path = display(rel) || '.';
    const what = u.kind === 'list' ? 'cannot list directory' : 'cannot watch directory';
    this.emit('warning', {
      path,
      code: u.code,
      message: `${what} ${path}: ${u.code}${hint(u.code)}; changes inside it are not seen until it can: retrying with backoff, then it is sent whole`,
    } satisfies WatchWarning);
  }

  /** What waits for a retry now (directories whose parent or self is gone meanwhile are not counted). */
  unwatchedSummary(): UnwatchedSummary {
    const codes = new Set<string>();
    const sample: string[] = [];
    let dirs = 0;
    for (const u of this.unwatched.values()) {
      if (!this.stillHere(u)) continue;
      dirs++;
      codes.add(u.code);
      // paths cost a walk up the tree: only for the few a message shows
      if (sample.length < 5) sample.push(display(this.unwatchedPath(u) ?? '') || '.');
    }
    return { dirs, since: dirs > 0 ? this.unwatchedSince : null, codes: [...codes].sort(), sample };
  }

  /** Whether a directory waiting for a retry still belongs to the tree we watch (its node or its parent is). */
  private stillHere(u: Unwatched): boolean {
    return this.dirs.live(u.kind === 'list' ? u.node : u.parent);
  }

  /** The relative path of a directory waiting for a retry, or null when it no longer belongs to the tree we watch. */
  private unwatchedPath(u: Unwatched): BytePath | null {
    if (!this.stillHere(u)) return null;
    return u.kind === 'list' ? this.pathOf(u.node) : joinRel(this.pathOf(u.parent), u.name);
  }

  private scheduleRecovery(): void {
    if (this.recoverTimer || this.recovering || this.closed) return;
    this.recoverTimer = setTimeout(() => this.shielded(this.recover()), retryDelayMs(this.recoverAttempt));
  }

  /**
   * One retry round: lists or watches again each directory that failed,
   * stopping at the first shortage (fds, memory, watches: the rest would fail
   * alike), walks beneath those that came back, and sends each of them whole.
   */
  private async recover(): Promise<void> {
    this.recoverTimer = null;
    this.recovering = true;
    const back: DirRef[] = [];
    const walkFrom: DirRef[] = [];
    let root = false;
    for (const [key, u] of [...this.unwatched]) {
      if (this.closed) return;
      const rel = this.unwatchedPath(u);
      if (rel === null || this.ignoreDir(rel)) {
        this.unwatched.delete(key); // deleted, moved out or excluded meanwhile: nothing to watch
        continue;
      }
      if (u.kind === 'list') {
        const children = this.readDir(u.node, null);
        if (children) {
          back.push(u.node);
          walkFrom.push(...children);
          if (u.node === this.rootNode) root = true;
        }
      } else {
        const node = this.watchDir(u.parent, u.name, null, true);
        if (node !== null) {
          back.push(node);
          walkFrom.push(node);
        }
      }
      const still = this.unwatched.get(key);
      if (still && stopsRound(still.code)) break;
    }
    await this.walk(walkFrom, null);
    this.recovering = false;
    if (this.closed) return;
    this.shielded(this.reportLimit());
    const out: FsEvent[] = back
      .filter((n) => n !== this.rootNode && this.dirs.live(n))
      .map((n) => ({ kind: 'upsertTree', path: this.pathOf(n), isDir: true }));
    if (out.length > 0) this.emit('events', out);
    this.recovered.dirs += back.length;
    this.recovered.root ||= root;
    const left = this.unwatchedSummary().dirs;
    if (left === 0) this.unwatched.clear();
    const next = afterRound(this.recoverAttempt, { left, progressed: back.length > 0 });
    if (next.kind === 'retry') {
      this.recoverAttempt = next.attempt;
      this.scheduleRecovery();
      return;
    }
    const info: RecoveredInfo = { since: this.unwatchedSince ?? Date.now(), ...this.recovered };
    this.unwatchedSince = null;
    this.recoverAttempt = 0;
    this.recovered = { dirs: 0, root: false };
    this.emit('recovered', info);
  }

  private async reportLimit(): Promise<void> {
    if (this.overLimit.length === 0) return;
    const missing = this.overLimit;
    this.overLimit = [];
    // Count what the limit left out, so the message can say how much is needed
    let more = 0;
    const stack = [...missing];
    while (stack.length > 0 && !this.closed) {
      const dir = stack.pop() as Buffer;
      more++;
      try {
        for (const e of await readdir(dir, { withFileTypes: true, encoding: 'buffer' }))
          if (e.isDirectory()) stack.push(Buffer.concat([dir, Buffer.from('/'), e.name]));
      } catch {
        // gone meanwhile
      }
    }
    if (this.closed) return;
    const max = readMaxUserWatches();
    const watched = this.dirs.size;
    const needed = watched + more;
    this.emit('watchLimit', {
      message: limitMessage(this.root, max, watched, needed),
      maxUserWatches: max,
      watched,
      needed,
    } satisfies WatchLimitInfo);
  }

  // ---- events ----------------------------------------------------------------

  private onRaw(raw: RawEvent[], drained: boolean): void {
    if (this.closed) return;
    // every event of this read was queued after the last read that emptied the
    // queue (give or take the microseconds between that read and this clock)
    const info: BatchInfo = { since: this.drainedAt };
    if (drained) this.drainedAt = Date.now();
    const out: FsEvent[] = [];
    const newDirs: Array<{ node: DirRef; move?: { from: BytePath; cookie: number } }> = [];
    const dirs = this.dirs;
    for (const ev of raw) {
      if (ev.mask & IN.IN_Q_OVERFLOW) {
        this.onOverflow();
        continue;
      }
      const node = dirs.byWd(ev.wd);
      if (node === NO_DIR) continue; // a watch we already dropped
      if (ev.mask & IN.IN_IGNORED) {
        // The kernel removed the watch (directory deleted, or unmounted)
        if (node === this.rootNode) {
          this.rootGone('deleted');
          return;
        }
        this.foundAt.delete(node);
        dirs.detach(node);
        continue;
      }
      if (ev.mask & (IN.IN_DELETE_SELF | IN.IN_MOVE_SELF | IN.IN_UNMOUNT)) {
        if (node === this.rootNode) {
          this.rootGone(
            ev.mask & IN.IN_DELETE_SELF ? 'deleted' : ev.mask & IN.IN_MOVE_SELF ? 'moved away' : 'unmounted',
          );
          return;
        }
        continue; // a subdirectory: its parent reports it by name
      }
      const isDir = (ev.mask & IN.IN_ISDIR) !== 0;
      const rel = joinRel(this.pathOf(node), ev.name);
      if (ev.mask & IN.IN_MOVED_FROM) {
        this.held.set(ev.cookie, { node, name: ev.name, path: rel, isDir, at: Date.now() });
        continue;
      }
      if (ev.mask & IN.IN_MOVED_TO) {
        const from = this.held.get(ev.cookie);
        if (from) {
          this.held.delete(ev.cookie);
          const fromRel = this.heldPath(from);
          let inode: string | undefined;
          if (isDir) {
            const moved = dirs.child(from.node, from.name);
            if (moved !== NO_DIR && !this.ignoreDir(rel) && !dirs.within(node, moved)) {
              inode = this.inodeOf(moved, rel);
              dirs.unlink(moved);
              const old = dirs.child(node, ev.name);
              if (old !== NO_DIR && old !== moved) this.drop(old, true);
              this.foundAt.delete(moved);
              dirs.attach(moved, node, ev.name);
            } else {
              if (moved !== NO_DIR) this.drop(moved, true);
              // from an unwatched (excluded) place: watch it now, then send it
              const child = this.ignoreDir(rel) ? null : this.watchDir(node, ev.name, null, true);
              if (child !== null) {
                newDirs.push({ node: child, move: { from: fromRel, cookie: ev.cookie } });
                continue;
              }
            }
          }
          out.push({
            kind: 'move',
            path: rel,
            from: fromRel,
            isDir,
            cookie: ev.cookie,
            ...(inode !== undefined ? { inode } : {}),
          });
          continue;
        }
        // moved in from outside the tree
        if (isDir) {
          const child = this.watchDir(node, ev.name, null, true);
          if (child !== null) newDirs.push({ node: child });
          else out.push({ kind: 'upsertTree', path: rel, isDir: true });
        } else out.push({ kind: 'upsert', path: rel, isDir: false });
        continue;
      }
      if (ev.mask & IN.IN_CREATE) {
        if (isDir) {
          const child = this.watchDir(node, ev.name, null, true);
          if (child !== null) newDirs.push({ node: child });
          else out.push({ kind: 'upsertTree', path: rel, isDir: true });
        } else {
          const links = this.completeOnCreate(rel);
          if (links === null) out.push({ kind: 'write', path: rel, isDir: false });
          else out.push({ kind: 'upsert', path: rel, isDir: false, ...(links > 1 ? { links } : {}) });
        }
        continue;
      }
      if (ev.mask & IN.IN_CLOSE_WRITE) out.push({ kind: 'upsert', path: rel, isDir: false });
      else if (ev.mask & IN.IN_DELETE) {
        if (isDir) {
          const gone = dirs.child(node, ev.name);
          if (gone !== NO_DIR) this.drop(gone, false);
          else if (this.unwatched.size > 0) this.unwatched.delete(this.watchKey(node, ev.name));
        }
        out.push({ kind: 'delete', path: rel, isDir });
      } else if (ev.mask & IN.IN_ATTRIB) out.push({ kind: 'upsert', path: rel, isDir });
      else if (ev.mask & IN.IN_MODIFY) out.push({ kind: 'write', path: rel, isDir: false });
    }
    if (out.length > 0) this.emit('events', out, info);
    if (newDirs.length > 0) this.shielded(this.sendNewDirs(newDirs, info));
    if (this.held.size > 0 && !this.holdTimer)
      this.holdTimer = setTimeout(() => this.shielded(() => this.expireHeld()), this.moveHoldMs);
  }

  /**
   * A regular file is complete on IN_CLOSE_WRITE, but a symlink, fifo or
   * socket never closes, and a new hard link is never written: for those,
   * IN_CREATE is the only event. A created regular file with one link is
   * either being written (its IN_CLOSE_WRITE follows) or a hard link whose
   * other name is already gone (git writes objects as link(tmp, name) then
   * unlink(tmp)): it is reported as a write, which the coalescer sends at
   * the close or at max_wait_ms, so neither case is lost. Returns the link
   * count of a complete entry, null for one still being written.
   */
  private completeOnCreate(rel: BytePath): number | null {
    try {
      const st = lstatSync(this.abs(rel));
      return !st.isFile() || st.nlink > 1 ? st.nlink : null;
    } catch {
      return null; // already gone: its IN_DELETE follows
    }
  }

  /**
   * The "dev:ino" of the directory now at `rel`, if it is the one `node`
   * watches: inotify gives an inode one watch descriptor, so adding a watch
   * on the path returns node's wd only for the same directory. The stat on
   * each side of it must agree, or something took the name meanwhile.
   * undefined: not sure (a move's transfer then sends normally).
   */
  private inodeOf(node: DirRef, rel: BytePath): string | undefined {
    if (!this.inotify) return undefined;
    try {
      const before = lstatSync(this.abs(rel), { bigint: true });
      const wd = this.inotify.addWatch(this.abs(rel), MASK);
      if (wd !== this.dirs.wd(node)) {
        if (this.dirs.byWd(wd) === NO_DIR) this.inotify.rmWatch(wd);
        return undefined;
      }
      const after = lstatSync(this.abs(rel), { bigint: true });
      if (before.dev !== after.dev || before.ino !== after.ino) return undefined;
      return `${after.dev}:${after.ino}`;
    } catch {
      return undefined;
    }
  }

  /** New or moved-in directories: watch everything beneath first, then send each whole tree. */
  private async sendNewDirs(
    dirs: Array<{ node: DirRef; move?: { from: BytePath; cookie: number } }>,
    info: BatchInfo,
  ): Promise<void> {
    await this.walk(
      dirs.map((d) => d.node),
      null,
    );
    if (this.closed) return;
    this.shielded(this.reportLimit());
    const out: FsEvent[] = [];
    for (const d of dirs) {
      if (!this.dirs.live(d.node)) {
        // deleted or moved out again while we walked it; those events said so
        continue;
      }
      const path = this.pathOf(d.node);
      if (d.move) out.push({ kind: 'move', path, from: d.move.from, isDir: true, cookie: d.move.cookie });
      else out.push({ kind: 'upsertTree', path, isDir: true });
    }
    if (out.length > 0) this.emit('events', out, info);
  }

  private retryLater(
    r: { parent: DirRef; name: BytePath; tries: number } | { node: DirRef; tries: number },
  ): void {
    this.retries.push(r);
    // a timer, not a microtask: the renames that explain the stale path are
    // still in the kernel queue and must be read first
    if (!this.retryTimer) this.retryTimer = setTimeout(() => this.shielded(this.runRetries()), 10);
  }

  private async runRetries(): Promise<void> {
    this.retryTimer = null;
    const batch = this.retries;
    this.retries = [];
    const walkFrom: DirRef[] = [];
    const again: typeof batch = [];
    for (const r of batch) {
      if (this.closed) return;
      if ('node' in r) {
        // a watched directory we could not list: list it again under its current path
        if (this.dirs.live(r.node)) walkFrom.push(r.node);
        continue;
      }
      if (!this.dirs.live(r.parent) || !this.inotify) continue; // the parent is gone: so is it
      const rel = joinRel(this.pathOf(r.parent), r.name);
      if (this.ignoreDir(rel)) continue;
      try {
        const wd = this.inotify.addWatch(this.abs(rel), MASK);
        const node = this.link(r.parent, r.name, wd, true);
        if (node !== null) walkFrom.push(node);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // still not there after the events ahead of it: it was deleted or moved on, and those events say so
        if (stalePath(code) && r.tries < 20) again.push({ ...r, tries: r.tries + 1 });
        else if (!stalePath(code))
          this.failed(
            { kind: 'watch', parent: r.parent, name: r.name, code: code ?? 'EIO' },
            rel,
            e as NodeJS.ErrnoException,
          );
      }
    }
    for (const r of again) this.retryLater(r);
    if (walkFrom.length === 0) return;
    await this.walk(walkFrom, null);
    if (this.closed) return;
    // whatever was created in them before the watch existed goes now
    const out: FsEvent[] = walkFrom
      .filter((n) => this.dirs.live(n))
      .map((n) => ({ kind: 'upsertTree', path: this.pathOf(n), isDir: true }));
    if (out.length > 0) this.emit('events', out);
  }

  private heldFor(node: DirRef): HeldMove | undefined {
    for (const h of this.held.values())
      if (h.isDir && !h.claimed && this.dirs.child(h.node, h.name) === node) return h;
    return undefined;
  }

  /** Where a held entry was: through its directory's current path while that is known. */
  private heldPath(h: HeldMove): BytePath {
    return this.dirs.known(h.node) ? joinRel(this.pathOf(h.node), h.name) : h.path;
  }

  /**
   * A directory whose IN_MOVED_FROM expired unpaired, but which a walk had
   * found elsewhere in the tree before that event was read: it was renamed
   * into a directory whose watch was added just after the rename (so no
   * IN_MOVED_TO), and its watch must stay. Moves the node there when the
   * kernel confirms that name is still this directory; returns its new path,
   * or null when it really left the tree.
   */
  private reclaim(node: DirRef): BytePath | null {
    const found = this.foundAt.get(node);
    this.foundAt.delete(node);
    if (!found || !this.inotify) return null;
    const { parent, name } = found;
    const dirs = this.dirs;
    if (!dirs.live(parent) || dirs.within(parent, node)) return null;
    const rel = joinRel(this.pathOf(parent), name);
    let wd: number;
    try {
      wd = this.inotify.addWatch(this.abs(rel), MASK);
    } catch {
      return null; // moved on or deleted since the walk
    }
    if (wd !== dirs.wd(node)) {
      // another directory took that name: it is watched through its own events
      if (dirs.byWd(wd) === NO_DIR) this.inotify.rmWatch(wd);
      return null;
    }
    dirs.unlink(node);
    const old = dirs.child(parent, name);
    if (old !== NO_DIR && old !== node) this.drop(old, false);
    dirs.attach(node, parent, name);
    return rel;
  }

  /** IN_MOVED_FROM without its IN_MOVED_TO: the entry left the tree. */
  private expireHeld(): void {
    this.holdTimer = null;
    if (this.closed) return;
    const now = Date.now();
    const out: FsEvent[] = [];
    for (const [cookie, h] of this.held) {
      if (now - h.at < this.moveHoldMs) continue;
      this.held.delete(cookie);
      const rel = this.heldPath(h);
      if (h.isDir && !h.claimed) {
        const gone = this.dirs.child(h.node, h.name);
        const found = gone !== NO_DIR ? this.reclaim(gone) : null;
        if (found !== null) {
          out.push({ kind: 'delete', path: rel, isDir: true });
          // events inside it since the walk carried the old path: send it whole
          out.push({ kind: 'upsertTree', path: found, isDir: true });
          continue;
        }
        if (gone !== NO_DIR) this.drop(gone, true);
      }
      out.push({ kind: 'delete', path: rel, isDir: h.isDir });
    }
    if (out.length > 0) this.emit('events', out);
    if (this.held.size > 0)
      this.holdTimer = setTimeout(() => this.shielded(() => this.expireHeld()), this.moveHoldMs);
  }

  private rootGone(reason: string): void {
    if (this.closed) return;
    this.emit('rootGone', { reason });
  }

  /**
   * The kernel dropped events. Directories created or renamed meanwhile may
   * be unwatched or known under an old name: walk the whole tree again,
   * re-linking every watch where it is now and dropping those that are gone,
   * and only then report the overflow so the catch-up sync starts with every
   * directory watched. Events keep flowing during the walk.
   */
  private onOverflow(): void {
    if (this.rescanning) {
      this.rescanAgain = true;
      return;
    }
    this.rescanning = (async () => {
      try {
        do {
          this.rescanAgain = false;
          await this.rescan();
        } while (this.rescanAgain && !this.closed);
      } catch (e) {
        // the catch-up full sync still runs: it sends what changed, if not what stays unwatched
        if (!this.closed)
          this.emit('warning', {
            path: this.root,
            code: 'EINTERNAL',
            message: `the inotify watcher's rescan failed (${(e as Error).stack ?? e}); a full sync runs`,
          } satisfies WatchWarning);
      }
      this.rescanning = null;
      if (!this.closed) this.emit('overflow');
    })();
  }

  private async rescan(): Promise<void> {
    const root = this.rootNode;
    if (root === NO_DIR || this.closed) return;
    // Moves pending pairing are stale: their partners may be lost
    this.held.clear();
    const seen = new Set<number>([this.dirs.wd(root)]);
    await this.walk([root], seen);
    if (this.closed) return;
    for (const node of this.dirs.liveRefs()) {
      // a directory dropped with one before it in this loop is not live any more
      if (this.dirs.live(node) && !seen.has(this.dirs.wd(node))) this.drop(node, true);
    }
    await this.reportLimit();
  }
}

/**
 * The watch limit in force for this process: fs.inotify.max_user_watches,
 * which /proc/sys/user/max_inotify_watches mirrors per user namespace (a
 * container may have a lower one). Null where /proc does not say.
 */
export function readMaxUserWatches(): number | null {
  for (const file of ['/proc/sys/user/max_inotify_watches', '/proc/sys/fs/inotify/max_user_watches']) {
    try {
      return Number.parseInt(readFileSync(file, 'utf8'), 10);
    } catch {
      // older kernels have only the second
    }
  }
  return null;
}

/** What an operator can do about a listing or watch failure, by errno. */
function hint(code: string): string {
  switch (code) {
    case 'EACCES':
      return ' (syncward needs read and execute permission on every directory of the source)';
    case 'EMFILE':
      return ' (this process ran out of file descriptors: raise LimitNOFILE / ulimit -n, or find what holds them: ls /proc/<pid>/fd)';
    case 'ENFILE':
      return ' (the system-wide file table is full: fs.file-max)';
    case 'ENOMEM':
      return ' (out of kernel memory)';
    default:
      return '';
  }
}

function limitMessage(root: string, max: number | null, watched: number, needed: number): string {
  return (
    `cannot watch every directory under ${root}: the kernel limit fs.inotify.max_user_watches is ${max ?? 'unknown'} ` +
    `(shared by every inotify user of this uid); ${watched} are watched here and ${needed} directories need watching. ` +
    `Changes in unwatched directories are only caught by full syncs. Raise it: ` +
    `sysctl -w fs.inotify.max_user_watches=${suggestMaxUserWatches(needed)} (and in /etc/sysctl.d/ to keep it).`
  );
}
