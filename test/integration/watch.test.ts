import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  closeSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { display } from '../../src/util/bytes.js';
import { FanotifyWatcher } from '../../src/watch/fanotify-watcher.js';
import { type BatchInfo, type FsEvent, TreeWatcher } from '../../src/watch/index.js';
import { ownFilesystem, testWatcher } from '../helpers/backend.js';
import { canChangeQueue, testQueue, withSmallQueue } from '../helpers/queue.js';

/*
 * Every test runs against the watcher backend under test
 * (SYNCWARD_TEST_WATCHER=fanotify: the fanotify suites). fanotify has one
 * mark, not one watch per directory: where a test counts inotify's watches,
 * on fanotify it writes into each of those directories and requires the
 * write to be reported under its path.
 */
const FAN = testWatcher() === 'fanotify';
if (FAN) console.log('watch.test: every tree watched with FanotifyWatcher');

const cleanup: string[] = [];
const watchers: TreeWatcher[] = [];
after(() => {
  // an open watcher keeps the process alive: close them even when a test failed
  for (const w of watchers) w.close();
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(d);
  return d;
}

/** A started watcher on a fresh tree and every event it reports. */
async function watched(
  setup?: (root: string) => void,
  ignore?: (rel: string) => boolean,
  root = tempDir('syncward-watch-'),
) {
  setup?.(root);
  const events: FsEvent[] = [];
  const signals: Array<{ kind: string; info: unknown }> = [];
  const w = FAN
    ? (new FanotifyWatcher(root, { ignoreDir: ignore }) as unknown as TreeWatcher)
    : new TreeWatcher(root, { ignoreDir: ignore });
  watchers.push(w);
  w.on('events', (b: FsEvent[]) => events.push(...b));
  for (const s of ['overflow', 'watchLimit', 'rootGone', 'warning'])
    w.on(s, (info) => signals.push({ kind: s, info }));
  const started = await w.start();
  return { root, w, events, signals, started };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const has = (events: FsEvent[], kind: string, path: string) =>
  events.some((e) => e.kind === kind && display(e.path) === path);

/**
 * The watcher covers exactly these directories (relative paths, '' the
 * root): inotify watches them and no other; fanotify reports a file written
 * in each of them under its path (a directory handle resolved to where it is
 * now). On fanotify the probe files stay in the tree. A queue overflow while
 * probing loses events by design (the daemon answers it with a full sync):
 * the directories whose write it may have lost are probed again, at most
 * twice; a directory missed with no overflow fails at once.
 */
let probes = 0;
async function covers(w: TreeWatcher, root: string, events: FsEvent[], dirs: string[], what: string) {
  if (!FAN) {
    assert.deepEqual(w.watchedPaths().map(display).sort(), [...dirs].sort(), what);
    return;
  }
  let overflows = 0;
  let total = 0;
  const onOverflow = () => {
    overflows++;
    total++;
  };
  w.on('overflow', onOverflow);
  try {
    let todo = dirs;
    for (let round = 1; ; round++) {
      overflows = 0;
      const name = `.probe-${++probes}`;
      const probe = (d: string) => (d === '' ? name : `${d}/${name}`);
      for (const d of todo) writeFileSync(join(root, probe(d)), 'x');
      const missing = () => todo.filter((d) => !has(events, 'upsert', probe(d)));
      await until(() => missing().length === 0, `${what}: a write reported in every directory`, 30_000).catch(
        () => {},
      );
      todo = missing();
      if (todo.length === 0 || overflows === 0 || round === 3) break;
    }
    assert.deepEqual(
      todo,
      [],
      `${what}: directories whose write was not reported (${total} queue overflows while probing)`,
    );
  } finally {
    w.off('overflow', onOverflow);
  }
}

test('watches every directory of the tree at start', async () => {
  const { root, w, events, started } = await watched((root) => {
    for (let i = 0; i < 20; i++) mkdirSync(join(root, `d${i}`, 'x', 'y'), { recursive: true });
  });
  // fanotify walks nothing: its one mark is in place before start() returns
  assert.equal(started.dirs, FAN ? 0 : 61);
  assert.equal(w.watchedDirs, FAN ? 0 : 61);
  const all = [''];
  for (let i = 0; i < 20; i++) all.push(`d${i}`, `d${i}/x`, `d${i}/x/y`);
  await covers(w, root, events, all, 'the tree at start');
  w.close();
});

test('a file is reported complete on close, not while being written', async () => {
  const { root, w, events } = await watched();
  const fd = openSync(join(root, 'f'), 'w');
  writeSync(fd, 'part one');
  await until(() => has(events, 'write', 'f'), 'write event');
  assert.ok(!has(events, 'upsert', 'f'), 'no upsert before close');
  closeSync(fd);
  await until(() => has(events, 'upsert', 'f'), 'upsert on close');
  w.close();
});

test('mkdir -p a/b/c && echo x > a/b/c/f: the new tree is watched and reported whole', async () => {
  const { root, w, events } = await watched();
  mkdirSync(join(root, 'a', 'b', 'c'), { recursive: true });
  writeFileSync(join(root, 'a', 'b', 'c', 'f'), 'x\n');
  await until(() => events.some((e) => e.kind === 'upsertTree' && display(e.path) === 'a'), 'upsertTree a');
  if (!FAN) await until(() => w.watchedDirs === 4, 'watches on a, a/b, a/b/c');
  writeFileSync(join(root, 'a', 'b', 'c', 'later'), 'y');
  await until(() => has(events, 'upsert', 'a/b/c/later'), 'write inside the new tree');
  w.close();
});

test('a directory renamed inside the tree keeps receiving writes under its new name', async () => {
  const { root, w, events } = await watched((r) => mkdirSync(join(r, 'old', 'deep'), { recursive: true }));
  renameSync(join(root, 'old'), join(root, 'new'));
  await until(
    () =>
      events.some(
        (e) => e.kind === 'move' && display(e.path) === 'new' && display(e.from ?? '') === 'old' && e.isDir,
      ),
    'paired move',
  );
  writeFileSync(join(root, 'new', 'deep', 'f'), 'x');
  await until(() => has(events, 'upsert', 'new/deep/f'), 'write under the new name');
  assert.ok(!events.some((e) => display(e.path).startsWith('old/')), 'nothing reported under the old name');
  w.close();
});

test('a file rename is one move event paired by cookie', async () => {
  const { root, w, events } = await watched((r) => {
    writeFileSync(join(r, 'a'), 'a');
    mkdirSync(join(r, 'sub'));
  });
  renameSync(join(root, 'a'), join(root, 'sub', 'b'));
  await until(() => events.some((e) => e.kind === 'move'), 'move');
  const mv = events.find((e) => e.kind === 'move');
  assert.equal(display(mv?.from ?? ''), 'a');
  assert.equal(display(mv?.path ?? ''), 'sub/b');
  // inotify pairs MOVED_FROM and MOVED_TO by it; fanotify reports a rename as one event with both names
  assert.equal(typeof mv?.cookie, FAN ? 'undefined' : 'number');
  w.close();
});

test('a directory moved out of the tree is a delete and is no longer watched', async () => {
  const outside = tempDir('syncward-watch-out-');
  const { root, w, events } = await watched((r) => mkdirSync(join(r, 'leaving', 'sub'), { recursive: true }));
  if (!FAN) assert.equal(w.watchedDirs, 3);
  renameSync(join(root, 'leaving'), join(outside, 'gone'));
  await until(() => has(events, 'delete', 'leaving'), 'delete of the moved-out dir');
  if (!FAN) assert.equal(w.watchedDirs, 1);
  const before = events.length;
  writeFileSync(join(outside, 'gone', 'sub', 'f'), 'x');
  // one queue (inotify's, or the fanotify group's) delivers in order: once a later write inside the tree is seen, the one outside was considered
  writeFileSync(join(root, 'marker'), 'x');
  await until(() => has(events, 'upsert', 'marker'), 'the marker written inside the tree');
  assert.deepEqual(
    events.slice(before).filter((e) => display(e.path) !== 'marker'),
    [],
    'writes outside the tree are not reported',
  );
  w.close();
});

test('a directory moved in from outside is watched and reported as a tree', async () => {
  const outside = tempDir('syncward-watch-in-');
  mkdirSync(join(outside, 'incoming', 'sub'), { recursive: true });
  writeFileSync(join(outside, 'incoming', 'sub', 'f'), 'x');
  const { root, w, events } = await watched();
  renameSync(join(outside, 'incoming'), join(root, 'incoming'));
  await until(() => has(events, 'upsertTree', 'incoming'), 'upsertTree');
  if (!FAN) await until(() => w.watchedDirs === 3, 'watches on the moved-in tree');
  writeFileSync(join(root, 'incoming', 'sub', 'g'), 'y');
  await until(() => has(events, 'upsert', 'incoming/sub/g'), 'write inside');
  w.close();
});

test('a directory renamed into a new directory before that one is watched keeps being watched there', async () => {
  // The race of a busy tree: the IN_CREATE of `fresh` is read, and before its
  // watch is added `moving` is renamed into it. No IN_MOVED_TO ever comes; the
  // IN_MOVED_FROM is read only after the walk of `fresh` found `moving` there.
  // The rename runs from the ignoreDir check that precedes the watch, so the
  // order is the same on every run. On fanotify the same check runs when the
  // create of `fresh` is read, and the rename, one event with both names, is
  // read after it: a move into the directory just reported.
  let root = '';
  let raced = false;
  const ignore = (rel: string) => {
    if (rel === 'fresh' && !raced) {
      raced = true;
      renameSync(join(root, 'moving'), join(root, 'fresh', 'inner'));
    }
    return false;
  };
  const t = await watched((r) => {
    root = r;
    mkdirSync(join(r, 'moving', 'sub'), { recursive: true });
  }, ignore);
  const { w, events } = t;
  mkdirSync(join(root, 'fresh'));
  if (FAN)
    await until(
      () => events.some((e) => e.kind === 'move' && e.path === 'fresh/inner' && e.from === 'moving'),
      'the move into the new directory',
    );
  else await until(() => has(events, 'delete', 'moving'), 'delete of the old name');
  await until(() => raced && has(events, 'upsertTree', 'fresh'), 'the new directory as a tree');
  writeFileSync(join(root, 'fresh', 'inner', 'after'), 'x');
  writeFileSync(join(root, 'fresh', 'inner', 'sub', 'deep'), 'y');
  await until(() => has(events, 'upsert', 'fresh/inner/after'), 'a write inside the moved directory');
  await until(() => has(events, 'upsert', 'fresh/inner/sub/deep'), 'a write beneath it');
  await covers(w, root, events, ['', 'fresh', 'fresh/inner', 'fresh/inner/sub'], 'after the race');
  w.close();
});

test('symlinks, hard links and fifos are reported on create (they never close)', async () => {
  const { root, w, events } = await watched((r) => writeFileSync(join(r, 'target'), 't'));
  symlinkSync('/nonexistent/absolute', join(root, 'sym'));
  linkSync(join(root, 'target'), join(root, 'hard'));
  spawnSync('mkfifo', [join(root, 'fifo')]);
  await until(
    () => has(events, 'upsert', 'sym') && has(events, 'upsert', 'hard') && has(events, 'upsert', 'fifo'),
    'upserts',
  );
  w.close();
});

test('a hard link whose other name is gone before the event is read (git: link(tmp, obj), unlink(tmp)) is reported', async () => {
  const { root, w, events } = await watched((r) => mkdirSync(join(r, 'objects')));
  writeFileSync(join(root, 'objects', 'tmp_obj_1'), 'object body');
  // both in one turn of the event loop: when the watcher reads IN_CREATE,
  // the new name already has a link count of 1, like any file being written
  linkSync(join(root, 'objects', 'tmp_obj_1'), join(root, 'objects', 'ab12'));
  rmSync(join(root, 'objects', 'tmp_obj_1'));
  await until(() => events.some((e) => display(e.path) === 'objects/ab12'), 'an event for objects/ab12');
  const last = events.filter((e) => display(e.path) === 'objects/ab12').at(-1);
  // a write: sent at the close, or at max_wait_ms when no close comes
  assert.ok(last && (last.kind === 'write' || last.kind === 'upsert'), `got ${last?.kind}`);
  w.close();
});

test('a chown through a hard link whose directory is removed before the events are read is told of: by the other name or the inode (fanotify), or by when its events were queued (inotify)', async () => {
  const { root, w, events } = await watched((r) => {
    writeFileSync(join(r, 'f'), 'one link');
    mkdirSync(join(r, 'd'));
  });
  const batches: Array<{ events: FsEvent[]; info: BatchInfo }> = [];
  w.on('events', (b: FsEvent[], info: BatchInfo = {}) => batches.push({ events: b, info }));
  const before = Date.now();
  // all in one turn of the event loop: the watcher reads nothing before the rm
  linkSync(join(root, 'f'), join(root, 'd/hl'));
  chownSync(join(root, 'd/hl'), 1001, 1001);
  rmSync(join(root, 'd'), { recursive: true });
  await until(() => has(events, 'delete', 'd'), 'the delete of d');
  if (process.env.SYNCWARD_TEST_WATCHER === 'fanotify') {
    const st = lstatSync(join(root, 'f'));
    const key = `${st.dev}:${st.ino}`;
    await until(
      () => has(events, 'upsert', 'f') || batches.some((b) => b.info.unseen?.includes(key)),
      'f, by its name or its inode',
    );
  } else {
    const hl = batches.find((b) => b.events.some((e) => display(e.path) === 'd/hl' && e.kind === 'upsert'));
    assert.ok(hl, 'the chown is reported under the name it was made through');
    assert.ok(
      hl.info.since !== undefined && hl.info.since <= before,
      `its batch says it was queued after ${hl.info.since}, the link was made at ${before}`,
    );
  }
  w.close();
});

test("a directory's own metadata change is reported under its path, never with a trailing slash", async () => {
  const { root, w, events } = await watched((r) => mkdirSync(join(r, 'docs')));
  spawnSync('chmod', ['700', join(root, 'docs')]);
  await until(() => has(events, 'upsert', 'docs'), 'upsert docs');
  // inotify: the parent's watch reports the entry, the directory's own watch reports "itself";
  // fanotify's one mark reports the change once, as an entry of its parent
  if (!FAN) await until(() => events.length >= 2, 'the event on the directory itself as well');
  assert.deepEqual(
    events.filter((e) => display(e.path).endsWith('/')).map((e) => display(e.path)),
    [],
  );
  w.close();
});

test('deletes of files and directories are reported; the directory watch is dropped', async () => {
  const { root, w, events } = await watched((r) => {
    mkdirSync(join(r, 'd', 'e'), { recursive: true });
    writeFileSync(join(r, 'd', 'e', 'f'), 'x');
  });
  rmSync(join(root, 'd'), { recursive: true });
  if (FAN) {
    // the deletes inside d name directories whose handles no longer resolve once read:
    // the delete of d, which covers them, is what is reported
    await until(() => has(events, 'delete', 'd'), 'the delete of d');
    const stray = events.filter((e) => !(e.kind === 'delete' && /^d(\/|$)/.test(display(e.path))));
    assert.deepEqual(stray, [], 'nothing but deletes of d and beneath');
  } else {
    await until(() => has(events, 'delete', 'd') && has(events, 'delete', 'd/e/f'), 'deletes');
    await until(() => w.watchedDirs === 1, 'watches dropped');
  }
  writeFileSync(join(root, 'after'), 'x');
  await until(() => has(events, 'upsert', 'after'), 'a write after the deletes');
  w.close();
});

test('ignored directories are neither watched nor descended into', async () => {
  const { root, w, events } = await watched(
    (r) => mkdirSync(join(r, 'cache', 'deep'), { recursive: true }),
    (rel) => rel === 'cache',
  );
  assert.equal(w.watchedDirs, FAN ? 0 : 1);
  writeFileSync(join(root, 'cache', 'deep', 'f'), 'x');
  writeFileSync(join(root, 'kept'), 'x');
  await until(() => has(events, 'upsert', 'kept'), 'kept file');
  assert.ok(!events.some((e) => display(e.path).startsWith('cache/')));
  w.close();
});

test('names with newlines, quotes and non-UTF-8 bytes come through byte for byte', async () => {
  const { root, w, events } = await watched();
  const name = Buffer.concat([Buffer.from("-a 'b'\n$`c"), Buffer.from([0xff, 0xfe])]);
  writeFileSync(Buffer.concat([Buffer.from(`${root}/`), name]), 'x');
  await until(() => events.some((e) => e.kind === 'upsert'), 'upsert');
  const ev = events.find((e) => e.kind === 'upsert');
  assert.deepEqual(Buffer.from(ev?.path ?? '', 'latin1'), name);
  w.close();
});

test('the root deleted or moved away is a rootGone signal', async () => {
  const a = await watched();
  rmSync(a.root, { recursive: true });
  await until(() => a.signals.some((s) => s.kind === 'rootGone'), 'rootGone on delete');
  assert.deepEqual(a.signals.find((s) => s.kind === 'rootGone')?.info, { reason: 'deleted' });
  a.w.close();

  const b = await watched();
  renameSync(b.root, `${b.root}-moved`);
  cleanup.push(`${b.root}-moved`);
  await until(() => b.signals.some((s) => s.kind === 'rootGone'), 'rootGone on move');
  assert.deepEqual(b.signals.find((s) => s.kind === 'rootGone')?.info, { reason: 'moved away' });
  b.w.close();
});

/** fanotify has no watch per directory and no watch limit: the inotify run of this file tests it */
const inotifyOnly = FAN ? 'an inotify watch limit (fanotify has none)' : false;

test('running out of watches is a watchLimit signal naming the sysctl and the numbers', {
  skip: inotifyOnly,
}, () => {
  // A user namespace has its own watch limit (/proc/sys/user/max_inotify_watches),
  // so the test lowers it there without touching the machine's.
  const root = tempDir('syncward-watch-limit-');
  for (let i = 0; i < 10; i++) mkdirSync(join(root, `d${i}`, 'sub'), { recursive: true });
  const mod = fileURLToPath(new URL('../../src/watch/index.js', import.meta.url));
  const script = `
    import { TreeWatcher } from ${JSON.stringify(mod)};
    const w = new TreeWatcher(${JSON.stringify(root)});
    w.on('watchLimit', (info) => { console.log(JSON.stringify(info)); });
    const r = await w.start();
    console.log(JSON.stringify({ started: r.dirs }));
    w.close();`;
  const res = spawnSync(
    'unshare',
    [
      '--user',
      '--map-root-user',
      'sh',
      '-c',
      'echo 5 > /proc/sys/user/max_inotify_watches && exec "$0" --input-type=module -e "$1"',
      process.execPath,
      script,
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(res.status, 0, res.stderr);
  const lines = res.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const info = lines.find((l) => 'message' in l);
  assert.ok(info, `no watchLimit signal: ${res.stdout}`);
  assert.equal(info.maxUserWatches, 5);
  assert.equal(info.watched, 5);
  assert.equal(info.needed, 21);
  assert.match(info.message, /fs\.inotify\.max_user_watches is 5/);
  assert.match(info.message, /21 directories need watching/);
  assert.deepEqual(lines.at(-1), { started: 5 });
});

test('directories left out by the watch limit are watched by themselves once it is raised, and sent whole', {
  skip: inotifyOnly,
}, () => {
  // As above, in a user namespace with its own limit, which the script then raises
  const root = tempDir('syncward-watch-limit-raised-');
  for (let i = 0; i < 10; i++) mkdirSync(join(root, `d${i}`, 'sub'), { recursive: true });
  const mod = fileURLToPath(new URL('../../src/watch/index.js', import.meta.url));
  const script = `
    import { writeFileSync } from 'node:fs';
    import { TreeWatcher } from ${JSON.stringify(mod)};
    const out = (v) => console.log(JSON.stringify(v));
    const w = new TreeWatcher(${JSON.stringify(root)});
    const events = [];
    w.on('events', (b) => events.push(...b.map((e) => e.kind + ' ' + e.path)));
    const recovered = new Promise((r) => w.on('recovered', r));
    await w.start();
    const { dirs, codes } = w.unwatchedSummary();
    out({ watched: w.watchedDirs, unwatched: dirs, codes });
    writeFileSync('/proc/sys/user/max_inotify_watches', '100');
    const info = await recovered;
    out({ watched: w.watchedDirs, unwatched: w.unwatchedSummary().dirs, root: info.root, dirs: info.dirs });
    writeFileSync(${JSON.stringify(join(root, 'd9', 'sub', 'f'))}, 'x');
    while (!events.includes('upsert d9/sub/f')) await new Promise((r) => setTimeout(r, 10));
    out({ events: events.filter((e) => e.startsWith('upsertTree')).sort() });
    w.close();`;
  const res = spawnSync(
    'unshare',
    [
      '--user',
      '--map-root-user',
      'sh',
      '-c',
      'echo 5 > /proc/sys/user/max_inotify_watches && exec "$0" --input-type=module -e "$1"',
      process.execPath,
      script,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(res.status, 0, res.stderr);
  const [before, after, sent] = res.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(before, { watched: 5, unwatched: 10, codes: ['ENOSPC'] });
  assert.deepEqual(after, { watched: 21, unwatched: 0, root: false, dirs: 10 });
  // every directory the limit left out (and what lies beneath) is sent whole
  assert.equal(sent.events.length, 10, JSON.stringify(sent.events));
  assert.ok(
    sent.events.every((e: string) => /^upsertTree d\d(\/sub)?$/.test(e)),
    JSON.stringify(sent.events),
  );
});

test('a kernel queue overflow is signalled after every directory is watched again', async (t) => {
  const q = testQueue();
  if (!canChangeQueue(q)) {
    t.skip(`needs root, a writable ${q.file} and flock(1)`);
    return;
  }
  // fanotify's queue takes every change on the filesystem: a tmpfs of its own, or other work overflows it too
  const fs = FAN ? ownFilesystem('syncward-watch-overflow-') : null;
  try {
    const ctx = await withSmallQueue(16, () => watched(undefined, undefined, fs?.dir));
    const { root, w, signals } = ctx;
    // Many events while the loop is blocked: the kernel queue (16) overflows
    for (let i = 0; i < 50; i++) mkdirSync(join(root, `n${i}`, 'inner'), { recursive: true });
    await until(() => signals.some((s) => s.kind === 'overflow'), 'overflow signal');
    if (!FAN) assert.equal(w.watchedDirs, 101, 'every directory created during the overflow is watched');
    const seen: FsEvent[] = [];
    w.on('events', (b: FsEvent[]) => seen.push(...b));
    writeFileSync(join(root, 'n49', 'inner', 'f'), 'x');
    await until(() => has(seen, 'upsert', 'n49/inner/f'), 'events keep flowing after the overflow');
    w.close();
  } finally {
    fs?.dispose();
  }
});

test('a directory created just before its parent moved away and a file took the old name is watched where it went', async () => {
  // All in one turn of the event loop, so the IN_CREATE of c is read after
  // all of it: watching c under its old path fails with ENOTDIR (a is a file
  // now), which is a stale path, not a directory gone (churn seed 542278841)
  const t = await watched((r) => {
    mkdirSync(join(r, 'a', 'b'), { recursive: true });
    mkdirSync(join(r, 'x'));
  });
  const { root, w, events } = t;
  mkdirSync(join(root, 'a', 'b', 'c'));
  renameSync(join(root, 'a', 'b'), join(root, 'x', 'b'));
  rmSync(join(root, 'a'), { recursive: true });
  writeFileSync(join(root, 'a'), 'a file now\n');
  // fanotify reads the rename when a is gone: its handle no longer resolves, so x/b comes as a new tree
  await until(() => has(events, FAN ? 'upsertTree' : 'move', 'x/b'), 'b where it went');
  if (!FAN)
    await until(() => w.watchedPaths().map(display).includes('x/b/c'), 'x/b/c watched', 3000).catch(() => {});
  await covers(w, root, events, ['', 'x', 'x/b', 'x/b/c'], 'after the moves');
  writeFileSync(join(root, 'x', 'b', 'c', 'f'), 'y');
  await until(() => has(events, 'upsert', 'x/b/c/f'), 'a write in the directory');
  w.close();
});

test('after random churn the watched directories are exactly the tree (seeded, SEED=... to rerun)', async () => {
  const { churn } = await import('../helpers/churn.js');
  const { readdirSync } = await import('node:fs');
  const seeds = process.env.SEED ? [Number(process.env.SEED)] : [11, 12, Math.floor(Math.random() * 1e9)];
  for (const seed of seeds) {
    console.log(`watch churn seed ${seed}`);
    // fanotify's queue takes every change on the filesystem, by anyone: a tmpfs of its own keeps other work out
    const fs = FAN ? ownFilesystem('syncward-watch-churn-') : null;
    const { root, w, events } = await watched(undefined, undefined, fs?.dir);
    try {
      await churn(root, seed, 1500);
      const real: string[] = [];
      const walk = (rel: string) => {
        real.push(rel);
        for (const e of readdirSync(rel ? join(root, rel) : root, { withFileTypes: true }))
          if (e.isDirectory()) walk(rel ? `${rel}/${e.name}` : e.name);
      };
      walk('');
      real.sort();
      // the last operations' events may still be in the kernel queue
      if (!FAN)
        await until(
          () => JSON.stringify(w.watchedPaths().map(display).sort()) === JSON.stringify(real),
          `seed ${seed}: watches match`,
          5000,
        ).catch(() => {});
      await covers(w, root, events, real, `seed ${seed}`);
    } finally {
      w.close();
      fs?.dispose();
    }
  }
});

test('a failure inside the inotify watcher (a bug) is a warning and a rescan, then an overflow for the catch-up sync; the watcher keeps reporting', {
  skip: FAN ? 'the inotify watcher only (TreeWatcher)' : false,
}, async () => {
  const { root, w, events, signals } = await watched();
  // the step that watches new directories throws, once
  const real = (w as unknown as { sendNewDirs: (...a: unknown[]) => Promise<void> }).sendNewDirs;
  let thrown = 0;
  (w as unknown as { sendNewDirs: () => Promise<void> }).sendNewDirs = async () => {
    thrown++;
    throw new Error('injected watcher bug');
  };
  mkdirSync(join(root, 'd1'));
  await until(() => signals.some((s) => s.kind === 'overflow'), 'the overflow after the failure');
  assert.equal(thrown, 1);
  const warning = signals.find((s) => s.kind === 'warning')?.info as { code: string; message: string };
  assert.equal(warning.code, 'EINTERNAL');
  assert.match(warning.message, /injected watcher bug[\s\S]*rescans the tree and a full sync runs/);
  // the rescan watched the directory the failed step did not
  assert.deepEqual(w.watchedPaths().map(display).sort(), ['', 'd1']);
  (w as unknown as { sendNewDirs: typeof real }).sendNewDirs = real;
  writeFileSync(join(root, 'd1', 'after.txt'), 'x');
  await until(() => has(events, 'upsert', 'd1/after.txt'), 'a write in the rescanned directory');
});
