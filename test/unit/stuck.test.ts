import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releasedBy, settledState, triageFailures } from '../../src/dispatch/stuck.js';
import {
  excludeArgs,
  excludeRule,
  exclusionFor,
  PATTERN_MAX,
  RSYNC_PATH_MAX,
} from '../../src/transport/index.js';
import { brief } from '../../src/util/bytes.js';

const deep = (n: number, name = 'd'.repeat(250)) => Array.from({ length: n }, () => name).join('/');

test('a stuck path is left out by an anchored rule that matches it literally', () => {
  assert.equal(excludeRule('a/b c/f.txt'), '--filter=- /a/b c/f.txt');
  // a wildcard in the name: every wildcard and backslash escaped, so it matches only itself
  assert.equal(excludeRule('x/*[1]?\\'), '--filter=- /x/\\*\\[1]\\?\\\\');
  // bytes argv cannot carry (non-UTF-8, control characters) match any one byte
  assert.equal(excludeRule('caf\xc3\xa9/a\nb'), '--filter=- /caf??/a?b');
});

test('a pattern too long for rsync keeps its ends and matches the components between them with *', () => {
  const p = deep(16);
  const rule = excludeRule(p);
  assert.ok(rule.length - '--filter=- '.length <= PATTERN_MAX, `pattern of ${rule.length} bytes`);
  const parts = rule.slice('--filter=- /'.length).split('/');
  assert.equal(parts.length, 16, 'the same depth');
  assert.equal(parts[0], 'd'.repeat(250));
  assert.equal(parts[15], 'd'.repeat(250));
  assert.ok(parts.includes('*'));
});

test('a path longer than rsync can hold is left out through the deepest directory above it that fits', () => {
  const x = deep(17);
  assert.ok(x.length >= RSYNC_PATH_MAX);
  assert.equal(exclusionFor(x), deep(16));
  assert.equal(exclusionFor('short/path'), 'short/path');
  // two long paths under the same directory: one rule
  assert.equal(excludeArgs([`${deep(16)}/${'e'.repeat(250)}`, `${deep(16)}/${'f'.repeat(250)}`]).length, 1);
  // the root is never left out, nor a path the call lists itself
  assert.deepEqual(excludeArgs(['', 'a/b'], new Set(['a/b'])), []);
});

test('triage: a failure beneath a parent that is no longer a directory is satisfied, others retry, then stick', () => {
  const changes = [
    { path: 'swap/d1/sub', op: 'delete' as const },
    { path: 'swap/d1', op: 'upsert' as const },
    { path: 'secret', op: 'upsert' as const },
  ];
  const t = triageFailures({
    changes,
    failed: ['swap/d1/sub', 'secret', 'tree/unlistable'],
    notDirectory: new Set(['swap/d1/sub']),
    attempts: new Map([['secret', 1]]),
    limit: 2,
  });
  assert.deepEqual(t.satisfied, [{ path: 'swap/d1/sub', op: 'delete' }]);
  assert.deepEqual(t.stuck, [{ path: 'secret', op: 'upsert' }]);
  // not listed in the batch (found beneath a tree): retried as a tree, so it is listed again
  assert.deepEqual(t.retry, [{ path: 'tree/unlistable', op: 'upsertTree' }]);
  assert.deepEqual(
    [...t.attempts],
    [
      ['secret', 2],
      ['tree/unlistable', 1],
    ],
  );
});

test("triage: the batch's changes beneath a path to retry go again with it, those beneath a stuck or satisfied one do not", () => {
  // rename d/s to m, then d to n, the events read in the other order: the delete of d/s is newer than d's
  const changes = [
    { path: 'd', op: 'delete' as const },
    { path: 'd/s', op: 'delete' as const },
    { path: 'gone', op: 'delete' as const },
    { path: 'gone/x', op: 'upsert' as const },
    { path: 'swap', op: 'upsert' as const },
    { path: 'swap/f', op: 'upsert' as const },
    { path: 'other', op: 'upsert' as const },
  ];
  const t = triageFailures({
    changes,
    failed: ['d', 'gone', 'swap'],
    notDirectory: new Set(['swap']),
    attempts: new Map([['gone', 1]]),
    limit: 2,
  });
  assert.deepEqual(t.retry, [{ path: 'd', op: 'delete' }]);
  assert.deepEqual(t.alongside, [{ path: 'd/s', op: 'delete' }]);
  assert.deepEqual(t.stuck, [{ path: 'gone', op: 'delete' }]);
});

test('an event on a path or a directory above it releases the stuck paths beneath', () => {
  const stuck = ['a/b/f', 'a/bc', 'x/y'];
  assert.deepEqual(releasedBy(stuck, ['a/b']), ['a/b/f']);
  assert.deepEqual(releasedBy(stuck, ['x/y', 'a/bc']), ['a/bc', 'x/y']);
  assert.deepEqual(releasedBy(stuck, ['']), stuck);
  assert.deepEqual(releasedBy(stuck, ['a']), ['a/b/f', 'a/bc']);
  assert.deepEqual(releasedBy(stuck, ['q']), []);
});

test('the state after a transfer stays lagging while the oldest pending change is too old', () => {
  const base = { now: 100_000, lagLimitMs: 60_000 };
  assert.equal(settledState({ ...base, busy: false, oldestPendingAt: 10_000 }), 'lagging');
  assert.equal(settledState({ ...base, busy: true, oldestPendingAt: 90_000 }), 'syncing');
  assert.equal(settledState({ ...base, busy: false, oldestPendingAt: null }), 'idle');
});

test('a name near 4,096 bytes is shortened in one-line messages, keeping both ends', () => {
  const long = `${'a'.repeat(3000)}/${'z'.repeat(1000)}`;
  const b = brief(long);
  assert.equal(b.length, 160);
  assert.ok(b.startsWith('aaa') && b.endsWith('zzz') && b.includes('…'));
  assert.equal(brief('short/name'), 'short/name');
});
