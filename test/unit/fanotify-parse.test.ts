import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type FanEvent, fanConstants, parseFanEvents } from '../../src/native/fanotify.js';
import { FanotifyWatcher, fanotifyRefusal, mountsBeneath } from '../../src/watch/fanotify-watcher.js';
import type { BatchInfo, FsEvent } from '../../src/watch/types.js';

const VERSION = 3;

/** One fid info record as the kernel lays it out: header, fsid, struct file_handle, name + NUL, padded to 4. */
function fid(type: number, handle: number[], name?: string): Buffer {
  const nameBytes =
    name === undefined ? Buffer.alloc(0) : Buffer.concat([Buffer.from(name, 'latin1'), Buffer.from([0])]);
  const body = 4 + 8 + 8 + handle.length + nameBytes.length;
  const len = Math.ceil(body / 4) * 4;
  const b = Buffer.alloc(len);
  b.writeUInt8(type, 0);
  b.writeUInt16LE(len, 2);
  b.fill(7, 4, 12); // fsid
  b.writeUInt32LE(handle.length, 12);
  b.writeInt32LE(1, 16); // handle_type
  Buffer.from(handle).copy(b, 20);
  nameBytes.copy(b, 20 + handle.length);
  return b;
}

function event(mask: bigint, pid: number, ...infos: Buffer[]): Buffer {
  const meta = Buffer.alloc(24);
  const len = 24 + infos.reduce((n, i) => n + i.length, 0);
  meta.writeUInt32LE(len, 0);
  meta.writeUInt8(VERSION, 4);
  meta.writeUInt16LE(24, 6);
  meta.writeBigUInt64LE(mask, 8);
  meta.writeInt32LE(-1, 16); // FAN_NOFD
  meta.writeInt32LE(pid, 20);
  return Buffer.concat([meta, ...infos]);
}

test('a create and a rename decode to their directory handles and names, raw bytes kept', () => {
  const create = event(0x100n, 42, fid(2, [1, 2, 3, 4, 5, 6, 7, 8], 'caf\xe9 \n'));
  const rename = event(0x50000000n, 43, fid(10, [9, 9, 9, 9], 'old'), fid(12, [8, 8, 8, 8, 8, 8], 'new'));
  const [c, r, ...rest] = parseFanEvents(Buffer.concat([create, rename]), VERSION);
  assert.equal(rest.length, 0);
  assert.deepEqual({ mask: c?.mask, pid: c?.pid, n: c?.infos.length }, { mask: 0x100, pid: 42, n: 1 });
  assert.equal(c?.infos[0]?.name, 'caf\xe9 \n');
  assert.deepEqual(
    [...(c?.infos[0]?.handle ?? [])],
    [8, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8],
    'the handle is struct file_handle: handle_bytes, handle_type, bytes',
  );
  assert.equal(r?.mask, 0x50000000);
  assert.deepEqual(
    r?.infos.map((i) => [i.type, i.name, i.handle.length]),
    [
      [10, 'old', 12],
      [12, 'new', 14],
    ],
  );
});

test('a record naming the directory itself (".") has an empty name; one without a name too', () => {
  const [e] = parseFanEvents(event(0x4n, 1, fid(2, [1, 1, 1, 1], '.'), fid(1, [2, 2, 2, 2])), VERSION);
  assert.deepEqual(
    e?.infos.map((i) => [i.type, i.name]),
    [
      [2, ''],
      [1, ''],
    ],
  );
});

test('an overflow (no info records) decodes with its mask; a truncated tail is left out, not misread', () => {
  const overflow = event(0x4000n, 0);
  const whole = event(0x100n, 5, fid(2, [1, 2, 3, 4], 'a'));
  const parsed = parseFanEvents(Buffer.concat([overflow, whole, whole.subarray(0, 30)]), VERSION);
  assert.deepEqual(
    parsed.map((e) => [e.mask, e.infos.length]),
    [
      [0x4000, 0],
      [0x100, 1],
    ],
  );
});

test('a record whose handle runs past its length is skipped; a wrong metadata version is an error', () => {
  const bad = fid(2, [1, 2, 3, 4], 'a');
  bad.writeUInt32LE(200, 12); // handle_bytes beyond the record
  const [e] = parseFanEvents(event(0x100n, 1, bad, fid(2, [5, 5, 5, 5], 'b')), VERSION);
  assert.deepEqual(
    e?.infos.map((i) => i.name),
    ['b'],
  );
  assert.throws(() => parseFanEvents(event(0x100n, 1), VERSION + 1), /metadata version 3, expected 4/);
});

test('mount points beneath a source are found in mountinfo, octal escapes decoded, the source itself and siblings not', () => {
  const info = [
    '22 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '30 22 0:40 / /srv/www/uploads rw - nfs4 host:/x rw',
    '31 22 0:41 / /srv/www\\040old/cache rw - tmpfs tmpfs rw',
    '32 22 0:42 / /srv/www rw - ext4 /dev/vdb rw',
    '33 22 0:43 / /srv/wwwx rw - tmpfs tmpfs rw',
  ].join('\n');
  assert.deepEqual(mountsBeneath('/srv/www', info), ['/srv/www/uploads']);
  assert.deepEqual(mountsBeneath('/srv/www old', info), ['/srv/www old/cache']);
  assert.deepEqual(mountsBeneath('/', info).length, 4);
});

test('why fanotify cannot watch a tree is said in terms an operator can act on', () => {
  const err = (code: string, message = code) => Object.assign(new Error(message), { code });
  assert.match(fanotifyRefusal(err('EPERM')), /needs root/);
  assert.match(fanotifyRefusal(err('EINVAL')), /Linux >= 5\.17/);
  assert.match(fanotifyRefusal(err('EOPNOTSUPP')), /file handles/);
  assert.match(
    fanotifyRefusal(err('EXDEV', '1 filesystem(s) are mounted inside /srv (/srv/nfs)')),
    /mounted inside \/srv.*one filesystem mark would not see them/,
  );
});

test('a directory handle the kernel cannot resolve (ENOMEM) is caught up as after an overflow, and never throws out of the event loop', () => {
  const c = fanConstants();
  const w = new FanotifyWatcher('/srv/www');
  const seen: string[] = [];
  w.on('overflow', () => seen.push('overflow'));
  w.on('warning', (i: { code: string }) => seen.push(`warning ${i.code}`));
  w.on('events', () => seen.push('events'));
  const inner = w as unknown as {
    fan: { pathOf(h: Buffer): Buffer | null };
    onEvents(events: FanEvent[]): void;
  };
  inner.fan = {
    pathOf: () => {
      throw Object.assign(new Error('open_by_handle_at: Cannot allocate memory'), { code: 'ENOMEM' });
    },
  };
  const info = {
    type: c.FAN_EVENT_INFO_TYPE_DFID_NAME as number,
    fsid: Buffer.alloc(8),
    handle: Buffer.alloc(12),
    name: 'f',
  };
  assert.doesNotThrow(() => inner.onEvents([{ mask: c.FAN_CLOSE_WRITE as number, pid: 1, infos: [info] }]));
  assert.deepEqual(seen, ['warning ENOMEM', 'overflow']);
});

/**
 * A watcher on a real directory whose fanotify group is a stand-in: the
 * handles it is fed resolve as `dirs` and `files` say (the kernel's part),
 * the rest (lstat of the names it finds) is real.
 */
function lostNames(
  root: string,
  dirs: Map<string, string | null>,
  files: Map<
    string,
    { file: { key: string; nlink: number } | null | 'old addon' | 'ENOMEM'; path: string | null }
  >,
) {
  const w = new FanotifyWatcher(root);
  const batches: Array<{ events: FsEvent[]; info: BatchInfo }> = [];
  const seen: string[] = [];
  w.on('events', (events: FsEvent[], info: BatchInfo) => batches.push({ events, info }));
  w.on('overflow', () => seen.push('overflow'));
  w.on('warning', (i: { code: string }) => seen.push(`warning ${i.code}`));
  const inner = w as unknown as {
    rootReal: string;
    fan: { pathOf(h: Buffer): Buffer | null; fileOf(h: Buffer): unknown };
    onEvents(events: FanEvent[]): void;
  };
  inner.rootReal = root;
  const path = (p: string | null | undefined) => (p === null || p === undefined ? null : Buffer.from(p));
  inner.fan = {
    pathOf: (h) => path(dirs.has(h.toString()) ? dirs.get(h.toString()) : files.get(h.toString())?.path),
    fileOf: (h) => {
      const f = files.get(h.toString())?.file ?? null;
      if (f === 'ENOMEM') throw Object.assign(new Error('open_by_handle_at: ENOMEM'), { code: 'ENOMEM' });
      return f === 'old addon' ? undefined : f;
    },
  };
  const c = fanConstants();
  /** an attribute change of `name` in the directory `dir`, done to the file `file` */
  const chown = (dir: string, name: string, file: string): FanEvent => ({
    mask: c.FAN_ATTRIB as number,
    pid: 1,
    infos: [
      {
        type: c.FAN_EVENT_INFO_TYPE_DFID_NAME as number,
        fsid: Buffer.alloc(8),
        handle: Buffer.from(dir),
        name,
      },
      {
        type: c.FAN_EVENT_INFO_TYPE_FID as number,
        fsid: Buffer.alloc(8),
        handle: Buffer.from(file),
        name: '',
      },
    ],
  });
  return { feed: (evs: FanEvent[]) => inner.onEvents(evs), chown, batches, seen };
}

test('a chown through a name in a removed directory is sent by the name the kernel still knows for the file, when that is in the tree and is the file', () => {
  const root = mkdtempSync(join(tmpdir(), 'syncward-fan-'));
  try {
    writeFileSync(join(root, 'mv'), 'x');
    const st = lstatSync(join(root, 'mv'));
    const key = `${st.dev}:${st.ino}`;
    const w = lostNames(
      root,
      new Map([['gone-dir', null]]),
      new Map([
        ['in-tree', { file: { key, nlink: 1 }, path: join(root, 'mv') }],
        ['uncached', { file: { key, nlink: 1 }, path: '/' }],
        ['other-file', { file: { key: '1:2', nlink: 1 }, path: join(root, 'mv') }],
        ['dead', { file: null, path: null }],
      ]),
    );
    w.feed([w.chown('gone-dir', 'hl', 'in-tree')]);
    assert.deepEqual(w.batches.at(-1)?.events, [{ kind: 'upsert', path: 'mv', isDir: false }]);
    // the kernel's cache has no name for it, or the name it has is another file now: HardLinks' scan finds its names
    w.feed([w.chown('gone-dir', 'hl', 'uncached')]);
    assert.deepEqual(w.batches.at(-1), { events: [], info: { unseen: [key] } });
    w.feed([w.chown('gone-dir', 'hl', 'other-file')]);
    assert.deepEqual(w.batches.at(-1), { events: [], info: { unseen: ['1:2'] } });
    const before = w.batches.length;
    w.feed([w.chown('gone-dir', 'hl', 'dead'), w.chown('gone-dir', 'hl2', 'dead')]);
    assert.equal(w.batches.length, before, 'a file gone with its last name leaves nothing to send');
    assert.deepEqual(w.seen, []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a chown through a removed name of a file whose one name is outside the tree sends nothing; an inode the kernel cannot look up is caught up by a full sync', () => {
  const root = mkdtempSync(join(tmpdir(), 'syncward-fan-'));
  const outside = mkdtempSync(join(tmpdir(), 'syncward-fan-out-'));
  try {
    writeFileSync(join(outside, 'f'), 'x');
    const st = lstatSync(join(outside, 'f'));
    const key = `${st.dev}:${st.ino}`;
    const w = lostNames(
      root,
      new Map([['gone-dir', null]]),
      new Map([
        ['one-name', { file: { key, nlink: 1 }, path: join(outside, 'f') }],
        ['two-names', { file: { key, nlink: 2 }, path: join(outside, 'f') }],
        ['old-addon', { file: 'old addon', path: null }],
        ['enomem', { file: 'ENOMEM', path: null }],
      ]),
    );
    w.feed([w.chown('gone-dir', 'hl', 'one-name')]);
    assert.equal(w.batches.length, 0);
    // another name may be ours
    w.feed([w.chown('gone-dir', 'hl', 'two-names')]);
    assert.deepEqual(w.batches.at(-1)?.info, { unseen: [key] });
    w.feed([w.chown('gone-dir', 'a', 'old-addon'), w.chown('gone-dir', 'b', 'old-addon')]);
    assert.deepEqual(w.seen, ['warning ENOSYS'], 'an addon without statOfHandle is said once');
    w.feed([w.chown('gone-dir', 'hl', 'enomem')]);
    assert.deepEqual(w.seen, ['warning ENOSYS', 'warning ENOMEM', 'overflow']);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});
