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
      { path: 'a', op: 'upsert' },
      { path: 'b', op: 'upsert' },
      { path: 'c', op: 'upsertTree' },
      { path: 'd', op: 'delete' },
    ],
  );
});

test('a move is the delete of the old name and the arrival of the new one', () => {
  assert.deepEqual(changesOf([{ kind: 'move', path: 'new', from: 'old', isDir: true, cookie: 1 }]), [
    { path: 'old', op: 'delete' },
    { path: 'new', op: 'upsertTree' },
  ]);
  assert.deepEqual(changesOf([{ kind: 'move', path: 'f2', from: 'f1', isDir: false, cookie: 2 }]), [
    { path: 'f1', op: 'delete' },
    { path: 'f2', op: 'upsert' },
  ]);
});
