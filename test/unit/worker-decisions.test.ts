import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultBackoff } from '../../src/dispatch/backoff.js';
import { nextTransfer, settleFirst, targetFailure, type WorkerView } from '../../src/dispatch/decide.js';

const fixed = () => 1;

test('a failed transfer makes the target down once, raising no alert: the monitor times the down state', () => {
  const first = targetFailure('transient', 1, 'syncing', false, defaultBackoff, fixed);
  assert.deepEqual(first, { delayMs: 500, state: 'down', changed: true, alert: null });
  // already down: not news (a count, logged at debug), a longer wait
  assert.deepEqual(targetFailure('transient', 3, 'down', false, defaultBackoff, fixed), {
    delayMs: 2000,
    state: 'down',
    changed: false,
    alert: null,
  });
});

test('misconfiguration starts slow and is its own state; a full disk is down with its own raised alert, once', () => {
  assert.deepEqual(targetFailure('misconfigured', 1, 'idle', false, defaultBackoff, fixed), {
    delayMs: 30_000,
    state: 'misconfigured',
    changed: true,
    alert: null,
  });
  assert.deepEqual(targetFailure('noSpace', 1, 'idle', false, defaultBackoff, fixed), {
    delayMs: 500,
    state: 'down',
    changed: true,
    alert: 'noSpace',
  });
  assert.equal(targetFailure('noSpace', 2, 'down', false, defaultBackoff, fixed).alert, null);
});

test('a held target is not moved out of held nor alerted again by a failure', () => {
  const f = targetFailure('noSpace', 1, 'held', true, defaultBackoff, fixed);
  assert.equal(f.changed, false);
  assert.equal(f.alert, null);
});

const view = (o: Partial<WorkerView> = {}): WorkerView => ({
  now: 1000,
  busy: false,
  retryAt: 0,
  fullSyncDue: false,
  retries: 0,
  retryDueAt: 0,
  ready: false,
  nextReadyAt: () => undefined,
  empty: true,
  settleUntil: 0,
  checksDeletes: false,
  ...o,
});

test('next transfer: one at a time, a failed target waits for its backoff, a full sync owed goes first', () => {
  assert.deepEqual(nextTransfer(view({ busy: true, ready: true, fullSyncDue: true })), {
    run: null,
    wakeAt: null,
    idle: false,
  });
  assert.deepEqual(nextTransfer(view({ retryAt: 1500, ready: true, fullSyncDue: true })), {
    run: null,
    wakeAt: 1500,
    idle: false,
  });
  assert.equal(nextTransfer(view({ fullSyncDue: true, ready: true, retries: 2, retryDueAt: 0 })).run, 'full');
});

test('next transfer: due retries before the ready batch; a retry not due yet does not hold the batch up', () => {
  assert.equal(nextTransfer(view({ retries: 1, retryDueAt: 900, ready: true })).run, 'retry');
  assert.deepEqual(nextTransfer(view({ retries: 1, retryDueAt: 1200, ready: true, empty: false })), {
    run: 'batch',
    wakeAt: 1200,
    idle: false,
  });
});

test('next transfer: nothing ready waits for the earliest of the queue and the retries; idle only when nothing is left', () => {
  assert.deepEqual(
    nextTransfer(view({ empty: false, nextReadyAt: () => 1300, retries: 1, retryDueAt: 1100 })),
    {
      run: null,
      wakeAt: 1100,
      idle: false,
    },
  );
  assert.deepEqual(nextTransfer(view({ retries: 1, retryDueAt: 1100 })), {
    run: null,
    wakeAt: 1100,
    idle: false,
  });
  assert.deepEqual(nextTransfer(view()), { run: null, wakeAt: null, idle: true });
});

test('next transfer: with max_delete, a batch with deletes settles once before it goes', () => {
  assert.equal(settleFirst(true, 0, 3), true, 'the first batch with deletes waits');
  assert.equal(settleFirst(true, 1150, 3), false, 'once');
  assert.equal(settleFirst(false, 0, 3), false, 'no max_delete: no wait');
  assert.equal(settleFirst(true, 0, 0), false, 'no deletes: no wait');
  assert.deepEqual(
    nextTransfer(view({ ready: true, empty: false, checksDeletes: true, settleUntil: 1150 })),
    {
      run: null,
      wakeAt: 1150,
      idle: false,
    },
  );
  assert.equal(
    nextTransfer(view({ ready: true, empty: false, checksDeletes: true, settleUntil: 900 })).run,
    'batch',
  );
});
