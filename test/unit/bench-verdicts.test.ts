import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  convergence,
  fmtShare,
  neverMatchedNote,
  ratioGoal,
  type StaleFile,
  sameSecondCause,
  type WatchReport,
  wireShareGoal,
  withoutTroubleGoal,
} from '../../bench/lib/verdicts.js';
import { type BurstRun, burstGoal } from '../../bench/scenarios/burst.js';
import { type FanoutRun, fanoutGoal } from '../../bench/scenarios/fanout.js';

test('every contender is timed by both clocks: from its first write and from its last', () => {
  assert.deepEqual(convergence({ firstWriteAt: 100, lastWriteAt: 1100, arrivedAt: 1600 }), {
    writingMs: 1000,
    fromFirstMs: 1500,
    fromLastMs: 500,
  });
  // a poll that saw everything at the last write has waited 0 ms, never less
  assert.deepEqual(convergence({ firstWriteAt: 0, lastWriteAt: 10, arrivedAt: 9 }), {
    writingMs: 10,
    fromFirstMs: 10,
    fromLastMs: 0,
  });
  assert.deepEqual(convergence({ firstWriteAt: 0, lastWriteAt: 10, arrivedAt: null }), {
    writingMs: 10,
    fromFirstMs: null,
    fromLastMs: null,
  });
  assert.throws(() => convergence({ firstWriteAt: 10, lastWriteAt: 0, arrivedAt: 20 }), /before the first/);
});

test('a ratio goal is met at the limit, missed above it or when the measured side never finished, not measured without a base', () => {
  const g = (value: number | null, base: number | null) =>
    ratioGoal({ goal: 'g', value, base, limit: 1.5, unit: 's', failure: 'timed out' });
  assert.deepEqual(g(1500, 1000), { goal: 'g', status: 'met', detail: '1.50x: 1.50 vs 1.00 s' });
  assert.equal(g(1501, 1000).status, 'missed');
  assert.deepEqual(g(null, 1000), { goal: 'g', status: 'missed', detail: 'timed out' });
  assert.equal(g(1000, null).status, 'not measured');
});

const conv = (firstToLast: number, fromLast: number | null) =>
  convergence({
    firstWriteAt: 0,
    lastWriteAt: firstToLast,
    arrivedAt: fromLast == null ? null : firstToLast + fromLast,
  });

test('a burst that syncward sent while it was written is judged from the first write, not by its head start after the last', () => {
  // the old verdict: 0.2 s after the last write against the bare rsync's 1.0 s, "0.20x: met"
  const run: BurstRun = {
    files: 10_000,
    floor: conv(1000, 1000),
    syncward: conv(3000, 200),
    lsyncd: null,
  };
  const goal = burstGoal(run);
  assert.equal(goal.status, 'missed');
  assert.match(
    goal.detail,
    /^1\.60x: 3\.20 vs 2\.00 s from the first write; from the last write 0\.20 vs 1\.00 s \(0\.20x\)/,
  );
  assert.equal(burstGoal({ ...run, syncward: conv(1200, 1500) }).status, 'met');
  const failed = burstGoal({ ...run, syncward: conv(1000, null), syncwardError: 'timed out (9000 there)' });
  assert.equal(failed.status, 'missed');
  assert.match(failed.detail, /^timed out \(9000 there\)/);
});

test('fan-out is judged from the first write for both target counts, with the bare calls on the same clock', () => {
  const r: FanoutRun = {
    files: 2000,
    one: conv(1000, 500),
    ten: conv(1000, 2500),
    floorOne: conv(1000, 400),
    floorTen: conv(1000, 1800),
  };
  const goal = fanoutGoal(r);
  assert.equal(goal.status, 'missed');
  assert.match(goal.detail, /^2\.33x: 3\.50 vs 1\.50 s from the first write; from the last write 5\.00x/);
  assert.match(goal.detail, /10 bare rsync calls at once took 2\.00x one call/);
  assert.match(goal.detail, /syncward to 10 targets 1\.25x those 10 calls/);
});

const watch = (o: Partial<WatchReport>): WatchReport => ({
  dirsInTree: 30_001,
  watched: 30_001,
  limitAlerts: 0,
  otherAlerts: [],
  ms: 2500,
  rssMb: 70,
  ...o,
});

test('N directories without trouble: every directory watched and no alert, not merely a startup that finished', () => {
  assert.deepEqual(withoutTroubleGoal('g', watch({})), {
    goal: 'g',
    status: 'met',
    detail: 'all 30,001 directories watched, no alert, watching after 2.50 s, 70.0 MB',
  });
  const cut = withoutTroubleGoal('g', watch({ watched: 8192, limitAlerts: 1 }));
  assert.equal(cut.status, 'missed');
  assert.match(cut.detail, /^watched 8,192 of 30,001 directories; 1 watch-limit alert\(s\)/);
  assert.equal(withoutTroubleGoal('g', watch({ limitAlerts: 1 })).status, 'missed');
  assert.equal(withoutTroubleGoal('g', watch({ otherAlerts: ['overflow'] })).status, 'missed');
  assert.deepEqual(withoutTroubleGoal('g', watch({ watched: null, ms: null, error: 'exited (1)' })), {
    goal: 'g',
    status: 'missed',
    detail: 'exited (1)',
  });
});

const stale = (o: Partial<StaleFile>): StaleFile => ({
  path: 'c0/f1',
  sourceSize: 10,
  targetSize: 10,
  sourceMtimeMs: 5_000_120,
  targetMtimeMs: 5_000_030,
  ...o,
});

test('the churn report names the same-second cause only when every stale file was measured to show it', () => {
  const cause = sameSecondCause([stale({}), stale({ path: 'c1/f2', targetMtimeMs: 5_000_000 })]);
  assert.match(
    cause ?? '',
    /^all 2 file\(s\) left with old content have the source's size and an mtime in the same whole second as the source's \(0\.090-0\.120 s apart/,
  );
  // another size, or mtimes in different seconds (even 0.1 s apart), is not that cause
  assert.equal(sameSecondCause([stale({}), stale({ targetSize: 11 })]), null);
  assert.equal(sameSecondCause([stale({ sourceMtimeMs: 5_000_050, targetMtimeMs: 4_999_950 })]), null);
  assert.equal(sameSecondCause([]), null);
  assert.match(neverMatchedNote('lsyncd', [stale({})]) ?? '', /^lsyncd never matched: all 1 file/);
  assert.equal(
    neverMatchedNote('lsyncd', [stale({ targetSize: 3 })]),
    "lsyncd never matched: 1 file(s) left with old content: 0 with the source's size, 1 with an mtime in the source's whole second; no cause measured.",
  );
  assert.equal(neverMatchedNote('syncward', []), null);
});

const summary = (p50: number, p99 = p50 * 2) => ({
  n: 40,
  min: p50,
  p50,
  p90: p50,
  p99,
  max: p99,
  mean: p50,
});

test('latency goals: on loopback within 1.15x / 2x the bare call; over a round trip, half the bare call and half lsyncd', async () => {
  const { latencyGoals } = await import('../../bench/scenarios/latency.js');
  const loop = latencyGoals(undefined, summary(44, 97.4), summary(40, 105.8), null);
  assert.deepEqual(
    loop.map((g) => [g.goal, g.status, g.detail]),
    [
      ['latency p50 within 1.15x the bare rsync call', 'met', '1.10x: 44.0 vs 40.0 ms'],
      ['latency p99 within 2x the bare rsync call', 'met', '0.92x: 97.4 vs 105.8 ms'],
    ],
  );
  const far = latencyGoals(50, summary(340), summary(330), summary(335));
  assert.deepEqual(
    far.map((g) => [g.goal, g.status]),
    [
      ['latency p50 over a 50 ms round trip within 0.5x the bare rsync call', 'missed'],
      ['latency p50 over a 50 ms round trip within 0.5x lsyncd', 'missed'],
    ],
  );
  assert.equal(latencyGoals(50, summary(100), summary(330), null)[1]?.status, 'not measured');
});

test('--rtt takes a round trip in ms for the latency scenario', async () => {
  const { parseArgs } = await import('../../bench/run.js');
  assert.equal(parseArgs(['latency', '--rtt', '50']).rttMs, 50);
  assert.equal(parseArgs(['--rtt', '0']).rttMs, 0);
  assert.equal(parseArgs(['latency']).rttMs, undefined);
});

test('a move goal is met under its share of the bytes moved, and only with the target identical', () => {
  const base = { goal: 'g', movedBytes: 200_000_000, limit: 0.01 };
  assert.deepEqual(wireShareGoal({ ...base, wireBytes: 120_000 }), {
    goal: 'g',
    status: 'met',
    detail: '0.060%: 120000 bytes on the wire for 200000000 bytes moved',
  });
  assert.equal(wireShareGoal({ ...base, wireBytes: 2_000_000 }).status, 'missed');
  assert.equal(wireShareGoal({ ...base, wireBytes: 1000, failure: 'target differs: x' }).status, 'missed');
  assert.deepEqual(wireShareGoal({ ...base, wireBytes: null, failure: 'timed out' }), {
    goal: 'g',
    status: 'missed',
    detail: 'timed out',
  });
  assert.equal(fmtShare(1.0003), '100%');
  assert.equal(fmtShare(0.00057), '0.057%');
});
