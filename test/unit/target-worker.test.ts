import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Change } from '../../src/change/index.js';
import { TargetWorker } from '../../src/dispatch/target-worker.js';
import type { BatchResult, SendResult, Transport } from '../../src/transport/index.js';
import { silentLogger } from '../../src/util/log.js';
import { waitFor } from '../helpers/tree.js';

// The worker's queueing against a scripted Transport: what it asks of the
// target, in order. rsync itself is exercised by the integration tests.

function result(o: Partial<SendResult> = {}): SendResult {
  return {
    class: 'ok',
    code: 0,
    signal: null,
    message: '',
    detail: '',
    files: 0,
    bytes: 0,
    durationMs: 1,
    failedPaths: [],
    notDirectory: [],
    deletionSkipped: false,
    ...o,
  };
}

/** A Transport that answers each batch with the next scripted result (then ok) and remembers what it was sent. */
function scripted(answers: SendResult[]): Transport & { batches: Change[][] } {
  const batches: Change[][] = [];
  const unused = async (): Promise<never> => {
    throw new Error('not used by this test');
  };
  return {
    target: 't',
    batches,
    async sendBatch(changes): Promise<BatchResult> {
      batches.push([...changes]);
      return { result: answers.shift() ?? result(), rootAttrs: null };
    },
    sendAll: unused,
    countDeletes: unused,
    fetch: unused,
    probe: unused,
    pruneBackups: async () => null,
  };
}

/** A worker of source s (no delete, no journal) sending through `transport`, with a short backoff. */
function workerOf(transport: Transport): TargetWorker {
  return new TargetWorker({
    sourceName: 's',
    source: { root: '/nonexistent', filterArgs: [], delete: false },
    transport,
    delayMs: 0,
    maxWaitMs: 2000,
    log: silentLogger(),
    backoff: { baseMs: 50, maxMs: 100, misconfiguredMs: 100 },
  });
}

test('a tree owed again after rsync skipped its deletions stays a tree when its directory changes meanwhile', async () => {
  // the first send of d recursed, but an unreadable file elsewhere made rsync skip deletions in it
  const transport = scripted([
    result({ class: 'partial', code: 23, failedPaths: ['x'], deletionSkipped: true }),
  ]);
  const worker = workerOf(transport);
  try {
    worker.addChanges([
      { path: 'd', op: 'upsertTree' },
      { path: 'x', op: 'upsert' },
    ]);
    await waitFor(() => transport.batches.length === 1, 5_000, 'the first send');
    // d's own attributes change before its retry is due (a chmod, an entry made in it)
    worker.addChanges([{ path: 'd', op: 'upsert', dir: true }]);
    await waitFor(() => worker.isIdle, 5_000, 'the worker idle');
    const later = transport.batches.slice(1).flat();
    assert.ok(
      later.some((c) => c.path === 'd' && c.op === 'upsertTree'),
      `d went again as a tree: ${JSON.stringify(transport.batches)}`,
    );
  } finally {
    await worker.stop(100);
  }
});

test('a paused worker sends nothing and keeps what arrives; resumed, it sends it all in one batch; a hold that came meanwhile shows after the pause', async () => {
  const transport = scripted([]);
  const states: string[] = [];
  const worker = workerOf(transport);
  worker.on('state', (s: string) => states.push(s));
  try {
    assert.equal(worker.pause({ since: 1234, reason: 'maintenance' }), true);
    assert.equal(worker.pause(), false, 'paused already');
    assert.deepEqual(worker.paused, { since: 1234, reason: 'maintenance' });
    worker.addChanges([
      { path: 'a', op: 'upsert' },
      { path: 'b', op: 'upsert' },
    ]);
    // nothing to wait for: a paused worker never starts a transfer, it only queues
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(transport.batches, []);
    assert.equal(worker.pending, 2);
    assert.equal(worker.state, 'paused');
    // a safety hold while paused: the state stays paused, the hold waits behind it
    worker.hold('would delete too much');
    assert.equal(worker.state, 'paused');
    assert.equal(worker.unpause(), true);
    assert.equal(worker.state, 'held', 'the hold shows once the pause is lifted');
    assert.equal(worker.unpause(), false, 'not paused any more');
    assert.deepEqual(transport.batches, [], 'held: still nothing sent');
    assert.equal(worker.resume(), true);
    await waitFor(() => transport.batches.length === 1, 5_000, 'the batch after resume');
    const sent = transport.batches as Change[][];
    assert.deepEqual(sent[0]?.map((c) => c.path).sort(), ['a', 'b']);
    assert.deepEqual(states.slice(0, 2), ['paused', 'held']);
  } finally {
    await worker.stop(100);
  }
});
