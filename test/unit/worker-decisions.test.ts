import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultBackoff } from '../../src/dispatch/backoff.js';
import { targetFailure } from '../../src/dispatch/decide.js';

const fixed = () => 1;

test('a failed transfer makes the target down, alerted once, backing off as transient', () => {
  const first = targetFailure('transient', 1, 'syncing', false, defaultBackoff, fixed);
  assert.deepEqual(first, { delayMs: 500, state: 'down', alert: 'down' });
  // already down: no second alert, a longer wait
  assert.deepEqual(targetFailure('transient', 3, 'down', false, defaultBackoff, fixed), {
    delayMs: 2000,
    state: 'down',
    alert: null,
  });
});

test('misconfiguration starts slow and is its own state; a full disk is down with its own alert', () => {
  assert.deepEqual(targetFailure('misconfigured', 1, 'idle', false, defaultBackoff, fixed), {
    delayMs: 30_000,
    state: 'misconfigured',
    alert: 'misconfigured',
  });
  assert.deepEqual(targetFailure('noSpace', 1, 'idle', false, defaultBackoff, fixed), {
    delayMs: 500,
    state: 'down',
    alert: 'noSpace',
  });
});

test('a held target is not moved out of held nor alerted again by a failure', () => {
  assert.equal(targetFailure('transient', 1, 'held', true, defaultBackoff, fixed).alert, null);
});
