import type { BytePath } from '../util/bytes.js';

/**
 * A directory of a DirTable: its slot, tagged with the slot's generation.
 * A reference kept after its directory was forgotten and the slot given to
 * another one is stale (neither known nor live) instead of naming the other.
 */
export type DirRef = number;
/** No directory: the root's parent, a name not found. */
export const NO_DIR = -1;

/** slots per generation: a ref is gen * SLOTS + slot, exact in a double while gen < 2^27 */
const SLOTS = 2 ** 26;
const GENS = 2 ** 27;

// a slot's state (bits)
const KNOWN = 1; // holds a directory: its name, wd and parent can be read
const LIVE = 2; // indexed by its wd: watched now
const LINKED = 4; // in its parent's children, found by name

const slotOf = (ref: DirRef) => ref % SLOTS;
const genOf = (ref: DirRef) => Math.floor(ref / SLOTS);

/**
 * The directories an inotify watcher watches, in typed arrays outside the
 * JS heap: per directory its wd, parent, generation, state, three sibling
 * links, its name's bytes and a place in two hash indexes (by wd, by parent
 * and name): 6.67 MB for 100,001 directories, where an object per directory
 * with a Map of its children and a Map from wd took 14 MB of heap (measured).
 *
 * A directory is live while the kernel watches it for us (found by wd), and
 * linked while its parent lists it under its name. One dropped, or whose
 * watch the kernel removed, is not live; its slot keeps its name and parent
 * while other slots name it as their parent (their paths go through it),
 * and is reused after.
 */
export class DirTable {
  private top = 0;
  private freeHead = -1;
  private liveCount = 0;
  private readonly gen = new Column();
  /** state bits, and the name's length above them */
  private readonly meta = new Column();
  private readonly wdAt = new Column();
  private readonly parentAt = new Column();
  /** how many slots name this one as parent: it is reused only when none does */
  private readonly kids = new Column();
  private readonly first = new Column();
  private readonly next = new Column();
  private readonly prev = new Column();
  private readonly nameAt = new Column();
  private names = new NameBytes();
  /** live slots by wd */
  private readonly byWdIndex = new SlotIndex((s) => hashWd(this.wdAt.get(s)));
  /** linked slots by parent slot and name */
  private readonly byNameIndex = new SlotIndex((s) =>
    this.names.hash(this.parentAt.get(s), this.nameAt.get(s), this.nameLen(s)),
  );

  /** Directories live now. */
  get size(): number {
    return this.liveCount;
  }

  // ---- reading ----------------------------------------------------------------

  /** Whether the directory is watched now (found by its wd). */
  live(ref: DirRef): boolean {
    const s = this.slot(ref);
    return s >= 0 && (this.meta.get(s) & LIVE) !== 0;
  }

  /** Whether `ref` still names its directory: live, or kept for the paths beneath it. */
  known(ref: DirRef): boolean {
    return this.slot(ref) >= 0;
  }

  wd(ref: DirRef): number {
    return this.wdAt.get(this.must(ref));
  }

  nameIs(ref: DirRef, name: BytePath): boolean {
    const s = this.must(ref);
    return this.names.equals(this.nameAt.get(s), this.nameLen(s), name);
  }

  /** The parent, or NO_DIR for the root. */
  parent(ref: DirRef): DirRef {
    const p = this.parentAt.get(this.must(ref));
    return p < 0 ? NO_DIR : this.ref(p);
  }

  /** The live directory watched as `wd`, or NO_DIR. */
  byWd(wd: number): DirRef {
    const s = this.byWdIndex.find(hashWd(wd), (t) => this.wdAt.get(t) === wd);
    return s < 0 ? NO_DIR : this.ref(s);
  }

  /** The directory linked under `parent` as `name`, or NO_DIR. */
  child(parent: DirRef, name: BytePath): DirRef {
    const p = this.slot(parent);
    if (p < 0) return NO_DIR;
    const s = this.byNameIndex.find(
      hashName(p, name),
      (t) => this.parentAt.get(t) === p && this.names.equals(this.nameAt.get(t), this.nameLen(t), name),
    );
    return s < 0 ? NO_DIR : this.ref(s);
  }

  /** Whether `ref` is `ancestor` or lies beneath it. */
  within(ref: DirRef, ancestor: DirRef): boolean {
    const a = this.slot(ancestor);
    if (a < 0) return false;
    for (let s = this.slot(ref); s >= 0; s = this.parentAt.get(s)) if (s === a) return true;
    return false;
  }

  /** The relative path ('' for the root), through its ancestors' names now. */
  pathOf(ref: DirRef): BytePath {
    const parts: BytePath[] = [];
    for (let s = this.must(ref); this.parentAt.get(s) >= 0; s = this.parentAt.get(s))
      parts.push(this.names.read(this.nameAt.get(s), this.nameLen(s)));
    return parts.reverse().join('/');
  }

  /** Every live directory. */
  liveRefs(): DirRef[] {
    const out: DirRef[] = [];
    for (let s = 0; s < this.top; s++) if ((this.meta.get(s) & LIVE) !== 0) out.push(this.ref(s));
    return out;
  }

  // ---- changes ----------------------------------------------------------------

  /** A directory just watched, linked under `parent` (NO_DIR for the root) as `name`. */
  add(parent: DirRef, name: BytePath, wd: number): DirRef {
    const s = this.alloc();
    this.wdAt.set(s, wd);
    this.parentAt.set(s, -1);
    this.kids.set(s, 0);
    this.first.set(s, -1);
    this.next.set(s, -1);
    this.prev.set(s, -1);
    this.nameAt.set(s, this.names.add(name));
    this.meta.set(s, KNOWN | LIVE | (name.length << 8));
    this.liveCount++;
    this.byWdIndex.add(s);
    const ref = this.ref(s);
    if (parent !== NO_DIR) this.attach(ref, parent, name);
    return ref;
  }

  /**
   * Links `ref` under `parent` as `name`, unlinked first from where it was.
   * A directory linked under that name before is unlinked, not forgotten:
   * it stays live (a Map's set() under a taken key did the same).
   */
  attach(ref: DirRef, parent: DirRef, name: BytePath): void {
    const s = this.must(ref);
    const p = this.must(parent);
    this.unlink(ref);
    const other = this.child(parent, name);
    if (other !== NO_DIR) this.unlink(other);
    const was = this.parentAt.get(s);
    if (was !== p) {
      this.parentAt.set(s, p);
      this.kids.set(p, this.kids.get(p) + 1);
      if (was >= 0) {
        this.kids.set(was, this.kids.get(was) - 1);
        this.recycle(was);
      }
    }
    if (!this.names.equals(this.nameAt.get(s), this.nameLen(s), name)) {
      this.names.release(this.nameLen(s));
      this.nameAt.set(s, this.names.add(name));
      this.meta.set(s, (this.meta.get(s) & 0xff) | (name.length << 8));
    }
    const head = this.first.get(p);
    this.next.set(s, head);
    this.prev.set(s, -1);
    if (head >= 0) this.prev.set(head, s);
    this.first.set(p, s);
    this.meta.set(s, this.meta.get(s) | LINKED);
    this.byNameIndex.add(s);
    if (this.names.wasteful()) this.compactNames();
  }

  /** Takes `ref` out of its parent's children; it keeps its parent and name, so its path still reads. */
  unlink(ref: DirRef): void {
    const s = this.must(ref);
    const meta = this.meta.get(s);
    if ((meta & LINKED) === 0) return;
    this.byNameIndex.remove(s);
    const before = this.prev.get(s);
    const after = this.next.get(s);
    if (before >= 0) this.next.set(before, after);
    else this.first.set(this.parentAt.get(s), after);
    if (after >= 0) this.prev.set(after, before);
    this.next.set(s, -1);
    this.prev.set(s, -1);
    this.meta.set(s, meta & ~LINKED);
  }

  /** The kernel removed its watch: neither live nor linked; what lies beneath keeps its paths. */
  detach(ref: DirRef): void {
    const s = this.must(ref);
    this.unlink(ref);
    this.kill(s);
    this.recycle(s);
  }

  /**
   * Forgets a directory and everything linked beneath it; `onForget` hears
   * of each one that was live, before its slot may be reused.
   */
  drop(ref: DirRef, onForget: (wd: number, ref: DirRef) => void): void {
    this.unlink(ref);
    const stack = [this.must(ref)];
    const gone: number[] = [];
    while (stack.length > 0) {
      const s = stack.pop() as number;
      for (let c = this.first.get(s); c >= 0; ) {
        const after = this.next.get(c);
        this.unlink(this.ref(c));
        stack.push(c);
        c = after;
      }
      if ((this.meta.get(s) & LIVE) !== 0) {
        this.kill(s);
        onForget(this.wdAt.get(s), this.ref(s));
      }
      gone.push(s);
    }
    // deepest first: a slot is reused once nothing beneath names it
    for (let i = gone.length - 1; i >= 0; i--) this.recycle(gone[i] as number);
  }

  // ---- slots --------------------------------------------------------------------

  private ref(s: number): DirRef {
    return this.gen.get(s) * SLOTS + s;
  }

  /** The slot of a ref that still names its directory, or -1. */
  private slot(ref: DirRef): number {
    if (ref < 0) return -1;
    const s = slotOf(ref);
    return s < this.top && (this.meta.get(s) & KNOWN) !== 0 && this.gen.get(s) === genOf(ref) ? s : -1;
  }

  private must(ref: DirRef): number {
    const s = this.slot(ref);
    if (s < 0) throw new Error(`stale directory reference ${ref}`);
    return s;
  }

  private nameLen(s: number): number {
    return this.meta.get(s) >>> 8;
  }

  private kill(s: number): void {
    const meta = this.meta.get(s);
    if ((meta & LIVE) === 0) return;
    this.byWdIndex.remove(s);
    this.meta.set(s, meta & ~LIVE);
    this.liveCount--;
  }

  /** Frees a slot neither live nor linked that no slot names as parent; then its parent, if that became so. */
  private recycle(s: number): void {
    while ((this.meta.get(s) & (KNOWN | LIVE | LINKED)) === KNOWN && this.kids.get(s) === 0) {
      const p = this.parentAt.get(s);
      this.names.release(this.nameLen(s));
      this.meta.set(s, 0);
      this.gen.set(s, (this.gen.get(s) + 1) % GENS);
      this.next.set(s, this.freeHead);
      this.freeHead = s;
      if (p < 0) return;
      this.kids.set(p, this.kids.get(p) - 1);
      s = p;
    }
  }

  private alloc(): number {
    if (this.freeHead >= 0) {
      const s = this.freeHead;
      this.freeHead = this.next.get(s);
      return s;
    }
    if (this.top === SLOTS) throw new Error(`more than ${SLOTS} directories`);
    const s = this.top++;
    if ((s & (CHUNK - 1)) === 0)
      for (const c of [
        this.gen,
        this.meta,
        this.wdAt,
        this.parentAt,
        this.kids,
        this.first,
        this.next,
        this.prev,
        this.nameAt,
      ])
        c.grow();
    return s;
  }

  /** Rewrites the name bytes without the released ones. */
  private compactNames(): void {
    const fresh = new NameBytes();
    for (let s = 0; s < this.top; s++)
      if ((this.meta.get(s) & KNOWN) !== 0)
        this.nameAt.set(s, fresh.copy(this.names, this.nameAt.get(s), this.nameLen(s)));
    this.names = fresh;
  }
}

/** chunk of a Column: 4k slots (16 KiB), so a table has little room unused */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;

/**
 * An Int32 per slot, in chunks: growing adds a chunk instead of copying into
 * a bigger array, whose old copy would stay allocated until a full GC.
 */
class Column {
  private readonly chunks: Int32Array[] = [];

  get(i: number): number {
    return (this.chunks[i >>> CHUNK_BITS] as Int32Array)[i & (CHUNK - 1)] as number;
  }

  set(i: number, v: number): void {
    (this.chunks[i >>> CHUNK_BITS] as Int32Array)[i & (CHUNK - 1)] = v;
  }

  /** Room for CHUNK more slots. */
  grow(): void {
    this.chunks.push(new Int32Array(CHUNK));
  }
}

const EMPTY = -1;
const TOMBSTONE = -2;

/**
 * Slot numbers in open addressing with linear probing, at most 3/4 full
 * (tombstones included). What a slot is keyed by is for `hashAt` and the
 * caller's `matches` to say. Any size, not only powers of two: a table for
 * 100k directories takes 0.8 MB where the next power of two took 1 MB.
 */
class SlotIndex {
  private table = new Int32Array(16).fill(EMPTY);
  /** slots held */
  private count = 0;
  /** places not empty: slots and tombstones */
  private used = 0;

  constructor(private readonly hashAt: (slot: number) => number) {}

  /** The slot that `matches`, among those whose key hashes to `hash`, or -1. */
  find(hash: number, matches: (slot: number) => boolean): number {
    const t = this.table;
    for (let i = place(hash, t.length); ; i = i + 1 === t.length ? 0 : i + 1) {
      const s = t[i] as number;
      if (s === EMPTY) return -1;
      if (s !== TOMBSTONE && matches(s)) return s;
    }
  }

  add(slot: number): void {
    if ((this.used + 1) * 4 > this.table.length * 3) this.rehash();
    const t = this.table;
    for (let i = place(this.hashAt(slot), t.length); ; i = i + 1 === t.length ? 0 : i + 1) {
      const s = t[i] as number;
      if (s === EMPTY || s === TOMBSTONE) {
        t[i] = slot;
        this.count++;
        if (s === EMPTY) this.used++;
        return;
      }
    }
  }

  remove(slot: number): void {
    const t = this.table;
    for (let i = place(this.hashAt(slot), t.length); ; i = i + 1 === t.length ? 0 : i + 1) {
      const s = t[i] as number;
      if (s === EMPTY) return;
      if (s === slot) {
        this.count--;
        // with the next place empty no probe runs on through this one: it can be empty too
        if (t[i + 1 === t.length ? 0 : i + 1] === EMPTY) {
          t[i] = EMPTY;
          this.used--;
        } else t[i] = TOMBSTONE;
        return;
      }
    }
  }

  /** A table twice the slots held, without tombstones: grown, or shrunk after many removals. */
  private rehash(): void {
    const old = this.table;
    this.table = new Int32Array(Math.max(16, (this.count + 1) * 2)).fill(EMPTY);
    this.count = 0;
    this.used = 0;
    for (const s of old) if (s >= 0) this.add(s);
  }
}

/** A 32-bit hash's place in a table of `size` (Lemire's reduction: the high bits of hash * size). */
function place(hash: number, size: number): number {
  return Math.floor((hash / 2 ** 32) * size);
}

function hashWd(wd: number): number {
  return Math.imul(wd, 0x9e3779b1) >>> 0;
}

/** FNV-1a over the name's bytes, seeded with the parent slot (NameBytes.hash is the same over stored bytes) */
function hashName(parent: number, name: BytePath): number {
  let h = Math.imul(0x811c9dc5 ^ parent, 0x01000193);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** bytes per chunk of NameBytes; a name is never split across two */
const NAME_CHUNK = 64 * 1024;

/** Names' bytes one after another, in chunks; a released name's bytes stay until a compaction. */
class NameBytes {
  private readonly chunks: Buffer[] = [];
  /** where the next name goes: chunk * NAME_CHUNK + offset */
  private end = 0;
  private inUse = 0;
  private released = 0;

  /** Stores a byte string's bytes; returns where. */
  add(name: BytePath): number {
    const at = this.reserve(name.length);
    this.chunk(at).write(name, at % NAME_CHUNK, 'latin1');
    return at;
  }

  copy(from: NameBytes, at: number, len: number): number {
    const to = this.reserve(len);
    const off = at % NAME_CHUNK;
    from.chunk(at).copy(this.chunk(to), to % NAME_CHUNK, off, off + len);
    return to;
  }

  release(len: number): void {
    this.released += len;
    this.inUse -= len;
  }

  /** most of what is stored is released */
  wasteful(): boolean {
    return this.released > NAME_CHUNK && this.released > this.inUse;
  }

  read(at: number, len: number): BytePath {
    const off = at % NAME_CHUNK;
    return this.chunk(at).toString('latin1', off, off + len);
  }

  equals(at: number, len: number, name: BytePath): boolean {
    if (len !== name.length) return false;
    const c = this.chunk(at);
    const off = at % NAME_CHUNK;
    for (let i = 0; i < len; i++) if (c[off + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  /** hashName of the stored name */
  hash(parent: number, at: number, len: number): number {
    const c = this.chunk(at);
    const off = at % NAME_CHUNK;
    let h = Math.imul(0x811c9dc5 ^ parent, 0x01000193);
    for (let i = 0; i < len; i++) h = Math.imul(h ^ (c[off + i] as number), 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  private chunk(at: number): Buffer {
    return this.chunks[Math.floor(at / NAME_CHUNK)] as Buffer;
  }

  private reserve(len: number): number {
    if (len > NAME_CHUNK) throw new Error(`a file name of ${len} bytes`);
    // a name that does not fit in the last chunk starts the next one
    if (
      this.chunks.length === 0 ||
      (this.end % NAME_CHUNK) + len > NAME_CHUNK ||
      this.end === this.chunks.length * NAME_CHUNK
    ) {
      this.end = this.chunks.length * NAME_CHUNK;
      this.chunks.push(Buffer.alloc(NAME_CHUNK));
    }
    const at = this.end;
    this.end += len;
    this.inUse += len;
    return at;
  }
}
