import assert from 'node:assert/strict';
import { linkSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type FanEvent, Fanotify, fanConstants, handleOf } from '../../src/native/fanotify.js';
import { fanotifyUnavailable } from '../helpers/backend.js';

// The real syscalls on this machine's filesystem: a group marks the whole
// filesystem (root and CAP_SYS_ADMIN; ext4 here), reports directory handles
// and names, and the handles resolve back to paths.
const root = mkdtempSync(join(tmpdir(), 'syncward-fanotify-'));
const skip = fanotifyUnavailable() ?? false;
after(() => rmSync(root, { recursive: true, force: true }));

/** an entry event in the directory `dir` (its parent record; the entry's own fid record names the entry) */
function inDir(e: FanEvent, dir: Buffer): boolean {
  const c = fanConstants();
  return e.infos.some((i) => i.type === c.FAN_EVENT_INFO_TYPE_DFID_NAME && i.handle.equals(dir));
}

function collector(f: Fanotify) {
  const seen: FanEvent[] = [];
  f.start(
    (evs) => seen.push(...evs),
    (err) => {
      throw err;
    },
  );
  /** waits until an event matches, then returns it */
  const until = async (match: (e: FanEvent) => boolean, what: string): Promise<FanEvent> => {
    for (let i = 0; i < 200; i++) {
      const hit = seen.find(match);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no fanotify event for ${what}`);
  };
  return { until };
}

test('a filesystem mark reports entry events in a directory by its handle and the name, resolvable to the path', {
  skip,
}, async () => {
  const c = fanConstants();
  const f = new Fanotify();
  try {
    f.markFilesystem(Buffer.from(root));
    const { until } = collector(f);
    const dir = join(root, 'd');
    mkdirSync(dir);
    const dirHandle = handleOf(Buffer.from(dir));
    writeFileSync(join(dir, 'caf\u00e9 \n'), 'x');
    const created = await until(
      (e) => (e.mask & (c.FAN_CREATE as number)) !== 0 && inDir(e, dirHandle),
      'the file created in d',
    );
    const info = created.infos.find((i) => i.type === c.FAN_EVENT_INFO_TYPE_DFID_NAME);
    assert.equal(
      Buffer.from(info?.name ?? '', 'latin1').toString('utf8'),
      'caf\u00e9 \n',
      'the name, as bytes',
    );
    assert.equal(f.pathOf(dirHandle)?.toString(), dir, 'the handle resolves to the directory');
    await until(
      (e) => (e.mask & (c.FAN_CLOSE_WRITE as number)) !== 0 && inDir(e, dirHandle),
      'the file closed after writing',
    );
  } finally {
    f.close();
  }
});

test('a rename reports both names with their directories; a moved directory resolves to its new path, a removed one to null', {
  skip,
}, async () => {
  const c = fanConstants();
  const f = new Fanotify();
  try {
    f.markFilesystem(Buffer.from(root));
    const { until } = collector(f);
    const a = join(root, 'a');
    const b = join(root, 'b');
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(a, 'f'), 'x');
    const [ha, hb] = [handleOf(Buffer.from(a)), handleOf(Buffer.from(b))];
    renameSync(join(a, 'f'), join(b, 'g'));
    // the whole filesystem is marked: other processes' renames arrive too
    const renamed = await until(
      (e) =>
        (e.mask & (c.FAN_RENAME as number)) !== 0 &&
        e.infos.some((i) => i.type === c.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME && i.handle.equals(ha)),
      'the rename',
    );
    const from = renamed.infos.find((i) => i.type === c.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME);
    const to = renamed.infos.find((i) => i.type === c.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME);
    assert.ok(from?.handle.equals(ha) && from.name === 'f', 'the old directory and name');
    assert.ok(to?.handle.equals(hb) && to.name === 'g', 'the new directory and name');
    renameSync(a, join(b, 'a2'));
    assert.equal(f.pathOf(ha)?.toString(), join(b, 'a2'), 'a moved directory resolves to where it is now');
    rmSync(join(b, 'a2'), { recursive: true });
    assert.equal(f.pathOf(ha), null, 'a removed directory resolves to nothing');
  } finally {
    f.close();
  }
});

test("a file's handle finds its inode after the name it was reported by is gone, while another name keeps it; nothing once the last name goes", () => {
  const f = new Fanotify();
  try {
    f.markFilesystem(Buffer.from(root));
    const d = join(root, 'linked');
    mkdirSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'f'), 'x');
    linkSync(join(d, 'f'), join(d, 'sub/hl'));
    const handle = handleOf(Buffer.from(join(d, 'sub/hl')));
    const st = lstatSync(join(d, 'f'));
    rmSync(join(d, 'sub'), { recursive: true });
    assert.deepEqual(f.fileOf(handle), { key: `${st.dev}:${st.ino}`, nlink: 1 }, 'as lstat names it');
    assert.equal(f.fileOf(handleOf(Buffer.from(d))), null, 'a directory is no file');
    rmSync(join(d, 'f'));
    assert.equal(f.fileOf(handle), null, 'its last name removed');
  } finally {
    f.close();
  }
});
