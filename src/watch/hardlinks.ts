import { EventEmitter } from 'node:events';
import { type Dirent, lstatSync, readdirSync } from 'node:fs';
import { type BytePath, joinRel, toFs } from '../util/bytes.js';
import type { BatchInfo, FsEvent } from './types.js';
import { VanishedNames } from './vanished.js';

/** ctime comes from a clock that may lag Date.now() by a tick: a sweep looks this much further back */
const SWEEP_SLACK_MS = 1_000;
/**
 * A sweep walks the whole tree: the next begins no sooner than SWEEP_GAP_MS,
 * nor than SWEEP_DUTY times the last whole walk, after it. Short-lived temp
 * files (a name written, then deleted before its events were read) ask for
 * sweeps all the time on a busy tree; this keeps them to about a tenth of
 * one core at most, whatever the tree's size.
 */
const SWEEP_GAP_MS = 2_000;
const SWEEP_DUTY = 9;
/** a walk works this long between turns of the event loop */
const WALK_SLICE_MS = 10;
/** the name is gone: lstat found nothing there */
const GONE = Symbol('gone');

/**
 * Hard links made live. rsync's -H links names only within one transfer's
 * file list: `ln a b` sent as "b" alone arrives as a copy of a. So every
 * upsert of a file with more than one link brings the other names of its
 * inode into the same batch, and rsync links them on the target.
 *
 * Only files with more than one link are remembered (inode → names). A
 * group whose names are not all known (a new link to a file that had one
 * link, or a tree made by `cp -al`) is completed by a scan of the source
 * tree, one at a time, after which the whole group is emitted as upserts
 * ('events'). The first scan runs at start, in the background.
 *
 * A change made through a name that is gone before anyone could look at it
 * (`ln a d/b; chown x d/b; rm -r d`, all before the events are read) shows
 * only in the inode's other names. fanotify names the inode by the event's
 * object handle (BatchInfo.unseen): a scan finds its names. inotify names
 * nothing: a name changed then deleted, or a new directory gone before its
 * scan, makes the next whole walk a sweep, which sends every file whose
 * ctime is later than the events that told of it (BatchInfo.since). A name
 * that lives and dies inside a new directory before its watch exists, in a
 * directory that stays, leaves no trace inotify could give.
 */
export class HardLinks extends EventEmitter {
  private readonly names = new Map<string, Set<BytePath>>();
  private readonly inodeOf = new Map<BytePath, string>();
  /** inodes whose names a scan must complete, then emit */
  private wanted = new Set<string>();
  /** subtrees new to the tree (upsertTree, moved-in directories) to look into for linked files, and since when they exist */
  private trees: Array<{ path: BytePath; since?: number }> = [];
  private scanning: Promise<void> | null = null;
  private fullScanDue = false;
  private closed = false;
  /** names added or moved while a scan walks (null when none runs) */
  private touched: Set<BytePath> | null = null;
  /** names changed while gone, waiting for the delete that says a sweep is due */
  private readonly vanished = new VanishedNames();
  /** a sweep is due for changes after this time (ms since the epoch), or null */
  private sweepSince: number | null = null;
  /** the last whole walk: when it ended and how long it took (a sweep waits after it) */
  private lastFull = { end: 0, ms: 0 };
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly root: string,
    private readonly excludes: (rel: BytePath, isDir: boolean) => boolean,
  ) {
    super();
  }

  /** Scans the whole tree once in the background, so groups that exist before the start are known. */
  start(): void {
    this.fullScanDue = true;
    this.kick();
  }

  close(): void {
    this.closed = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** Files with more than one link remembered (for status and tests). */
  get size(): number {
    return this.inodeOf.size;
  }

  /**
   * The events, plus an upsert of every other known name of each linked
   * file among them. Paths are as the watcher reports them (before the
   * filter, which drops excluded partners with the rest). `info` tells of
   * changes the watcher could not name (see the class comment).
   */
  expand(events: readonly FsEvent[], info: BatchInfo = {}): FsEvent[] {
    const out = [...events];
    const listed = new Set<BytePath>();
    for (const e of events) if (e.kind !== 'delete') listed.add(e.path);
    // a name not known as linked is looked at once per batch: a file linked
    // elsewhere by a name we never saw (moved into a new directory, say) may be
    // written through this one and the name deleted before any scan finds it
    const looked = new Map<BytePath, string | undefined | typeof GONE>();
    const keyOf = (e: FsEvent) => {
      const known = this.inodeOf.get(e.path);
      if (known !== undefined) return known;
      if (!looked.has(e.path)) looked.set(e.path, this.learn(e.path, e.links ?? 2));
      return looked.get(e.path);
    };
    const partners = (key: string | undefined | typeof GONE) => {
      if (typeof key !== 'string') return;
      for (const n of this.live(key)) {
        if (listed.has(n)) continue;
        listed.add(n);
        out.push({ kind: 'upsert', path: n, isDir: false });
      }
    };
    const now = Date.now();
    this.vanished.prune(now);
    for (const key of info.unseen ?? []) {
      // changed through a name that is gone: its known names go now, else a scan finds them
      if (this.names.has(key)) partners(key);
      else this.want(key);
    }
    for (const e of events) {
      switch (e.kind) {
        case 'delete': {
          // a name changed, then deleted before it was looked at: which file it was, only a sweep can tell
          const since = this.vanished.deleted(e.path, e.isDir);
          if (since !== undefined) this.sweep(since);
          this.forget(e.path, e.isDir);
          break;
        }
        case 'move': {
          const since = e.from === undefined ? undefined : this.vanished.moved(e.from, e.isDir);
          if (e.from !== undefined) this.rename(e.from, e.path, e.isDir);
          // a renamed file keeps its links: look, in case its group is not known yet
          if (e.isDir) this.newTree(e.path, info.since);
          else {
            const key = this.inodeOf.get(e.path) ?? this.learn(e.path, 2);
            // renamed on before it was looked at: the last name's fate decides
            if (key === GONE && since !== undefined) this.vanished.changed(e.path, since, now);
            partners(key);
          }
          break;
        }
        case 'upsertTree':
          this.newTree(e.path, info.since);
          break;
        case 'upsert': {
          if (e.isDir) break;
          const key = keyOf(e);
          // inotify cannot say which file a gone name was: its delete or rename will
          if (key === GONE && info.since !== undefined) this.vanished.changed(e.path, info.since, now);
          partners(key);
          break;
        }
        case 'write':
          // learned while it is written, so its group is complete by the close
          keyOf(e);
          break;
      }
    }
    this.kick();
    return out;
  }

  /**
   * The other known names of the linked files a transfer is about to send,
   * that it does not send: rsync -H links only names in one file list, and
   * a batch is what its target's queue had ready, not what a group needs. A
   * name emitted with its group can still go apart from it: one name joins
   * a tree transfer that is not ready yet (a `cp -al` copy) while the others
   * are ready now, or a retry sends the one name that failed. So each batch
   * is completed here, just before it goes:
   * - an upsert of a linked file brings the group's other live names;
   * - a tree transfer brings the names outside it of the linked files inside.
   * Names a scan has not found yet are not known: the scan sends them later,
   * with the whole group. Deletes bring nothing. Pure but for lstat calls on
   * the groups concerned (a stale name is dropped, as in expand).
   */
  companions(changes: readonly { path: BytePath; op: string }[]): BytePath[] {
    if (this.inodeOf.size === 0) return [];
    const sent = new Set<BytePath>();
    const trees = new Set<BytePath>();
    for (const c of changes)
      if (c.op === 'upsertTree') trees.add(c.path);
      else if (c.op !== 'delete') sent.add(c.path);
    // a name the batch sends already: listed, or beneath a tree it recurses
    const inBatch = (p: BytePath): boolean => {
      if (sent.has(p) || trees.has('')) return true;
      for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1))
        if (trees.has(p.slice(0, i))) return true;
      return false;
    };
    const keys = new Set<string>();
    for (const p of sent) {
      const key = this.inodeOf.get(p);
      if (key !== undefined) keys.add(key);
    }
    if (trees.size > 0 && !trees.has(''))
      for (const [p, key] of this.inodeOf) if (!keys.has(key) && inBatch(p)) keys.add(key);
    const out: BytePath[] = [];
    for (const key of keys) for (const n of this.live(key)) if (!inBatch(n)) out.push(n);
    // a stale name makes its group wanted: a scan finds the rest
    this.kick();
    return out;
  }

  /**
   * A name the watcher saw created with more than one link: remember it; a
   * scan finds the names not known yet. Returns its inode's key, undefined
   * for a file with one link or not a file, GONE when nothing is there.
   */
  private learn(path: BytePath, links: number | undefined): string | undefined | typeof GONE {
    if (links === undefined || links < 2) return undefined;
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(this.abs(path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR' ? GONE : undefined;
    }
    if (!st.isFile() || st.nlink < 2) return undefined;
    const key = `${st.dev}:${st.ino}`;
    this.add(key, path);
    if (this.live(key).size < st.nlink) {
      this.wanted.add(key);
      this.fullScanDue = true;
    }
    return key;
  }

  /**
   * The group's names that are still this inode. A name can outlive its
   * file here (a scan that read it before its delete), and a group that
   * looks complete with a stale name would never look for the real one.
   */
  private live(key: string): Set<BytePath> {
    const set = this.names.get(key) ?? new Set<BytePath>();
    let stale = false;
    for (const p of [...set])
      if (this.keyAt(p) !== key) {
        this.forget(p, false);
        stale = true;
      }
    if (stale) {
      // the names this group has now are not known: the next full scan finds them, then sends the group
      this.wanted.add(key);
      this.fullScanDue = true;
    }
    return this.names.get(key) ?? new Set<BytePath>();
  }

  private keyAt(path: BytePath): string | undefined {
    try {
      const st = lstatSync(this.abs(path));
      return st.isFile() ? `${st.dev}:${st.ino}` : undefined;
    } catch {
      return undefined;
    }
  }

  private newTree(path: BytePath, since: number | undefined): void {
    this.trees.push(since === undefined ? { path } : { path, since });
  }

  /** A file changed through a name that is gone, its names unknown: the next full scan finds them and sends them. */
  private want(key: string): void {
    this.wanted.add(key);
    this.fullScanDue = true;
  }

  /** Changes after `since` may have been made through names nobody saw: the next whole walk sends what changed since. */
  private sweep(since: number): void {
    this.sweepSince = Math.min(since, this.sweepSince ?? since);
  }

  /** How long a sweep on its own must still wait (<= 0: it may start): a whole walk is not repeated back to back. */
  private sweepWait(now: number): number {
    return this.lastFull.end + Math.max(SWEEP_GAP_MS, SWEEP_DUTY * this.lastFull.ms) - now;
  }

  private add(key: string, path: BytePath): void {
    this.touched?.add(path);
    const old = this.inodeOf.get(path);
    if (old === key) return;
    if (old !== undefined) this.names.get(old)?.delete(path);
    this.inodeOf.set(path, key);
    let set = this.names.get(key);
    if (!set) this.names.set(key, (set = new Set()));
    set.add(path);
  }

  private forget(path: BytePath, isDir: boolean): void {
    const drop = (p: BytePath) => {
      const key = this.inodeOf.get(p);
      if (key === undefined) return;
      this.inodeOf.delete(p);
      const set = this.names.get(key);
      set?.delete(p);
      if (set && set.size === 0) this.names.delete(key);
    };
    drop(path);
    if (isDir) for (const p of this.beneath(path)) drop(p);
  }

  private rename(from: BytePath, to: BytePath, isDir: boolean): void {
    const moves: Array<[BytePath, BytePath]> = [];
    if (this.inodeOf.has(from)) moves.push([from, to]);
    if (isDir) for (const p of this.beneath(from)) moves.push([p, `${to}${p.slice(from.length)}`]);
    for (const [a, b] of moves) {
      const key = this.inodeOf.get(a) as string;
      this.forget(a, false);
      this.add(key, b);
    }
  }

  private beneath(dir: BytePath): BytePath[] {
    const prefix = dir === '' ? '' : `${dir}/`;
    return [...this.inodeOf.keys()].filter((p) => p.startsWith(prefix));
  }

  /** Starts the next scan if one is due and none runs. */
  private kick(): void {
    if (this.scanning || this.closed) return;
    if (!this.fullScanDue && this.trees.length === 0) {
      if (this.sweepSince === null) return;
      const wait = this.sweepWait(Date.now());
      if (wait > 0) {
        this.sweepTimer ??= setTimeout(() => {
          this.sweepTimer = null;
          this.kick();
        }, wait).unref();
        return;
      }
    }
    this.scanning = this.scan().finally(() => {
      this.scanning = null;
      this.kick();
    });
  }

  /**
   * One scan: the whole tree if a group is incomplete (or at start), else
   * just the new subtrees. Then each group that was wanted, or that has a
   * name in a new subtree and another outside it (`cp -al`) or in another
   * new subtree, is emitted whole, so the next batch links its names on the
   * targets.
   *
   * Events keep coming while a scan walks: a name learned meanwhile may lie
   * in a directory the walk had already passed. Such names are not
   * forgotten by a full scan, and a group wanted only since the scan began
   * waits for the next one (its other name may have been walked while it
   * had one link).
   */
  private async scan(): Promise<void> {
    const started = Date.now();
    const newTrees = this.trees;
    this.trees = [];
    // a new directory already gone: what was linked into it, and changed through those names, is not known
    for (const t of newTrees) if (t.since !== undefined && !this.isDir(t.path)) this.sweep(t.since);
    const sweepFrom =
      this.sweepSince !== null && (this.fullScanDue || this.sweepWait(started) <= 0) ? this.sweepSince : null;
    if (sweepFrom !== null) this.sweepSince = null;
    const full = this.fullScanDue || sweepFrom !== null;
    this.fullScanDue = false;
    const wantedBefore = new Set(this.wanted);
    this.touched = new Set();
    const found = new Map<string, { nlink: number; paths: BytePath[] }>();
    const swept: BytePath[] = [];
    const sweep = sweepFrom === null ? undefined : { from: sweepFrom - SWEEP_SLACK_MS, paths: swept };
    if (full) await this.walk('', found, wantedBefore, sweep);
    else
      for (const t of newTrees) {
        const vanished = await this.walk(t.path, found, wantedBefore);
        if (vanished && t.since !== undefined) this.sweep(t.since);
      }
    if (full) this.lastFull = { end: Date.now(), ms: Date.now() - started };
    const touched = this.touched;
    this.touched = null;
    if (this.closed) return;
    // groups a name joined while the walk ran: the walk's link count may predate it
    const changedMeanwhile = new Set<string>();
    for (const p of touched) {
      const key = this.inodeOf.get(p);
      if (key !== undefined) changedMeanwhile.add(key);
    }
    const treeOf = (p: BytePath) =>
      newTrees.find((t) => t.path === '' || p === t.path || p.startsWith(`${t.path}/`));
    const emit = new Set<string>();
    const dissolved: BytePath[] = [];
    for (const [key, f] of found) {
      if (f.nlink < 2 && changedMeanwhile.has(key)) {
        // `ln a b` while the walk read a with one link: the next scan counts again
        this.wanted.add(key);
        continue;
      }
      if (f.nlink < 2) {
        // a wanted group back to one name (`ln a b; echo x > b; rm b`): what
        // was written through the other name is this file's content now, and
        // only this scan can name it; a file with one link is not remembered
        if (wantedBefore.has(key)) dissolved.push(...f.paths.filter((p) => this.keyAt(p) === key));
        for (const p of [...(this.names.get(key) ?? [])]) this.forget(p, false);
        continue;
      }
      // a full scan read every name: the group is what it found, and what changed meanwhile
      if (full)
        for (const p of [...(this.names.get(key) ?? [])])
          if (!f.paths.includes(p) && !touched.has(p)) this.forget(p, false);
      // a name read by the walk may be gone by now (deleted or renamed meanwhile)
      for (const p of f.paths) if (this.keyAt(p) === key) this.add(key, p);
      const group = this.names.get(key) ?? new Set();
      if (group.size < f.nlink && !full) {
        // linked to a name outside the new subtree that is not known yet
        this.wanted.add(key);
        this.fullScanDue = true;
      } else if (f.paths.some((p) => treeOf(p) !== undefined) && new Set([...group].map(treeOf)).size > 1)
        // a name in a new tree and another elsewhere (or in another new tree, sent
        // in another transfer): only one list with both names links them
        emit.add(key);
    }
    if (full)
      for (const key of wantedBefore) {
        // the walk saw the tree as it was when this group was wanted: emit what is known
        // (a group that changed meanwhile stays wanted: the next scan sends it whole)
        if (!changedMeanwhile.has(key)) this.wanted.delete(key);
        emit.add(key);
      }
    if (this.wanted.size > 0) this.fullScanDue = true;
    const events: FsEvent[] = dissolved.map((p) => ({ kind: 'upsert', path: p, isDir: false }));
    for (const key of emit)
      for (const p of this.names.get(key) ?? []) events.push({ kind: 'upsert', path: p, isDir: false });
    // what a sweep found is sent as written: at its close if it is still being written, else within max_wait_ms
    const sent = new Set(events.map((e) => e.path));
    for (const p of swept) if (!sent.has(p)) events.push({ kind: 'write', path: p, isDir: false });
    if (events.length > 0) this.emit('events', events);
  }

  /**
   * Lists the files beneath `rel` with more than one link, or of a `wanted`
   * inode, and with `sweep`, every file whose ctime is `sweep.from` or later
   * (excluded paths left out). Returns whether a directory vanished before
   * it was read.
   *
   * Synchronous calls in slices of WALK_SLICE_MS, not one await per entry:
   * on a loaded host each await waits for the event loop's next turn, and a
   * walk of a few hundred files took minutes (a relay test at load 20 had
   * a group unlinked on a target for 167 s while this scan crawled).
   */
  private async walk(
    rel: BytePath,
    found: Map<string, { nlink: number; paths: BytePath[] }>,
    wanted: ReadonlySet<string> = new Set(),
    sweep?: { from: number; paths: BytePath[] },
  ): Promise<boolean> {
    let vanished = false;
    const stack: BytePath[] = [rel];
    // begin on a later turn: the events of this one are applied first
    await new Promise((r) => setImmediate(r));
    let slice = performance.now();
    while (stack.length > 0 && !this.closed) {
      const dir = stack.pop() as BytePath;
      let entries: Dirent<Buffer>[];
      try {
        entries = readdirSync(this.abs(dir), { withFileTypes: true, encoding: 'buffer' });
      } catch (e) {
        // gone or unreadable: its events say what happened
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') vanished = true;
        continue;
      }
      for (const ent of entries) {
        if (performance.now() - slice >= WALK_SLICE_MS) {
          await new Promise((r) => setImmediate(r));
          if (this.closed) return vanished;
          slice = performance.now();
        }
        const p = joinRel(dir, ent.name.toString('latin1'));
        if (ent.isDirectory()) {
          if (!this.excludes(p, true)) stack.push(p);
          continue;
        }
        if (!ent.isFile() || this.excludes(p, false)) continue;
        let st: ReturnType<typeof lstatSync>;
        try {
          st = lstatSync(this.abs(p));
        } catch {
          continue; // gone since the listing
        }
        if (sweep && st.ctimeMs >= sweep.from) sweep.paths.push(p);
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink < 2 && !wanted.has(key)) continue;
        const f = found.get(key);
        if (f) f.paths.push(p);
        else found.set(key, { nlink: st.nlink, paths: [p] });
      }
    }
    return vanished;
  }

  private isDir(rel: BytePath): boolean {
    try {
      return lstatSync(this.abs(rel)).isDirectory();
    } catch {
      return false;
    }
  }

  private abs(rel: BytePath): Buffer {
    return rel === '' ? Buffer.from(this.root) : Buffer.concat([Buffer.from(`${this.root}/`), toFs(rel)]);
  }
}
