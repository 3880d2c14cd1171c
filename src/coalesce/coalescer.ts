import type { Change, Op } from '../change/index.js';
import type { BytePath } from '../util/bytes.js';

export interface CoalescerOptions {
  /** extra coalescing window after an entry's last event; 0 = ready at once when complete */
  delayMs: number;
  /**
   * bound: an entry is ready at most this long after its first event, even if
   * it is still being written or still receiving events within delayMs
   */
  maxWaitMs: number;
}

/**
 * The pending changes of one target, merged per path. Pure: no timers, no
 * I/O; time comes in as `now` (ms, expected never to go backwards — use a
 * monotonic clock; a step back is treated as "no time passed").
 *
 * Its input is the changes of coalesce/changes.ts, the same the journal
 * records. Merging, oldest first:
 * - many writes and the close → one upsert; an upsert still `writing`
 *   leaves the entry incomplete: ready at the close, or at first event +
 *   maxWaitMs;
 * - upsert → delete = delete; delete → upsert = upsert (upsertTree if the new
 *   entry is a directory); delete or upsert → upsertTree = upsertTree;
 *   upsertTree → upsert = upsertTree;
 * - a delete or an upsertTree of D swallows what is pending beneath D (the
 *   delete removes it all, the tree transfer reads it all as it is by then),
 *   and events beneath a pending upsertTree of D are absorbed into it;
 * - a move's arrival keeps its old name (`from`, and a directory's `inode`)
 *   while later changes only add to it (writes, upserts, events beneath a
 *   tree); a delete, or an arrival without it, forgets it: the old name is
 *   only ever a basis to send from, and without it the entry goes normally.
 *
 * Readiness: a complete entry at min(last event + delayMs, first event +
 * maxWaitMs); an incomplete one at first event + maxWaitMs; a change handed
 * in with addChange at once.
 *
 * Cost: pending entries live in a trie of path components, so an event
 * costs O(path depth) and swallowing D's subtree costs the entries in it,
 * each paid for when it was inserted. Readiness is kept in intrusive
 * doubly-linked lists ordered by time (times never decrease and the windows
 * are constants, so appending keeps them sorted): `take` visits only what it
 * returns plus O(1), and there is never a scan of the whole queue.
 */
export class Coalescer {
  private readonly delayMs: number;
  private readonly maxWaitMs: number;
  private root = new Node('', null, '');
  /** every entry, by its first event (deadline: at + maxWaitMs) */
  private byFirst = new Queue();
  /** complete entries, by their last event (deadline: at + delayMs) */
  private byLast = new Queue();
  /** entries handed in by addChange (ready since `at`) */
  private forced = new Queue();
  private count = 0;
  private clock = Number.NEGATIVE_INFINITY;
  private epoch = 0;

  constructor(opts: CoalescerOptions) {
    if (!(opts.delayMs >= 0) || !(opts.maxWaitMs >= 0)) {
      throw new RangeError(`delayMs and maxWaitMs must be >= 0 (got ${opts.delayMs}, ${opts.maxWaitMs})`);
    }
    this.delayMs = opts.delayMs;
    this.maxWaitMs = opts.maxWaitMs;
  }

  /** pending entries, ready or not */
  get size(): number {
    return this.count;
  }

  /** One change the watcher just saw (changesOf, after the filter): newer than everything pending. */
  add(change: Change, now: number): void {
    const t = this.tick(now);
    const node = this.apply(change.path, change.writing ? 'write' : change.op, change.dir === true, t);
    if (node === null) return;
    // an upsert (a write, new metadata) adds to a move's arrival; a delete or another arrival replaces it
    if (change.from !== undefined) node.move = { from: change.from, inode: change.inode };
    else if (change.op !== 'upsert') node.move = null;
  }

  /**
   * A change from elsewhere — a batch put back after a failed transfer, a
   * journal replay — ready at once. It is taken to be OLDER than everything
   * pending: a newer pending change for the same path (or a newer delete or
   * tree transfer of an ancestor) wins, except that a tree transfer still
   * owed is never weakened to a plain upsert.
   */
  addChange(change: Change, now: number): void {
    const t = this.tick(now);
    const node = this.locate(change.path, true);
    if (node.path !== change.path) {
      // a newer delete or tree transfer of an ancestor covers it
      this.force(node, t);
      return;
    }
    const cur = node.op;
    if (cur === null) {
      node.op = change.op;
      node.complete = true;
      node.dirUpsert = false;
      node.move = change.from !== undefined ? { from: change.from, inode: change.inode } : null;
      // Only a tree transfer covers what is pending beneath: it reads the
      // tree as it is when it runs. An old delete must not swallow newer
      // entries beneath it; `take` sends it no later than them instead.
      if (change.op === 'upsertTree') this.swallow(node);
      this.touch(node, t, true);
    } else if (
      cur === 'upsert' &&
      (change.op === 'upsertTree' || (change.op === 'delete' && node.dirUpsert))
    ) {
      node.op = 'upsertTree';
      this.swallow(node);
    }
    this.force(node, t);
  }

  /**
   * Removes and returns every change ready at `now`, sorted by path (byte
   * order, so a directory comes before anything beneath it). All of them are
   * meant for one rsync call.
   */
  take(now: number): Change[] {
    const t = this.tick(now);
    const epoch = ++this.epoch;
    const picked: Node[] = [];
    const pick = (n: Node) => {
      if (n.mark !== epoch) {
        n.mark = epoch;
        picked.push(n);
      }
    };
    for (let l = this.forced.head; l !== null; l = l.next) pick(l.node);
    for (let l = this.byLast.head; l !== null && l.at + this.delayMs <= t; l = l.next) pick(l.node);
    for (let l = this.byFirst.head; l !== null && l.at + this.maxWaitMs <= t; l = l.next) pick(l.node);
    // A pending delete above a taken entry is older than it (a newer delete
    // would have swallowed it): send the delete now too, or it would later
    // remove what this batch sends.
    for (let i = 0; i < picked.length; i++) {
      for (let a = (picked[i] as Node).parent; a !== null; a = a.parent) if (a.op === 'delete') pick(a);
    }
    const out: Change[] = [];
    for (const n of picked) {
      const c: Change = { path: n.path, op: n.op as Op };
      if (n.move !== null) {
        c.from = n.move.from;
        if (n.move.inode !== undefined) c.inode = n.move.inode;
      }
      out.push(c);
      this.drop(n);
      this.prune(n);
    }
    return sortByPath(out);
  }

  /** true if `take(now)` would return something */
  hasReady(now: number): boolean {
    const t = Math.max(now, this.clock);
    const f = this.byFirst.head;
    const l = this.byLast.head;
    return (
      this.forced.head !== null ||
      (l !== null && l.at + this.delayMs <= t) ||
      (f !== null && f.at + this.maxWaitMs <= t)
    );
  }

  /**
   * The earliest time at which some pending entry is ready, or undefined if
   * nothing is pending. A time <= now means something is ready already.
   */
  nextReadyAt(): number | undefined {
    let at = Number.POSITIVE_INFINITY;
    if (this.forced.head !== null) at = this.forced.head.at;
    if (this.byLast.head !== null) at = Math.min(at, this.byLast.head.at + this.delayMs);
    if (this.byFirst.head !== null) at = Math.min(at, this.byFirst.head.at + this.maxWaitMs);
    return at === Number.POSITIVE_INFINITY ? undefined : at;
  }

  /** Drops everything pending (a full sync is about to cover it). */
  clear(): void {
    this.root = new Node('', null, '');
    this.byFirst = new Queue();
    this.byLast = new Queue();
    this.forced = new Queue();
    this.count = 0;
  }

  private tick(now: number): number {
    if (now > this.clock) this.clock = now;
    return this.clock;
  }

  /** Merges one newer event for `path` into what is pending; returns its entry (null: absorbed by a tree above). */
  private apply(
    path: BytePath,
    kind: 'write' | 'upsert' | 'upsertTree' | 'delete',
    isDir: boolean,
    t: number,
  ): Node | null {
    const node = this.locate(path, false);
    if (node.path !== path) {
      // beneath a pending tree transfer, which will read it as it is then;
      // it counts as activity in that tree for the coalescing window
      this.touch(node, t, false);
      return null;
    }
    const isNew = node.op === null;
    switch (kind) {
      case 'write':
        if (node.op === 'upsertTree') break;
        node.op = 'upsert';
        node.complete = false;
        node.dirUpsert = false;
        break;
      case 'upsert':
        if (node.op === 'delete' && isDir) {
          // a directory where one was deleted: its old contents may linger on the target
          node.op = 'upsertTree';
          this.swallow(node);
        } else if (node.op !== 'upsertTree') {
          node.op = 'upsert';
          node.dirUpsert = isDir;
        }
        node.complete = true;
        break;
      case 'upsertTree':
      case 'delete':
        node.op = kind;
        node.complete = true;
        this.swallow(node);
        break;
    }
    this.touch(node, t, isNew);
    return node;
  }

  /**
   * The trie node for `path`, created as needed — or the nearest ancestor
   * that covers it: one with a pending upsertTree, or (for an older change)
   * also a pending delete.
   */
  private locate(path: BytePath, olderChange: boolean): Node {
    let node = this.root;
    if (path === '') return node;
    let start = 0;
    for (;;) {
      if (node.op === 'upsertTree' || (olderChange && node.op === 'delete')) return node;
      const slash = path.indexOf('/', start);
      const name = slash < 0 ? path.slice(start) : path.slice(start, slash);
      let child = node.children?.get(name);
      if (child === undefined) {
        child = new Node(name, node, slash < 0 ? path : path.slice(0, slash));
        if (node.children === null) node.children = new Map();
        node.children.set(name, child);
      }
      node = child;
      if (slash < 0) return node;
      start = slash + 1;
    }
  }

  /** Records an event at `t` on an entry (new or not) and files it for readiness. */
  private touch(node: Node, t: number, isNew: boolean): void {
    if (isNew) {
      this.count++;
      // (already filed if it inherited an earlier first event by swallowing)
      if (!node.first.queued) {
        node.first.at = t;
        this.byFirst.push(node.first);
      }
    }
    node.last.at = t;
    if (node.complete) this.byLast.moveToTail(node.last);
    else if (node.last.queued) this.byLast.remove(node.last);
  }

  private force(node: Node, t: number): void {
    if (node.forcedLink === null) node.forcedLink = new Link(node);
    if (node.forcedLink.queued) return;
    node.forcedLink.at = t;
    this.forced.push(node.forcedLink);
  }

  /**
   * Removes every entry beneath `node`; `node` inherits the earliest first
   * event among them (so maxWaitMs still bounds them) and their being forced.
   */
  private swallow(node: Node): void {
    if (node.children === null) return;
    const stack: Node[] = [];
    for (const c of node.children.values()) stack.push(c);
    node.children = null;
    while (stack.length > 0) {
      const n = stack.pop() as Node;
      if (n.op !== null) {
        inherit(this.byFirst, node.first, n.first);
        if (n.forcedLink !== null) {
          if (node.forcedLink === null) node.forcedLink = new Link(node);
          inherit(this.forced, node.forcedLink, n.forcedLink);
        }
        this.drop(n);
      }
      if (n.children !== null) for (const c of n.children.values()) stack.push(c);
    }
  }

  /** Forgets the entry at `node` (the node itself stays in the trie). */
  private drop(n: Node): void {
    n.op = null;
    n.move = null;
    n.complete = true;
    n.dirUpsert = false;
    this.count--;
    if (n.first.queued) this.byFirst.remove(n.first);
    if (n.last.queued) this.byLast.remove(n.last);
    if (n.forcedLink?.queued) this.forced.remove(n.forcedLink);
  }

  /** Detaches empty nodes from `n` upwards. */
  private prune(n: Node): void {
    let node: Node | null = n;
    while (
      node !== null &&
      node.parent !== null &&
      node.op === null &&
      (node.children === null || node.children.size === 0)
    ) {
      const parent: Node = node.parent;
      parent.children?.delete(node.name);
      if (parent.children?.size === 0) parent.children = null;
      node = parent;
    }
  }
}

/** A trie node: one path component, and the pending entry for its path if any. */
class Node {
  children: Map<string, Node> | null = null;
  /** the pending change, or null for a node that only leads to others */
  op: Op | null = null;
  /** false while a file is being written (IN_MODIFY without the close) */
  complete = true;
  /** the last upsert was of a directory */
  dirUpsert = false;
  /** a move's arrival: its old name, and a directory's dev:ino when the move was seen */
  move: { from: BytePath; inode: string | undefined } | null = null;
  /** take() bookkeeping */
  mark = 0;
  readonly first: Link;
  readonly last: Link;
  forcedLink: Link | null = null;

  constructor(
    readonly name: string,
    readonly parent: Node | null,
    readonly path: BytePath,
  ) {
    this.first = new Link(this);
    this.last = new Link(this);
  }
}

class Link {
  prev: Link | null = null;
  next: Link | null = null;
  queued = false;
  at = 0;
  constructor(readonly node: Node) {}
}

/** Intrusive doubly-linked list; callers keep it sorted by `at` by only appending later times. */
class Queue {
  head: Link | null = null;
  tail: Link | null = null;

  push(l: Link): void {
    l.prev = this.tail;
    l.next = null;
    if (this.tail !== null) this.tail.next = l;
    else this.head = l;
    this.tail = l;
    l.queued = true;
  }

  remove(l: Link): void {
    if (l.prev !== null) l.prev.next = l.next;
    else this.head = l.next;
    if (l.next !== null) l.next.prev = l.prev;
    else this.tail = l.prev;
    l.prev = l.next = null;
    l.queued = false;
  }

  moveToTail(l: Link): void {
    if (l.queued) {
      if (this.tail === l) return;
      this.remove(l);
    }
    this.push(l);
  }

  insertAfter(ref: Link, l: Link): void {
    l.prev = ref;
    l.next = ref.next;
    if (ref.next !== null) ref.next.prev = l;
    else this.tail = l;
    ref.next = l;
    l.queued = true;
  }
}

/** `to` takes the place of `from` in `q` if `from` is earlier, keeping `q` sorted. */
function inherit(q: Queue, to: Link, from: Link): void {
  if (!from.queued) return;
  if (!to.queued || from.at < to.at) {
    if (to.queued) q.remove(to);
    to.at = from.at;
    q.insertAfter(from, to);
  }
}

/** Changes in path order (byte order, as paths are latin1 strings of bytes): a directory before anything beneath it. */
export function sortByPath<T extends { path: BytePath }>(changes: T[]): T[] {
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
