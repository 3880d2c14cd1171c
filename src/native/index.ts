import { existsSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { getSystemErrorName } from 'node:util';
import { PACKAGE_ROOT } from '../util/package-root.js';

/** The addon built from src/native/inotify.c and fanotify.c by node-gyp. */
export interface Binding {
  init(): number;
  addWatch(fd: number, path: Buffer, mask: number): number;
  rmWatch(fd: number, wd: number): number;
  start(fd: number, onData: (err: NodeJS.ErrnoException | null, data?: Buffer) => void): object;
  stop(handle: object): void;
  /** absent from an addon built before it existed */
  raiseNofileLimit?(): { soft: number; hard: number; before: number; errno: number };
  /** absent from an addon built before it existed */
  subdirs?(path: Buffer, leafDev: number): Buffer;
  constants: Record<InotifyConstant, number>;
  /** fanotify (src/native/fanotify.c); absent from an addon built before it existed */
  fanInit?(flags: number, eventFlags: number): number;
  fanMark?(fd: number, flags: number, mask: number, path: Buffer): void;
  handleOf?(path: Buffer): { handle: Buffer; mountId: number };
  pathOfHandle?(mountFd: number, handle: Buffer): Buffer | null;
  /** absent from an addon built before it existed */
  statOfHandle?(
    mountFd: number,
    handle: Buffer,
  ): { dev: number; ino: number; nlink: number; mode: number } | null;
  fanotifyConstants?: Record<string, number>;
}

export type InotifyConstant =
  | 'IN_ACCESS'
  | 'IN_MODIFY'
  | 'IN_ATTRIB'
  | 'IN_CLOSE_WRITE'
  | 'IN_CLOSE_NOWRITE'
  | 'IN_OPEN'
  | 'IN_MOVED_FROM'
  | 'IN_MOVED_TO'
  | 'IN_CREATE'
  | 'IN_DELETE'
  | 'IN_DELETE_SELF'
  | 'IN_MOVE_SELF'
  | 'IN_UNMOUNT'
  | 'IN_Q_OVERFLOW'
  | 'IN_IGNORED'
  | 'IN_ONLYDIR'
  | 'IN_DONT_FOLLOW'
  | 'IN_EXCL_UNLINK'
  | 'IN_MASK_ADD'
  | 'IN_ISDIR';

function loadBinding(): Binding {
  const file = join(PACKAGE_ROOT, 'build', 'Release', 'syncward_inotify.node');
  if (!existsSync(file)) {
    throw new Error(`the inotify addon is not built (${file} is missing); run: npm run build:native`);
  }
  return createRequire(import.meta.url)(file) as Binding;
}

const binding = loadBinding();

/** The addon itself, for the fanotify layer (src/native/fanotify.ts). */
export function addon(): Binding {
  return binding;
}

export const IN = binding.constants;

/**
 * The names of the directories in `path` (never a symlink to one), as latin1
 * byte strings, in readdir's order; throws an Error whose `code` is the
 * errno name. `leafDev`: from leafDevOf, or -1 (see subdirs in inotify.c).
 */
export function subdirs(path: Buffer, leafDev: number): string[] {
  if (!binding.subdirs)
    return readdirSync(path, { withFileTypes: true, encoding: 'latin1' })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  const buf = binding.subdirs(path, leafDev);
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++)
    if (buf[i] === 0) {
      out.push(buf.toString('latin1', start, i));
      start = i + 1;
    }
  return out;
}

/** ext2/3/4, XFS and tmpfs: a directory's st_nlink is 2 plus its subdirectories (ext4 says 1 past 65,000 of them) */
const COUNTS_SUBDIRS = new Set([0xef53, 0x58465342, 0x01021994]);

/**
 * The device of `root` when its filesystem counts subdirectories in st_nlink,
 * so subdirs may skip reading a directory with two links; -1 otherwise (btrfs
 * always says 1; NFS, FUSE and others cannot be trusted to count). A mount
 * inside the tree is another device, read in full.
 */
export function leafDevOf(root: string): number {
  try {
    return COUNTS_SUBDIRS.has(statfsSync(root).type) ? statSync(root).dev : -1;
  } catch {
    return -1;
  }
}

/** One `struct inotify_event`. `name` is the raw bytes of the entry name as a latin1 string ('' for the watched dir itself). */
export interface RawEvent {
  wd: number;
  mask: number;
  cookie: number;
  name: string;
}

/**
 * Parses the bytes of one read(2) on an inotify fd. The kernel only returns
 * whole events, so a chunk never splits one: `struct inotify_event` is
 * {int wd; u32 mask; u32 cookie; u32 len; char name[len]} with `name`
 * NUL-padded to an alignment boundary.
 */
export function parseEvents(buf: Buffer): RawEvent[] {
  const out: RawEvent[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const wd = buf.readInt32LE(off);
    const mask = buf.readUInt32LE(off + 4);
    const cookie = buf.readUInt32LE(off + 8);
    const len = buf.readUInt32LE(off + 12);
    let end = off + 16;
    const limit = Math.min(end + len, buf.length);
    while (end < limit && buf[end] !== 0) end++;
    out.push({ wd, mask, cookie, name: buf.toString('latin1', off + 16, end) });
    off += 16 + len;
  }
  return out;
}

/**
 * A read this long or shorter left the kernel queue empty: inotify.c reads
 * READ_BUF (256 KiB) at a time, and the kernel stops short only when the next
 * event (at most 16 + NAME_MAX + 1 bytes) would not fit or none is left.
 */
const DRAINED_MAX = 256 * 1024 - (16 + 256);

/** An inotify instance: an fd, its watches, and a stream of parsed events. */
export class Inotify {
  readonly fd: number;
  private handle: object | null = null;

  constructor() {
    this.fd = binding.init();
  }

  /** Adds or updates a watch; throws an Error whose `code` is the errno name (ENOSPC, ENOENT, ENOTDIR, EACCES...). */
  addWatch(path: Buffer, mask: number): number {
    return binding.addWatch(this.fd, path, mask);
  }

  /** Removes a watch; returns 0 or the errno (EINVAL when the kernel already dropped it). */
  rmWatch(wd: number): number {
    return binding.rmWatch(this.fd, wd);
  }

  /** Starts delivering events from the libuv loop, one read at a time; `drained`: that read left the queue empty. */
  start(
    onEvents: (events: RawEvent[], drained: boolean) => void,
    onError: (err: NodeJS.ErrnoException) => void,
  ): void {
    if (this.handle) return;
    this.handle = binding.start(this.fd, (err, data) => {
      if (err) onError(err);
      else if (data) onEvents(parseEvents(data), data.length <= DRAINED_MAX);
    });
  }

  /** Stops reading and closes the fd, which drops every watch at once. */
  close(): void {
    if (this.handle) binding.stop(this.handle);
    this.handle = null;
  }
}

/** RLIMIT_NOFILE after raiseOpenFilesLimit(): Infinity for unlimited. */
export interface OpenFilesLimit {
  soft: number;
  hard: number;
  /** the soft limit found */
  before: number;
  /** why it could not be raised (an errno name, or a stale addon), or null */
  error: string | null;
}

/**
 * Raises the soft limit on open files to the hard limit: every API client,
 * SSE stream, rsync pipe and directory listing takes an fd, and a full table
 * leaves directories unwatched and rsync unable to start. Node itself raises
 * it at startup today, but has no API for it; the addon makes sure.
 */
export function raiseOpenFilesLimit(): OpenFilesLimit {
  if (!binding.raiseNofileLimit) {
    const now = parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
    return {
      ...now,
      before: now.soft,
      error: 'the inotify addon is older than this code; run: npm run build:native',
    };
  }
  const r = binding.raiseNofileLimit();
  return {
    soft: r.soft,
    hard: r.hard,
    before: r.before,
    error: r.errno === 0 ? null : getSystemErrorName(-r.errno),
  };
}

/** The "Max open files" line of /proc/<pid>/limits: soft and hard ("unlimited" is Infinity). */
export function parseOpenFilesLimit(limits: string): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (!m) throw new Error('no "Max open files" line in /proc/self/limits');
  const num = (v: string) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: num(m[1] as string), hard: num(m[2] as string) };
}

/** Below this a busy daemon can fill its fd table: API clients, SSE streams, rsync pipes, directory listings. */
export const LOW_OPEN_FILES = 4096;

/** The start-up log line about the open files limit, as a warning when it is low or could not be raised. */
export function describeOpenFilesLimit(l: OpenFilesLimit): { level: 'info' | 'warn'; message: string } {
  const fmt = (n: number) => (n === Number.POSITIVE_INFINITY ? 'unlimited' : String(n));
  const raised = l.before < l.soft ? `, raised from ${fmt(l.before)}` : '';
  let message = `open files limit (RLIMIT_NOFILE): ${fmt(l.soft)} (hard ${fmt(l.hard)})${raised}`;
  if (l.error !== null) message += `; could not raise it to the hard limit: ${l.error}`;
  if (l.soft < LOW_OPEN_FILES)
    message += `; that is low: with the table full, new directories cannot be listed (alert unwatched) and rsync cannot start. Raise the hard limit: LimitNOFILE=65536 in the systemd unit, or ulimit -Hn 65536 before starting syncward`;
  return { level: l.error !== null || l.soft < LOW_OPEN_FILES ? 'warn' : 'info', message };
}
