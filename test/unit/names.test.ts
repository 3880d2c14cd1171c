import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable } from '../../src/cli/names.js';
import { plannedChange, plannedText } from '../../src/cli/sync.js';

const bytes = (...b: number[]) => Buffer.from(b).toString('latin1');

test('a printed name reads back to exactly one name: UTF-8 as it is, controls, stray bytes and backslashes escaped', () => {
  assert.equal(printable(''), '.');
  assert.equal(printable('plain/name with spaces'), 'plain/name with spaces');
  assert.equal(printable(Buffer.from('café/日本').toString('latin1')), 'café/日本');
  assert.equal(printable('a\nb\tc\x7f'), 'a\\x0ab\\x09c\\x7f');
  assert.equal(printable(bytes(0x61, 0xff, 0xc3)), 'a\\xff\\xc3', 'bytes that start no UTF-8 sequence');
  // the name "a\x0ab" (a backslash, then x0ab) and "a<newline>b" print differently
  assert.equal(printable('a\\x0ab'), 'a\\\\x0ab');
  assert.notEqual(printable('a\\x0ab'), printable('a\nb'));
});

test('a dry run says send for new and changed content, update for attributes, delete for what only the target has', () => {
  const changes = [
    plannedChange({ kind: 'missing', path: 'n', detail: 'file', type: 'file' }),
    plannedChange({ kind: 'content', path: 'c', detail: 'size', type: 'file' }),
    plannedChange({ kind: 'metadata', path: 'd', detail: 'mode', type: 'dir' }),
    plannedChange({ kind: 'extra', path: 'x\ny', detail: 'entry', type: 'file' }),
  ];
  assert.deepEqual(
    changes.map((c) => c.op),
    ['send', 'send', 'update', 'delete'],
  );
  assert.equal(
    plannedText('www -> web1', changes),
    'www -> web1: would send 2, update 1, delete 1\n  send    n  (file)\n  send    c  (size)\n  update  d  (mode)\n  delete  x\\x0ay  (entry)\n',
  );
});
