import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultRetry, retryDelayMs, Sink } from '../../src/deliver/index.js';
import { silentLogger } from '../../src/util/log.js';

test('retries back off exponentially, capped, and stop after the last try', () => {
  const policy = { tries: 5, baseMs: 1000, maxMs: 4000 };
  const top = () => 1;
  assert.equal(retryDelayMs(1, policy, top), 1000);
  assert.equal(retryDelayMs(2, policy, top), 2000);
  assert.equal(retryDelayMs(3, policy, top), 4000);
  assert.equal(retryDelayMs(4, policy, top), 4000);
  assert.equal(retryDelayMs(5, policy, top), null, 'the fifth failure was the last try');
  assert.equal(retryDelayMs(1, { ...policy, tries: 1 }, top), null);
});

test('retry jitter stays between half the step and the step', () => {
  for (let attempt = 1; attempt < defaultRetry.tries; attempt++) {
    const lo = retryDelayMs(attempt, defaultRetry, () => 0) as number;
    const hi = retryDelayMs(attempt, defaultRetry, () => 0.999999) as number;
    const step = Math.min(defaultRetry.maxMs, defaultRetry.baseMs * 2 ** (attempt - 1));
    assert.equal(lo, step / 2, `attempt ${attempt}`);
    assert.ok(hi <= step && hi > lo, `attempt ${attempt}: ${lo}..${hi}`);
  }
});

const fast = { tries: 3, baseMs: 1, maxMs: 2 };

test('a sink delivers in order, retries a failing message, and gives up after the last try', async () => {
  const seen: string[] = [];
  let failFirst = 2;
  const sink = new Sink<string>({
    name: 'test',
    log: silentLogger(),
    retry: fast,
    send: async (m) => {
      seen.push(m);
      if (m === 'a' && failFirst-- > 0) throw new Error('503');
      if (m === 'never') throw new Error('refused');
    },
  });
  sink.push('a');
  sink.push('never');
  sink.push('b');
  await sink.idle();
  assert.deepEqual(seen, ['a', 'a', 'a', 'never', 'never', 'never', 'b']);
  assert.deepEqual(sink.counts, { delivered: 2, givenUp: 1, dropped: 0 });
});

test('a sink that falls behind drops its oldest waiting message, never grows past its bound', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const sent: number[] = [];
  const sink = new Sink<number>({
    name: 'slow',
    log: silentLogger(),
    maxQueue: 3,
    send: async (n) => {
      await gate;
      sent.push(n);
    },
  });
  for (let i = 0; i < 10; i++) sink.push(i);
  // 0 is in flight; 1..9 competed for 3 places
  assert.equal(sink.queued, 3);
  release();
  await sink.idle();
  assert.deepEqual(sent, [0, 7, 8, 9]);
  assert.equal(sink.counts.dropped, 6);
});

test('a sink with a merge folds waiting messages instead of dropping them', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const sent: string[][] = [];
  const sink = new Sink<{ key: string; items: string[] }>({
    name: 'merging',
    log: silentLogger(),
    maxQueue: 1,
    merge: (w, n) => (w.key === n.key ? { key: w.key, items: [...w.items, ...n.items] } : null),
    send: async (m) => {
      await gate;
      sent.push([m.key, ...m.items]);
    },
  });
  sink.push({ key: 'x', items: ['0'] });
  for (let i = 1; i < 50; i++) sink.push({ key: 'x', items: [String(i)] });
  assert.equal(sink.queued, 1);
  release();
  await sink.idle();
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[0], ['x', '0']);
  assert.equal(sent[1]?.length, 50, 'every item after the first arrives in the merged message');
  assert.equal(sink.counts.dropped, 0);
});

test('a closed sink stops retrying and drops what waits', async () => {
  let tries = 0;
  const sink = new Sink<string>({
    name: 'closing',
    log: silentLogger(),
    retry: { tries: 5, baseMs: 60_000, maxMs: 60_000 },
    send: async () => {
      tries++;
      throw new Error('down');
    },
  });
  sink.push('a');
  sink.push('b');
  await new Promise((r) => setImmediate(r));
  sink.close();
  await sink.idle();
  assert.equal(tries, 1);
  assert.equal(sink.counts.delivered, 0);
});
