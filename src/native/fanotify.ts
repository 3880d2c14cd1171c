/**
 * fanotify for a whole filesystem: one mark instead of one inotify watch per
 * directory (issue 15). A FAN_REPORT_DFID_NAME group reports, for each entry
 * event, the handle of the directory it happened in and the entry's name;
 * this module decodes those records and turns handles back into paths. What
 * the events mean for the tree is the watcher's business (src/watch/).
 */
import { closeSync, constants, openSync } from 'node:fs';
import { addon } from './index.js';

/** One fid record of an event: the directory (or object) handle, and for the *_DFID_NAME kinds the entry's name. */
export interface FidInfo {
  /** FAN_EVENT_INFO_TYPE_* */
  type: number;
  /** the filesystem's id (8 bytes) */
  fsid: Buffer;
  /** struct file_handle, as handleOf() returns it: comparable byte for byte */
  handle: Buffer;
  /** the entry's name as raw bytes in a latin1 string ('' when the record has none, or names the directory itself: ".") */
  name: string;
}

export interface FanEvent {
  mask: number;
  pid: number;
  infos: FidInfo[];
}

const METADATA_LEN = 24;
const INFO_HEADER_LEN = 4;
const FSID_LEN = 8;
const FILE_HANDLE_HEADER = 8;

/**
 * Parses the bytes of one read(2) on a fanotify group reporting fids. The
 * kernel returns whole events: struct fanotify_event_metadata {u32 event_len;
 * u8 vers; u8 reserved; u16 metadata_len; u64 mask; s32 fd; s32 pid}, then
 * info records {u8 info_type; u8 pad; u16 len} + fsid + struct file_handle
 * {u32 handle_bytes; s32 handle_type; bytes} + a NUL-terminated name for the
 * kinds that carry one. A record this code does not know is skipped by its
 * length; a truncated one ends the parse.
 */
export function parseFanEvents(buf: Buffer, version: number): FanEvent[] {
  const out: FanEvent[] = [];
  let off = 0;
  while (off + METADATA_LEN <= buf.length) {
    const eventLen = buf.readUInt32LE(off);
    const vers = buf.readUInt8(off + 4);
    const metaLen = buf.readUInt16LE(off + 6);
    if (eventLen < METADATA_LEN || off + eventLen > buf.length) break;
    if (vers !== version) throw new Error(`fanotify: metadata version ${vers}, expected ${version}`);
    const mask = Number(buf.readBigUInt64LE(off + 8));
    const pid = buf.readInt32LE(off + 20);
    const infos: FidInfo[] = [];
    let i = off + metaLen;
    const end = off + eventLen;
    while (i + INFO_HEADER_LEN <= end) {
      const type = buf.readUInt8(i);
      const len = buf.readUInt16LE(i + 2);
      if (len < INFO_HEADER_LEN || i + len > end) break;
      const info = parseFid(buf, i, len, type);
      if (info) infos.push(info);
      i += len;
    }
    out.push({ mask, pid, infos });
    off += eventLen;
  }
  return out;
}

function parseFid(buf: Buffer, at: number, len: number, type: number): FidInfo | null {
  const start = at + INFO_HEADER_LEN;
  const end = at + len;
  if (start + FSID_LEN + FILE_HANDLE_HEADER > end) return null;
  const fsid = buf.subarray(start, start + FSID_LEN);
  const h = start + FSID_LEN;
  const handleBytes = buf.readUInt32LE(h);
  const handleEnd = h + FILE_HANDLE_HEADER + handleBytes;
  if (handleEnd > end) return null;
  let nameEnd = handleEnd;
  while (nameEnd < end && buf[nameEnd] !== 0) nameEnd++;
  const name = buf.toString('latin1', handleEnd, nameEnd);
  return {
    type,
    fsid: Buffer.from(fsid),
    handle: Buffer.from(buf.subarray(h, handleEnd)),
    name: name === '.' ? '' : name,
  };
}

/** fanotify's constants, from the addon (the kernel headers it was built against). */
export function fanConstants(): Record<string, number> {
  const c = addon().fanotifyConstants;
  if (!c)
    throw new Error('the native addon is older than this code (no fanotify); run: npm run build:native');
  return c;
}

/** The events a filesystem-wide watcher of entries asks for: a rename is one FAN_RENAME with both names (Linux >= 5.17), not MOVED_FROM/MOVED_TO. */
export function watchMask(c: Record<string, number>): number {
  return (
    (c.FAN_CREATE as number) |
    (c.FAN_DELETE as number) |
    (c.FAN_RENAME as number) |
    (c.FAN_MODIFY as number) |
    (c.FAN_CLOSE_WRITE as number) |
    (c.FAN_ATTRIB as number) |
    (c.FAN_DELETE_SELF as number) |
    (c.FAN_MOVE_SELF as number) |
    (c.FAN_ONDIR as number)
  );
}

/**
 * A fanotify group with one filesystem mark. Needs CAP_SYS_ADMIN (the group)
 * and CAP_DAC_READ_SEARCH (handles to paths); fails with the errno's code
 * (EPERM, EINVAL on an old kernel, ENODEV/EOPNOTSUPP/EXDEV on a filesystem
 * that cannot report fids: FUSE, NFS, overlayfs, a btrfs subvolume).
 */
export class Fanotify {
  readonly fd: number;
  private readonly c: Record<string, number>;
  private handle: object | null = null;
  private mountFd: number | null = null;

  constructor() {
    this.c = fanConstants();
    const a = addon();
    const c = this.c;
    const flags =
      (c.FAN_CLASS_NOTIF as number) |
      (c.FAN_CLOEXEC as number) |
      (c.FAN_NONBLOCK as number) |
      (c.FAN_REPORT_DIR_FID as number) |
      (c.FAN_REPORT_NAME as number) |
      (c.FAN_REPORT_FID as number) |
      (c.FAN_REPORT_TARGET_FID as number);
    // O_RDONLY | O_LARGEFILE for the (unused) event fds: a fid group reports none
    this.fd = (a.fanInit as NonNullable<typeof a.fanInit>)(flags >>> 0, 0o100000);
  }

  /** Marks the filesystem `path` lives on; `path` also becomes the mount handles are resolved against. */
  markFilesystem(path: Buffer): void {
    const a = addon();
    const c = this.c;
    (a.fanMark as NonNullable<typeof a.fanMark>)(
      this.fd,
      ((c.FAN_MARK_ADD as number) | (c.FAN_MARK_FILESYSTEM as number)) >>> 0,
      watchMask(c) >>> 0,
      path,
    );
    if (this.mountFd === null) this.mountFd = openSync(path, 'r');
  }

  /** Where a directory handle points now, or null when it is gone (for a file: one of its names, or "/" when the kernel knows none). */
  pathOf(handle: Buffer): Buffer | null {
    if (this.mountFd === null) throw new Error('fanotify: pathOf before markFilesystem');
    const a = addon();
    return (a.pathOfHandle as NonNullable<typeof a.pathOfHandle>)(this.mountFd, handle);
  }

  /**
   * The inode a handle names ("dev:ino", as lstat gives them) and its link
   * count, or null when it is gone or not a regular file; undefined when the
   * addon is older than this call.
   */
  fileOf(handle: Buffer): { key: string; nlink: number } | null | undefined {
    if (this.mountFd === null) throw new Error('fanotify: fileOf before markFilesystem');
    const a = addon();
    if (!a.statOfHandle) return undefined;
    const st = a.statOfHandle(this.mountFd, handle);
    if (st === null || (st.mode & constants.S_IFMT) !== constants.S_IFREG) return null;
    return { key: `${st.dev}:${st.ino}`, nlink: st.nlink };
  }

  /** Starts delivering decoded events from the libuv loop. */
  start(onEvents: (events: FanEvent[]) => void, onError: (err: NodeJS.ErrnoException) => void): void {
    if (this.handle) return;
    const version = this.c.FANOTIFY_METADATA_VERSION as number;
    this.handle = addon().start(this.fd, (err, data) => {
      if (err) onError(err);
      else if (data) onEvents(parseFanEvents(data, version));
    });
  }

  /** Stops reading and closes the group (its mark goes with it). */
  close(): void {
    if (this.handle) addon().stop(this.handle);
    else closeSync(this.fd);
    this.handle = null;
    if (this.mountFd !== null) closeSync(this.mountFd);
    this.mountFd = null;
  }
}

/** The handle of a path (name_to_handle_at), in the layout events carry. */
export function handleOf(path: Buffer): Buffer {
  const a = addon();
  if (!a.handleOf)
    throw new Error('the native addon is older than this code (no fanotify); run: npm run build:native');
  return a.handleOf(path).handle;
}
