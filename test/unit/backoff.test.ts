import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultBackoff, retryDelay } from '../../src/dispatch/backoff.js';

test('transient failures back off exponentially and stop growing at the cap', () => {
  const fixed = () => 1;
  assert.equal(retryDelay(1, 'transient', defaultBackoff, fixed), 500);
  assert.equal(retryDelay(2, 'transient', defaultBackoff, fixed), 1000);
  assert.equal(retryDelay(5, 'transient', defaultBackoff, fixed), 8000);
  assert.equal(retryDelay(30, 'transient', defaultBackoff, fixed), 60_000);
});

test('jitter never retries sooner than half the step', () => {
  for (let attempt = 1; attempt < 12; attempt++) {
    const lo = retryDelay(attempt, 'transient', defaultBackoff, () => 0);
    const hi = retryDelay(attempt, 'transient', defaultBackoff, () => 0.999999);
    assert.ok(lo * 2 >= hi - 1, `attempt ${attempt}: ${lo}..${hi}`);
  }
});

test('a misconfigured target is retried slowly from the first failure', () => {
  assert.ok(retryDelay(1, 'misconfigured', defaultBackoff, () => 0) >= 15_000);
  assert.equal(
    retryDelay(10, 'misconfigured', defaultBackoff, () => 1),
    60_000,
  );
});
