import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DelayLine } from '../../bench/lib/delay-line.js';
import { linkWithRtt } from '../../bench/lib/tcp-proxy.js';

test('a delay line releases each item delayMs after it went in, never earlier, in the order pushed', () => {
  const line = new DelayLine<string>(25);
  assert.equal(line.nextIn(0), null);
  line.push('a', 0);
  line.push('b', 10);
  line.push('c', 10);
  assert.deepEqual(line.take(24.9), []);
  assert.equal(line.nextIn(24.9)?.toFixed(1), '0.1');
  assert.deepEqual(line.take(25), ['a']);
  assert.equal(line.nextIn(25), 10);
  assert.deepEqual(line.take(100), ['b', 'c']);
  assert.equal(line.length, 0);
});

test('a delay line of 0 ms passes items at once; a negative delay is refused', () => {
  const line = new DelayLine<number>(0);
  line.push(1, 5);
  assert.equal(line.nextIn(5), 0);
  assert.deepEqual(line.take(5), [1]);
  assert.throws(() => new DelayLine(-1), /0 ms or more/);
});

test('a link of RTT ms delays each way by half of it and lets the server accept after the 1.5 round trips of a handshake', () => {
  assert.deepEqual(linkWithRtt(50), { oneWayDelayMs: 25, connectDelayMs: 75 });
  assert.deepEqual(linkWithRtt(0), { oneWayDelayMs: 0, connectDelayMs: 0 });
  assert.throws(() => linkWithRtt(Number.NaN), /0 ms or more/);
});
