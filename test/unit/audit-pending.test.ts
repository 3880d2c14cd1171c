import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type DriftEntry,
  isPending,
  NOTHING_PENDING,
  pendingIndex,
  splitPending,
  unionPending,
} from '../../src/audit/index.js';

const e = (kind: DriftEntry['kind'], path: string, type: DriftEntry['type'] = 'file'): DriftEntry => ({
  kind,
  path,
  detail: '',
  type,
});

test('a difference on a pending path is pending; one on any other path is drift', () => {
  const idx = pendingIndex([{ path: 'a/new.txt', op: 'upsert' }]);
  assert.equal(isPending(e('missing', 'a/new.txt'), idx), true);
  assert.equal(isPending(e('missing', 'a/other.txt'), idx), false);
  assert.equal(isPending(e('content', 'a'), idx), false);
  assert.equal(isPending(e('missing', 'x'), NOTHING_PENDING), false);
});

test('everything beneath a pending upsertTree or delete is pending, siblings are not', () => {
  const idx = pendingIndex([
    { path: 'burst', op: 'upsertTree' },
    { path: 'gone', op: 'delete' },
  ]);
  assert.equal(isPending(e('missing', 'burst/d/f1'), idx), true);
  assert.equal(isPending(e('extra', 'gone/sub/old'), idx), true);
  assert.equal(isPending(e('missing', 'burstx/f'), idx), false);
  assert.equal(isPending(e('metadata', 'other/f'), idx), false);
});

test('a directory missing or extra on the target with pending work beneath it is pending; its mode is not', () => {
  const idx = pendingIndex([{ path: 'a/b/c/f', op: 'upsert' }]);
  assert.equal(isPending(e('missing', 'a', 'dir'), idx), true);
  assert.equal(isPending(e('missing', 'a/b/c', 'dir'), idx), true);
  assert.equal(isPending(e('metadata', 'a/b', 'dir'), idx), false);
  // a file of that name is not explained by a path beneath it
  assert.equal(isPending(e('missing', 'a/b', 'file'), idx), false);
});

test('a full sync owed makes every difference pending', () => {
  const idx = pendingIndex([], 'inotify queue overflow');
  assert.equal(isPending(e('extra', 'anything'), idx), true);
  const root = pendingIndex([{ path: '', op: 'upsertTree' }]);
  assert.equal(isPending(e('content', 'deep/file'), root), true);
});

test('the union of the snapshots before and after the dry run covers both', () => {
  const before = pendingIndex([{ path: 'early', op: 'upsert' }]);
  const after = pendingIndex([{ path: 'late', op: 'upsertTree' }]);
  const both = unionPending(before, after);
  const { drift, pending } = splitPending(
    [e('missing', 'early'), e('missing', 'late/x'), e('extra', 'hand-made')],
    both,
  );
  assert.deepEqual(
    pending.map((x) => x.path),
    ['early', 'late/x'],
  );
  assert.deepEqual(
    drift.map((x) => x.path),
    ['hand-made'],
  );
});
