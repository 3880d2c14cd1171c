import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkIntervalMs,
  classifyExit,
  observe,
  type ProgressReading,
  parseIoBytes,
  parseStat,
  stalled,
  stalledAfter,
} from '../../src/transport/index.js';

/** Readings one second apart, each [ioBytes, cpuTicks, outputBytes]. */
function readings(...counters: [number | null, number | null, number][]): ProgressReading[] {
  return counters.map(([ioBytes, cpuTicks, outputBytes], i) => ({
    atMs: i * 1000,
    ioBytes,
    cpuTicks,
    outputBytes,
  }));
}

test('a transfer whose counters stay put for the whole window is stalled', () => {
  const r = readings([100, 5, 0], [200, 6, 0], [200, 6, 0], [200, 6, 0], [200, 6, 0]);
  // moved last at t=1 s; at t=4 s nothing has moved for 3 s
  assert.equal(stalledAfter(r, 3000), true);
  assert.equal(stalledAfter(r, 3001), false);
  assert.equal(stalledAfter(r.slice(0, 4), 3000), false, 'at t=3 s only 2 s without progress');
});

test('any one counter moving is progress: bytes read or written, CPU used, or output printed', () => {
  const still: [number, number, number] = [200, 6, 10];
  assert.equal(stalledAfter(readings(still, still, still, still), 3000), true);
  // a generator comparing a huge directory of unchanged files: stat() uses CPU, reads nothing
  assert.equal(stalledAfter(readings(still, still, still, [200, 7, 10]), 3000), false);
  assert.equal(stalledAfter(readings(still, still, still, [201, 6, 10]), 3000), false);
  assert.equal(stalledAfter(readings(still, still, still, [200, 6, 11]), 3000), false);
  // a child that exited takes its counters out of the sum: something happened
  assert.equal(stalledAfter(readings(still, still, still, [150, 4, 10]), 3000), false);
});

test('progress after a long silence starts the window again', () => {
  const r = readings([1, 1, 0], [1, 1, 0], [1, 1, 0], [2, 1, 0], [2, 1, 0], [2, 1, 0]);
  assert.equal(stalledAfter(r, 3000), false, 'moved at t=3 s, 2 s ago');
  let p = observe(undefined, r[0] as ProgressReading);
  for (const x of r.slice(1)) p = observe(p, x);
  assert.equal(p.movedAtMs, 3000);
  assert.equal(stalled(p, 2000), true);
});

test('without readable /proc counters a quiet transfer is never called stalled', () => {
  // stdout is silent through every healthy transfer of a big file: alone it proves nothing
  assert.equal(
    stalledAfter(readings([null, null, 0], [null, null, 0], [null, null, 0], [null, null, 0]), 1000),
    false,
  );
  // counters lost mid-way (the process is exiting): no verdict on that reading
  assert.equal(stalledAfter(readings([5, 1, 0], [5, 1, 0], [5, 1, 0], [null, null, 0]), 1000), false);
  assert.equal(stalledAfter([], 1000), false);
});

test('a running call is looked at four times per window, at most once a second', () => {
  assert.equal(checkIntervalMs(30), 7500);
  assert.equal(checkIntervalMs(2), 1000);
  assert.equal(checkIntervalMs(1), 1000);
});

test('a stalled call is transient and says what to check', () => {
  const info = classifyExit(20, null, 'rsync error: received SIGINT, SIGTERM, or SIGHUP (code 20)', {
    stalledS: 30,
  });
  assert.equal(info.class, 'transient');
  assert.match(info.message, /made no progress for 30 s/);
  assert.match(info.message, /check that the target host, its rsync and the network to it are up/);
});

test('/proc/PID/stat and /proc/PID/io are read for parent, CPU time and bytes', () => {
  const stat = '4242 (rsync) S 4200 4242 4200 0 -1 4194560 300 0 0 0 17 5 0 0 20 0 1 0 1234 1000 200';
  assert.deepEqual(parseStat(stat), { comm: 'rsync', ppid: 4200, cpuTicks: 22 });
  // comm is whatever the program named itself: spaces and parentheses included
  const odd = '77 (a) b (c) R 1 77 77 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 1';
  assert.deepEqual(parseStat(odd), { comm: 'a) b (c', ppid: 1, cpuTicks: 7 });
  const io =
    'rchar: 1000\nwchar: 234\nsyscr: 5\nsyscw: 3\nread_bytes: 0\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n';
  assert.equal(parseIoBytes(io), 1234);
  assert.equal(parseIoBytes(''), null);
});
