import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryDelayMs } from '../../src/deliver/index.js';
import { retryDelay } from '../../src/dispatch/index.js';
import { jitteredDelay } from '../../src/util/backoff.js';

test('target retries and webhook retries back off by the one formula: exponential, capped, half of it jittered', () => {
  for (const r of [0, 0.5, 0.999]) {
    for (let attempt = 1; attempt <= 8; attempt++) {
      const d = jitteredDelay(attempt, 1000, 30_000, () => r);
      assert.equal(
        retryDelay(attempt, 'transient', { baseMs: 1000, maxMs: 30_000, misconfiguredMs: 5000 }, () => r),
        d,
      );
      assert.equal(
        retryDelayMs(attempt, { tries: 99, baseMs: 1000, maxMs: 30_000 }, () => r),
        d,
      );
      const step = Math.min(30_000, 1000 * 2 ** (attempt - 1));
      assert.ok(d >= step / 2 && d <= step, `attempt ${attempt}: ${d} within [${step / 2}, ${step}]`);
    }
  }
});
