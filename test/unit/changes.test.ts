import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changesOf } from '../../src/coalesce/index.js';

test('each event kind becomes the change the journal must keep', () => {
  assert.deepEqual(
    changesOf([
      { kind: 'write', path: 'a', isDir: false },
      { kind: 'upsert', path: 'b', isDir: false },
      { kind: 'upsertTree', path: 'c', isDir: true },
      { kind: 'delete', path: 'd', isDir: false },
    ]),
    [
      // still being written: the journal keeps the upsert, the coalescer waits for the close
      { path: 'a', op: 'upsert', writing: true },
      { path: 'b', op: 'upsert' },
      { path: 'c', op: 'upsertTree' },
      { path: 'd', op: 'delete' },
    ],
  );
});

test('a move is the delete of the old name and the arrival of the new one', () => {
  assert.deepEqual(changesOf([{ kind: 'move', path: 'new', from: 'old', isDir: true, cookie: 1 }]), [
    { path: 'old', op: 'delete' },
    // the arrival keeps the old name: a transfer may use it as its basis
    { path: 'new', op: 'upsertTree', from: 'old' },
  ]);
  assert.deepEqual(changesOf([{ kind: 'move', path: 'f2', from: 'f1', isDir: false, cookie: 2 }]), [
    { path: 'f1', op: 'delete' },
    { path: 'f2', op: 'upsert', from: 'f1' },
  ]);
});

test("a directory's own upsert is marked as one; a move in from outside is only its arrival", () => {
  assert.deepEqual(
    changesOf([
      { kind: 'upsert', path: 'd', isDir: true },
      { kind: 'move', path: 'in', isDir: true, cookie: 3 },
    ]),
    [
      { path: 'd', op: 'upsert', dir: true },
      { path: 'in', op: 'upsertTree' },
    ],
  );
});
