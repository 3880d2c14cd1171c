import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/api/metrics.js';
import { answeredView, unreachableView } from '../../src/relay/index.js';
import type { RelayStatus, SourceStatus } from '../../src/status/index.js';
import { parsePrometheus, value, values } from '../helpers/prometheus.js';
import { sampleCanary, sampleTarget } from '../helpers/status-sample.js';

const NOW = 1_800_000_000_000;

/** The relay's own /api/status targets: r1a in sync (canary 0.412 s), r1b held, r1c a relay itself (x beneath). */
function relayTargets() {
  const deeper = answeredView(
    'http://10.0.0.3:8730',
    'www',
    [sampleTarget(NOW, { target: 'x', pending: 2, canary: sampleCanary(NOW, 1_250) })],
    NOW,
  );
  return [
    sampleTarget(NOW, { target: 'r1a', canary: sampleCanary(NOW, 412) }),
    sampleTarget(NOW, {
      target: 'r1b',
      state: 'held',
      pending: 7,
      holdReason: '1200 deletes > max_delete 1000',
    }),
    sampleTarget(NOW, { target: 'r1c', relay: deeper }),
  ];
}

function daemon(relay: RelayStatus): SourceStatus[] {
  return [
    {
      name: 'www',
      path: '/srv/www',
      state: 'watching',
      watcher: 'inotify',
      watchedDirs: 1,
      overflows: 0,
      lastOverflowAt: null,
      overflowSpell: null,
      maxUserWatches: 8192,
      unwatched: { dirs: 0, since: null, codes: [], sample: [] },
      targets: [sampleTarget(NOW, { target: 'r1', relay }), sampleTarget(NOW, { target: 'web2' })],
    },
  ];
}

const states = (f: ReturnType<typeof parsePrometheus>, leaf: string) =>
  Object.fromEntries(
    (f.find((x) => x.name === 'syncward_leaf_state')?.metrics ?? [])
      .filter((m) => m.labels?.leaf === leaf)
      .map((m) => [m.labels?.state, Number(m.value)]),
  );
const current = (f: ReturnType<typeof parsePrometheus>, leaf: string) =>
  Object.entries(states(f, leaf))
    .filter(([, v]) => v === 1)
    .map(([s]) => s);

test("a relay target's leaves are series of their own: state, pending and canary lag, a deeper tier by its path", async () => {
  let relay = answeredView('http://10.0.0.2:8730', 'www', relayTargets(), NOW - 2_000);
  const m = new Metrics(() => daemon(relay));
  let f = parsePrometheus(await m.render(NOW));
  const st = { source: 'www', target: 'r1' };
  assert.equal(value(f, 'syncward_relay_up', st), 1);
  assert.equal(value(f, 'syncward_relay_last_read_timestamp_seconds', st), (NOW - 2_000) / 1000);
  assert.deepEqual(values(f, 'syncward_relay_up', { target: 'web2' }), [], 'a plain target is no relay');
  assert.deepEqual(current(f, 'r1a'), ['idle']);
  assert.deepEqual(current(f, 'r1b'), ['held']);
  assert.deepEqual(current(f, 'r1c/x'), ['idle']);
  assert.equal(Object.keys(states(f, 'r1a')).length, 9, 'every target state and unknown, 0 or 1');
  assert.equal(value(f, 'syncward_leaf_pending_changes', { ...st, leaf: 'r1b' }), 7);
  assert.equal(value(f, 'syncward_leaf_pending_changes', { ...st, leaf: 'r1c/x' }), 2);
  assert.equal(value(f, 'syncward_leaf_canary_lag_seconds', { ...st, leaf: 'r1a' }), 0.412);
  assert.equal(value(f, 'syncward_leaf_canary_lag_seconds', { ...st, leaf: 'r1c/x' }), 1.25);
  assert.deepEqual(
    values(f, 'syncward_leaf_canary_lag_seconds', { leaf: 'r1b' }),
    [],
    'no canary, no series',
  );

  // the relay stops answering: up 0, every leaf of its subtree unknown, without its last figures
  relay = unreachableView(relay, 'http://10.0.0.2:8730', 'ECONNREFUSED', NOW);
  f = parsePrometheus(await m.render(NOW));
  assert.equal(value(f, 'syncward_relay_up', st), 0);
  assert.equal(value(f, 'syncward_relay_last_read_timestamp_seconds', st), (NOW - 2_000) / 1000);
  for (const leaf of ['r1a', 'r1b', 'r1c', 'r1c/x']) assert.deepEqual(current(f, leaf), ['unknown'], leaf);
  assert.deepEqual(values(f, 'syncward_leaf_pending_changes', st), []);
  assert.deepEqual(values(f, 'syncward_leaf_canary_lag_seconds', st), []);
});
