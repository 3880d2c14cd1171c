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
