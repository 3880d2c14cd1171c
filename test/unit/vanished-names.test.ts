import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VANISHED_WAIT_MS, VanishedNames } from '../../src/watch/vanished.js';

test('a changed name found gone, then deleted, gives the oldest time its events were queued after', () => {
  const v = new VanishedNames();
  v.changed('d/hl', 2_000, 10_000);
  v.changed('d/hl', 1_000, 10_001);
  v.changed('d/hl', 3_000, 10_002);
  assert.equal(v.deleted('d/hl', false), 1_000);
  assert.equal(v.size, 0, 'forgotten once its delete came');
  assert.equal(v.deleted('d/hl', false), undefined, 'a second delete tells nothing');
});

test('a changed name renamed before it was looked at is forgotten: its file lives on under the new name', () => {
  const v = new VanishedNames();
  v.changed('tmp', 1_000, 10_000);
  assert.equal(v.moved('tmp', false), 1_000, 'its time, in case the new name is gone as well');
  assert.equal(v.deleted('tmp', false), undefined);
  assert.equal(v.size, 0);
});

test('a directory deleted or renamed takes the changed names beneath it, not a sibling sharing its prefix', () => {
  const v = new VanishedNames();
  v.changed('snap/d/a', 3_000, 10_000);
  v.changed('snap/b', 2_000, 10_000);
  v.changed('snap2/c', 1_000, 10_000);
  assert.equal(v.deleted('snap', true), 2_000);
  assert.equal(v.size, 1, 'snap2/c stays');
  assert.equal(v.moved('snap2', true), 1_000);
  assert.equal(v.size, 0);
  v.changed('f', 5_000, 10_000);
  assert.equal(v.deleted('', true), 5_000, 'the root takes everything');
});

test('a file deleted under a name that was not noted tells nothing', () => {
  const v = new VanishedNames();
  v.changed('a', 1_000, 10_000);
  assert.equal(v.deleted('ab', false), undefined);
  assert.equal(v.deleted('a/b', true), undefined);
  assert.equal(v.size, 1);
});

test('a changed name whose delete or rename never comes is forgotten after a while', () => {
  const v = new VanishedNames();
  v.changed('x', 1_000, 10_000);
  v.prune(10_000 + VANISHED_WAIT_MS);
  assert.equal(v.size, 1, 'kept for the whole wait');
  v.prune(10_001 + VANISHED_WAIT_MS);
  assert.equal(v.size, 0);
});
