import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Change } from '../../src/change/index.js';
import { Coalescer, changesOf } from '../../src/coalesce/index.js';
import type { FsEvent } from '../../src/watch/types.js';

const write = (path: string): FsEvent => ({ kind: 'write', path, isDir: false });
const upsert = (path: string, isDir = false): FsEvent => ({ kind: 'upsert', path, isDir });
const tree = (path: string): FsEvent => ({ kind: 'upsertTree', path, isDir: true });
const del = (path: string, isDir = false): FsEvent => ({ kind: 'delete', path, isDir });
const move = (from: string, path: string, isDir = false): FsEvent => ({
  kind: 'move',
  from,
  path,
  isDir,
  cookie: 1,
});

/** Feeds one watcher event to `c` as the pipeline does: through changesOf. */
function add(c: Coalescer, ev: FsEvent, now: number): void {
  for (const change of changesOf([ev])) c.add(change, now);
}

/** A coalescer fed `events` at `now`, with delay 0 and a long maxWait unless told. */
function fed(events: FsEvent[], opts = { delayMs: 0, maxWaitMs: 10_000 }, now = 0): Coalescer {
  const c = new Coalescer(opts);
  for (const ev of events) add(c, ev, now);
  return c;
}

const ops = (changes: Change[]) => changes.map((c) => `${c.op} ${c.path}`);

test('create, write and close become one upsert', () => {
  const c = fed([write('f'), write('f'), write('f'), upsert('f')]);
  assert.deepEqual(ops(c.take(0)), ['upsert f']);
  assert.equal(c.size, 0);
});

test('many closes of the same file become one upsert', () => {
  const c = fed([upsert('f'), write('f'), upsert('f'), upsert('f')]);
  assert.equal(c.size, 1);
  assert.deepEqual(ops(c.take(0)), ['upsert f']);
});

test('a file being written is not sent before it is closed', () => {
  const c = fed([write('f')]);
  assert.equal(c.hasReady(0), false);
  assert.deepEqual(c.take(5_000), []);
  add(c, upsert('f'), 6_000);
  assert.deepEqual(ops(c.take(6_000)), ['upsert f']);
});

test('a file written continuously is still sent within maxWait', () => {
  const c = new Coalescer({ delayMs: 0, maxWaitMs: 1_000 });
  for (let t = 0; t < 1_000; t += 10) add(c, write('log'), t);
  assert.deepEqual(c.take(999), []);
  assert.equal(c.nextReadyAt(), 1_000);
  assert.deepEqual(ops(c.take(1_000)), ['upsert log']);
  // still being written: the next round starts from its next event
  add(c, write('log'), 1_010);
  assert.equal(c.nextReadyAt(), 2_010);
});

test('a file rewritten after its close waits for the next close again', () => {
  const c = new Coalescer({ delayMs: 0, maxWaitMs: 1_000 });
  add(c, upsert('f'), 0);
  add(c, write('f'), 5);
  assert.equal(c.hasReady(5), false);
  assert.equal(c.nextReadyAt(), 1_000, 'still bounded by the first event');
  add(c, upsert('f'), 7);
  assert.deepEqual(ops(c.take(7)), ['upsert f']);
});

test('upsert then delete becomes delete', () => {
  assert.deepEqual(ops(fed([write('f'), upsert('f'), del('f')]).take(0)), ['delete f']);
});

test('a file deleted while being written is a complete delete', () => {
  assert.deepEqual(ops(fed([write('f'), del('f')]).take(0)), ['delete f']);
});

test('delete then upsert becomes upsert', () => {
  assert.deepEqual(ops(fed([del('f'), upsert('f')]).take(0)), ['upsert f']);
});

test('delete then write waits for the close, as a new file would', () => {
  const c = fed([del('f'), write('f')]);
  assert.equal(c.hasReady(0), false);
  add(c, upsert('f'), 1);
  assert.deepEqual(ops(c.take(1)), ['upsert f']);
});

test('delete then upsertTree becomes upsertTree', () => {
  assert.deepEqual(ops(fed([del('d', true), tree('d')]).take(0)), ['upsertTree d']);
});

test('a directory deleted and its metadata changed again is sent as a tree', () => {
  // its old contents may still be on the target; only a tree transfer removes them
  assert.deepEqual(ops(fed([del('d', true), upsert('d', true)]).take(0)), ['upsertTree d']);
});

test('upsertTree then upsert of the same path stays upsertTree', () => {
  assert.deepEqual(ops(fed([tree('d'), upsert('d', true)]).take(0)), ['upsertTree d']);
});

test('upsert then upsertTree becomes upsertTree', () => {
  assert.deepEqual(ops(fed([upsert('d', true), tree('d')]).take(0)), ['upsertTree d']);
});

test('upsertTree then delete becomes delete', () => {
  assert.deepEqual(ops(fed([tree('d'), del('d', true)]).take(0)), ['delete d']);
});

test('a directory delete swallows pending changes beneath it', () => {
  const c = fed([upsert('d/a'), write('d/b'), del('d/sub/x'), tree('d/sub/t'), upsert('e'), del('d', true)]);
  assert.equal(c.size, 2);
  assert.deepEqual(ops(c.take(0)), ['delete d', 'upsert e']);
});

test('any delete of a path with pending entries beneath it swallows them', () => {
  // the watcher may not know it was a directory (moved out of the tree)
  const c = fed([upsert('d/a'), del('d', false)]);
  assert.deepEqual(ops(c.take(0)), ['delete d']);
});

test('a delete does not swallow siblings that share a name prefix', () => {
  const c = fed([upsert('dir2/x'), upsert('dir-x'), upsert('dir/x'), del('dir', true)]);
  assert.deepEqual(ops(c.take(0)), ['delete dir', 'upsert dir-x', 'upsert dir2/x']);
});

test('an upsertTree covers what was pending beneath it', () => {
  const c = fed([upsert('d/a'), del('d/b'), write('d/c/f'), tree('d')]);
  assert.deepEqual(ops(c.take(0)), ['upsertTree d']);
});

test('changes beneath a pending upsertTree are absorbed into it', () => {
  const c = fed([tree('d'), upsert('d/x'), write('d/y'), del('d/z')]);
  assert.equal(c.size, 1);
  assert.deepEqual(ops(c.take(0)), ['upsertTree d']);
});

test('changes beneath an upsertTree already taken are kept', () => {
  const c = fed([tree('d')]);
  assert.deepEqual(ops(c.take(0)), ['upsertTree d']);
  add(c, upsert('d/x'), 1);
  add(c, del('d/y'), 1);
  assert.deepEqual(ops(c.take(1)), ['upsert d/x', 'delete d/y']);
});

test('a file move becomes delete of the old path and upsert of the new', () => {
  assert.deepEqual(ops(fed([move('a', 'b')]).take(0)), ['delete a', 'upsert b']);
});

test('a directory move becomes delete of the old path and upsertTree of the new', () => {
  assert.deepEqual(ops(fed([move('d', 'e', true)]).take(0)), ['delete d', 'upsertTree e']);
});

test('moving a directory swallows the pending changes beneath its old path', () => {
  const c = fed([upsert('d/x'), write('d/y'), upsert('keep'), move('d', 'e', true)]);
  assert.deepEqual(ops(c.take(0)), ['delete d', 'upsertTree e', 'upsert keep']);
});

test('a file moved onto another replaces it', () => {
  const c = fed([upsert('a'), upsert('b'), move('a', 'b')]);
  assert.deepEqual(ops(c.take(0)), ['delete a', 'upsert b']);
});

test('a file moved away and back is sent again', () => {
  assert.deepEqual(ops(fed([move('a', 'b'), move('b', 'a')]).take(0)), ['upsert a', 'delete b']);
});

test("the root's own metadata is an ordinary upsert of ''", () => {
  const c = fed([upsert('', true), upsert('x')]);
  assert.deepEqual(ops(c.take(0)), ['upsert ', 'upsert x']);
});

test('an upsertTree of the root covers everything pending', () => {
  const c = fed([upsert('x'), del('d/y'), tree('')]);
  assert.deepEqual(ops(c.take(0)), ['upsertTree ']);
});

test('delayMs holds a complete entry until that long after its last event', () => {
  const c = new Coalescer({ delayMs: 100, maxWaitMs: 10_000 });
  add(c, upsert('f'), 0);
  assert.equal(c.nextReadyAt(), 100);
  add(c, upsert('f'), 50);
  assert.equal(c.nextReadyAt(), 150);
  assert.equal(c.hasReady(149), false);
  assert.deepEqual(c.take(149), []);
  assert.equal(c.hasReady(150), true);
  assert.deepEqual(ops(c.take(150)), ['upsert f']);
});

test('delayMs never holds an entry past maxWait after its first event', () => {
  const c = new Coalescer({ delayMs: 100, maxWaitMs: 250 });
  for (let t = 0; t <= 240; t += 60) add(c, upsert('f'), t);
  assert.equal(c.nextReadyAt(), 250);
  assert.deepEqual(c.take(249), []);
  assert.deepEqual(ops(c.take(250)), ['upsert f']);
});

test('with delayMs 0 a complete entry is ready at once', () => {
  const c = new Coalescer({ delayMs: 0, maxWaitMs: 1_000 });
  add(c, upsert('f'), 42);
  assert.equal(c.hasReady(42), true);
  assert.equal(c.nextReadyAt(), 42);
});

test('take returns only what is ready and leaves the rest', () => {
  const c = new Coalescer({ delayMs: 100, maxWaitMs: 10_000 });
  add(c, upsert('a'), 0);
  add(c, write('c'), 0);
  add(c, upsert('b'), 60);
  assert.deepEqual(ops(c.take(100)), ['upsert a']);
  assert.equal(c.size, 2);
  assert.equal(c.nextReadyAt(), 160);
  assert.deepEqual(ops(c.take(160)), ['upsert b']);
  assert.equal(c.nextReadyAt(), 10_000);
  assert.deepEqual(ops(c.take(10_000)), ['upsert c']);
  assert.equal(c.size, 0);
  assert.equal(c.nextReadyAt(), undefined);
  assert.equal(c.hasReady(1e12), false);
});

test('take returns paths sorted bytewise, parents first', () => {
  const c = fed([upsert('b'), upsert('a/z'), upsert('a'), upsert('\xff'), upsert('a-b'), upsert('A')]);
  assert.deepEqual(
    c.take(0).map((x) => x.path),
    ['A', 'a', 'a-b', 'a/z', 'b', '\xff'],
  );
});

test('a path taken can be queued again by new events', () => {
  const c = fed([upsert('d/f')]);
  c.take(0);
  assert.equal(c.size, 0);
  add(c, upsert('d/f'), 1);
  assert.equal(c.size, 1);
  assert.deepEqual(ops(c.take(1)), ['upsert d/f']);
});

test('an entry swallowed by a delete keeps its maxWait bound', () => {
  const c = new Coalescer({ delayMs: 500, maxWaitMs: 1_000 });
  add(c, write('d/f'), 0);
  add(c, del('d', true), 900);
  // the delete alone would wait until 1400; the write it covers began at 0
  assert.equal(c.nextReadyAt(), 1_000);
  assert.deepEqual(ops(c.take(1_000)), ['delete d']);
});

test('an older delete above a ready entry is sent with it', () => {
  // an old delete handed back after a failed transfer, with newer work beneath it
  const c = new Coalescer({ delayMs: 0, maxWaitMs: 1_000 });
  add(c, upsert('d/x'), 0);
  c.addChange({ path: 'd', op: 'delete' }, 0);
  assert.deepEqual(ops(c.take(0)), ['delete d', 'upsert d/x']);
});

test('addChange is ready at once, whatever delayMs says', () => {
  const c = new Coalescer({ delayMs: 5_000, maxWaitMs: 10_000 });
  c.addChange({ path: 'a', op: 'upsert' }, 10);
  add(c, upsert('b'), 10);
  assert.equal(c.hasReady(10), true);
  assert.deepEqual(ops(c.take(10)), ['upsert a']);
  assert.equal(c.size, 1);
});

test('a change put back after a failed transfer does not undo a newer delete', () => {
  const c = new Coalescer({ delayMs: 0, maxWaitMs: 1_000 });
  add(c, upsert('f'), 0);
  const batch = c.take(0);
  add(c, del('f'), 1); // meanwhile, while the transfer ran
  for (const ch of batch) c.addChange(ch, 2); // it failed
  assert.deepEqual(ops(c.take(2)), ['delete f']);
});

test('a change put back beneath a newer directory delete is covered by it', () => {
  const c = new Coalescer({ delayMs: 100, maxWaitMs: 1_000 });
  add(c, del('d', true), 10);
  c.addChange({ path: 'd/x', op: 'upsert' }, 20);
  assert.equal(c.size, 1);
  assert.equal(c.hasReady(20), true, 'the retry stays urgent');
  assert.deepEqual(ops(c.take(20)), ['delete d']);
});

test('a tree transfer put back stays a tree transfer under a newer upsert', () => {
  const c = fed([upsert('d', true), upsert('d/x')]);
  c.addChange({ path: 'd', op: 'upsertTree' }, 0);
  assert.deepEqual(ops(c.take(0)), ['upsertTree d']);
});

test('a delete put back under a newer upsert of a directory becomes a tree transfer', () => {
  const c = fed([upsert('d', true)]);
  c.addChange({ path: 'd', op: 'delete' }, 0);
  assert.deepEqual(ops(c.take(0)), ['upsertTree d']);
});

test('a delete put back under a newer file upsert is the upsert', () => {
  const c = fed([upsert('f')]);
  c.addChange({ path: 'f', op: 'delete' }, 0);
  assert.deepEqual(ops(c.take(0)), ['upsert f']);
});

test('clear drops everything', () => {
  const c = fed([upsert('a'), write('b'), del('c/d')]);
  c.addChange({ path: 'e', op: 'delete' }, 0);
  c.clear();
  assert.equal(c.size, 0);
  assert.equal(c.nextReadyAt(), undefined);
  assert.deepEqual(c.take(1e12), []);
  add(c, upsert('a'), 1);
  assert.deepEqual(ops(c.take(1)), ['upsert a']);
});

test('non-UTF-8 names are kept byte for byte', () => {
  const name = 'd\xff\xfe/caf\xe9';
  assert.deepEqual(fed([upsert(name)]).take(0), [{ path: name, op: 'upsert' }]);
});

test('a clock that steps back does not reorder anything', () => {
  const c = new Coalescer({ delayMs: 100, maxWaitMs: 1_000 });
  add(c, upsert('a'), 1_000);
  add(c, upsert('b'), 500); // treated as 1000
  assert.equal(c.nextReadyAt(), 1_100);
  assert.deepEqual(ops(c.take(1_100)), ['upsert a', 'upsert b']);
});

test('100,000 pending deletes collapse into one delete of their parent', () => {
  // speed is measured in bench/coalescer.ts, not asserted here (timings flake on shared machines)
  const c = new Coalescer({ delayMs: 1_000, maxWaitMs: 10_000 });
  for (let i = 0; i < 100_000; i++) add(c, del(`big/d${i % 100}/f${i}`), 0);
  assert.equal(c.size, 100_000);
  add(c, del('big', true), 1);
  assert.equal(c.size, 1);
  assert.deepEqual(ops(c.take(1e6)), ['delete big']);
});
