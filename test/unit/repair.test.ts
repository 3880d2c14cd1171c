import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repairChanges } from '../../src/audit/index.js';

test('a repair deletes what is extra, sends a missing directory whole and anything else as itself', () => {
  assert.deepEqual(
    repairChanges([
      { kind: 'extra', path: 'junk', detail: 'entry', type: 'file' },
      { kind: 'missing', path: 'dir', detail: 'directory', type: 'dir' },
      { kind: 'missing', path: 'f', detail: 'file', type: 'file' },
      { kind: 'content', path: 'g', detail: 'checksum', type: 'file' },
      { kind: 'metadata', path: 'd2', detail: 'mode', type: 'dir' },
    ]),
    [
      { path: 'junk', op: 'delete' },
      { path: 'dir', op: 'upsertTree' },
      { path: 'f', op: 'upsert' },
      { path: 'g', op: 'upsert' },
      { path: 'd2', op: 'upsert' },
    ],
  );
});

test('a repair leaves out what lies beneath an extra or missing directory: that directory covers it', () => {
  assert.deepEqual(
    repairChanges([
      { kind: 'extra', path: 'old', detail: 'entry', type: 'dir' },
      { kind: 'extra', path: 'old/a', detail: 'entry', type: 'file' },
      { kind: 'extra', path: 'old/sub/b', detail: 'entry', type: 'file' },
      { kind: 'missing', path: 'new', detail: 'directory', type: 'dir' },
      { kind: 'missing', path: 'new/c', detail: 'file', type: 'file' },
      { kind: 'extra', path: 'older', detail: 'entry', type: 'file' },
      { kind: 'content', path: 'kept/d', detail: 'size', type: 'file' },
    ]),
    [
      { path: 'old', op: 'delete' },
      { path: 'new', op: 'upsertTree' },
      { path: 'older', op: 'delete' },
      { path: 'kept/d', op: 'upsert' },
    ],
  );
});
