import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Change } from '../../src/change/index.js';
import { parseConfig, rootIgnore, type SourceConfig } from '../../src/config/index.js';
import { probeRoot } from '../../src/dispatch/index.js';
import { answeredView, flattenLeaves, pickRelaySource, unreachableView } from '../../src/relay/index.js';
import type { TargetStatus } from '../../src/status/index.js';
import {
  buildBatchCall,
  buildFullSyncCall,
  buildInboxCall,
  inboxMissing,
  parseTargetUrl,
  type SourceSpec,
  type TargetSpec,
} from '../../src/transport/index.js';
import { buildFileMovesCall } from '../../src/transport/moves.js';
import { targetSpec } from '../helpers/targets.js';

const src: SourceSpec = { root: '/srv/www', filterArgs: ['--filter=- /.syncward-inbox/'], delete: true };
const relay: TargetSpec = targetSpec('rsync://u@10.0.0.2/www', {
  name: 'r1',
  timeoutS: 30,
  contimeoutS: 15,
  inbox: '.syncward-inbox',
});
const changes: Change[] = [{ path: 'a/f', op: 'upsert' }];

test('calls that write into a relay target send temp files through its inbox; dry runs and plain targets do not', () => {
  for (const call of [
    buildBatchCall(src, relay, changes, { isRoot: true }),
    buildFullSyncCall(src, relay, { isRoot: true }),
    buildFileMovesCall(src, relay, [{ path: 'a/g', from: 'a/f' }], { isRoot: true }),
  ])
    assert.ok(call.argv.includes('--temp-dir=.syncward-inbox'), call.argv.join(' '));
  for (const call of [
    buildBatchCall(src, relay, changes, { isRoot: true, dryRun: true }),
    buildFullSyncCall(src, relay, { isRoot: true, dryRun: true, itemize: true }),
    buildBatchCall(src, { ...relay, inbox: undefined }, changes, { isRoot: true }),
  ])
    assert.ok(!call.argv.some((a) => a.startsWith('--temp-dir')), call.argv.join(' '));
});

test('the inbox call makes <target>/.syncward-inbox/ from an empty directory, mode 700; none for a plain target', () => {
  const call = buildInboxCall(relay, '/tmp/empty/', { isRoot: true });
  assert.ok(call);
  assert.deepEqual(call.argv.slice(0, 4), ['rsync', '--dirs', '--perms', '--chmod=D700']);
  assert.deepEqual(call.argv.slice(-2), ['/tmp/empty/', 'rsync://u@10.0.0.2/www/.syncward-inbox/']);
  assert.ok(!call.argv.includes('--delete'));
  assert.equal(buildInboxCall({ ...relay, inbox: undefined }, '/tmp/empty', { isRoot: true }), null);
  assert.equal(
    inboxMissing('The temp-dir does not exist: .syncward-inbox\nrsync error: syntax or usage error (code 1)'),
    true,
  );
  assert.equal(inboxMissing('@ERROR: auth failed on module www'), false);
});

function target(name: string, extra: Partial<TargetStatus> = {}): TargetStatus {
  return {
    source: 'www',
    target: name,
    url: `rsync://${name}/www`,
    state: 'idle',
    stateSince: 1,
    stateReason: 'in sync',
    pending: 0,
    oldestPendingAt: null,
    stuck: 0,
    stuckPaths: [],
    holdReason: null,
    lastSuccessAt: 5,
    lastFullSyncAt: 2,
    lastError: null,
    failures: 0,
    lastAudit: null,
    canary: { lastWrittenAt: 10, lastArrivedAt: 12, lagMs: 2, missingSince: null },
    ...extra,
  };
}

test("the relay's source: the one configured, else the one named like the upstream's, else its only one; otherwise what to set", () => {
  const two = {
    sources: [
      { name: 'www', targets: [] },
      { name: 'img', targets: [] },
    ],
  };
  assert.equal(pickRelaySource(two, { configured: 'img', upstreamSource: 'www' }).name, 'img');
  assert.equal(pickRelaySource(two, { upstreamSource: 'www' }).name, 'www');
  assert.equal(
    pickRelaySource({ sources: [{ name: 'x', targets: [] }] }, { upstreamSource: 'www' }).name,
    'x',
  );
  assert.throws(
    () => pickRelaySource(two, { upstreamSource: 'data' }),
    /sources www, img .*set relay\.source/,
  );
  assert.throws(
    () => pickRelaySource(two, { configured: 'nope', upstreamSource: 'www' }),
    /no source "nope".*www, img/,
  );
});

test('a relay that cannot be read shows the leaves it last had as unknown, the tiers beneath too, and since when', () => {
  const deeper = answeredView('http://r2', 'www', [target('leaf')], 100);
  const ok = answeredView(
    'http://r1',
    'www',
    [target('a'), target('b', { state: 'held', holdReason: 'max_delete', relay: deeper })],
    100,
  );
  assert.equal(ok.state, 'ok');
  assert.deepEqual(
    flattenLeaves(ok).map((x) => `${x.path} ${x.leaf.state}`),
    ['a idle', 'b held', 'b/leaf idle'],
  );
  const down = unreachableView(ok, 'http://r1', 'ECONNREFUSED', 200);
  assert.equal(down.state, 'unreachable');
  assert.equal(down.since, 200);
  assert.equal(down.readAt, 100);
  assert.deepEqual(
    flattenLeaves(down).map((x) => x.leaf.state),
    ['unknown', 'unknown', 'unknown'],
  );
  assert.match(down.leaves[0]?.stateReason ?? '', /cannot be read since .*ECONNREFUSED/);
  assert.equal(down.leaves[1]?.holdReason, 'max_delete', 'the hold last seen stays visible');
  // still down later: the time it went away is kept
  const later = unreachableView(down, 'http://r1', 'ECONNREFUSED', 300);
  assert.equal(later.since, 200);
  assert.equal(later.leaves[0]?.stateSince, 200);
  // never answered: nothing is known of its leaves
  assert.deepEqual(unreachableView(null, 'http://r1', 'ETIMEDOUT', 50).leaves, []);
});

test("a relay's root holding only the inbox and the canary counts as emptied for the delete guard", () => {
  const root = mkdtempSync(join(tmpdir(), 'syncward-relay-root-'));
  try {
    mkdirSync(join(root, '.syncward-inbox'));
    writeFileSync(join(root, '.syncward-canary'), 'x');
    const sc = parseConfig(
      `state_dir: /var/lib/syncward\nsources:\n  - name: www\n    path: ${root}\n    canary: { follow: true }\n    targets: [{ name: t, url: /srv/mirror }]\n`,
    ).sources[0] as SourceConfig;
    const ignore = rootIgnore(sc, '/var/lib/syncward');
    assert.deepEqual(probeRoot(root, ignore, null), { kind: 'empty' });
    writeFileSync(join(root, 'index.html'), 'x');
    assert.deepEqual(probeRoot(root, ignore, null), { kind: 'ok' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
