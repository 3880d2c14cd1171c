import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  afterRound,
  failureKind,
  fullSyncAfterRecovery,
  RETRY_FIRST_MS,
  RETRY_MAX_MS,
  retryDelayMs,
  stopsRound,
} from '../../src/watch/recovery.js';

test('a directory deleted or replaced before it was listed is gone, every other failure leaves it unwatched', () => {
  assert.equal(failureKind('ENOENT'), 'gone');
  assert.equal(failureKind('ENOTDIR'), 'gone');
  for (const code of ['EMFILE', 'ENFILE', 'ENOMEM', 'ENOSPC', 'EACCES', 'EIO', undefined])
    assert.equal(failureKind(code), 'unwatched', String(code));
});

test('a shortage of fds, memory or watches stops a retry round; a directory-specific failure does not', () => {
  for (const code of ['EMFILE', 'ENFILE', 'ENOMEM', 'ENOSPC']) assert.equal(stopsRound(code), true, code);
  for (const code of ['EACCES', 'EIO', 'ELOOP']) assert.equal(stopsRound(code), false, code);
});

test('retry delays double from the first and stop growing at the cap', () => {
  assert.equal(retryDelayMs(0), RETRY_FIRST_MS);
  assert.equal(retryDelayMs(1), RETRY_FIRST_MS * 2);
  assert.equal(retryDelayMs(3), RETRY_FIRST_MS * 8);
  assert.equal(retryDelayMs(1000), RETRY_MAX_MS);
  assert.equal(retryDelayMs(-1), RETRY_FIRST_MS);
  let last = 0;
  for (let a = 0; a < 40; a++) {
    const d = retryDelayMs(a);
    assert.ok(d >= last && d <= RETRY_MAX_MS, `attempt ${a}: ${d}`);
    last = d;
  }
});

test('a round that leaves nothing unwatched recovers; one that made progress retries soon; one that did not waits longer', () => {
  assert.deepEqual(afterRound(5, { left: 0, progressed: true }), { kind: 'recovered' });
  assert.deepEqual(afterRound(5, { left: 0, progressed: false }), { kind: 'recovered' });
  assert.deepEqual(afterRound(5, { left: 3, progressed: true }), {
    kind: 'retry',
    attempt: 0,
    delayMs: RETRY_FIRST_MS,
  });
  assert.deepEqual(afterRound(2, { left: 3, progressed: false }), {
    kind: 'retry',
    attempt: 3,
    delayMs: retryDelayMs(3),
  });
});

test('after recovery a full sync runs when the spell lasted as long as the alert threshold, or the root was not listed', () => {
  assert.equal(fullSyncAfterRecovery({ unwatchedMs: 500, alertAfterMs: 30_000, root: false }), false);
  assert.equal(fullSyncAfterRecovery({ unwatchedMs: 30_000, alertAfterMs: 30_000, root: false }), true);
  assert.equal(fullSyncAfterRecovery({ unwatchedMs: 500, alertAfterMs: 30_000, root: true }), true);
});
