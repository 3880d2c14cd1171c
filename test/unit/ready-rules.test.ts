import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Change } from '../../src/change/index.js';
import {
  buildBatchCall,
  classifyExit,
  fitsReady,
  learnedRecycleMs,
  MIN_RECYCLE_MS,
  parseTargetUrl,
  retryCold,
  type SourceSpec,
  shouldArm,
  slotNotYetFreed,
  type TargetSpec,
} from '../../src/transport/index.js';

const source: SourceSpec = { root: '/srv/www', filterArgs: ['--exclude=*.swp'], delete: true };
const target: TargetSpec = {
  name: 'web1',
  url: parseTargetUrl('rsync://www@10.0.0.2/www'),
  passwordFile: '/etc/syncward/web1.pass',
  sshOptions: [],
  rsyncArgs: [],
  timeoutS: 30,
  contimeoutS: 15,
};
const now = new Date('2026-03-01T12:00:00Z');
/** The call a ready rsync runs: a batch with nothing known yet. */
const ready = buildBatchCall(source, target, [], { isRoot: true, now });
const batch = (changes: Change[], s = source, t = target, at = now) =>
  buildBatchCall(s, t, changes, { isRoot: true, now: at });

test('upserts and deletes fit the ready rsync: the list differs, the call does not', () => {
  const b = batch([
    { path: 'a.html', op: 'upsert' },
    { path: 'old', op: 'delete' },
    { path: 'dir', op: 'upsert', dir: true },
  ]);
  assert.ok(fitsReady(ready, b));
  assert.notDeepEqual(b.stdin, ready.stdin);
});

test('a batch with a directory sent whole needs -r: it goes cold', () => {
  assert.ok(!fitsReady(ready, batch([{ path: 'new-dir', op: 'upsertTree' }])));
});

test('a dry-run count, exclude rules leaving failing paths out, and extra arguments go cold', () => {
  const up = [{ path: 'a', op: 'upsert' } as Change];
  assert.ok(
    !fitsReady(ready, buildBatchCall(source, target, up, { isRoot: true, now, dryRun: true, itemize: true })),
  );
  assert.ok(
    !fitsReady(ready, batch(up, { ...source, filterArgs: ['--exclude=/stuck', ...source.filterArgs] })),
  );
  assert.ok(!fitsReady(ready, batch(up, source, { ...target, rsyncArgs: ['--ignore-times'] })));
});

test('a ready rsync started before midnight does not take a batch whose backups go into the next day', () => {
  const backup = { ...target, backup: { dir: '.syncward-backup', keepDays: 7 } };
  const before = buildBatchCall(source, backup, [], { isRoot: true, now: new Date('2026-03-01T23:59:59Z') });
  const up = [{ path: 'a', op: 'upsert' } as Change];
  assert.ok(fitsReady(before, batch(up, source, backup, new Date('2026-03-01T23:59:59Z'))));
  assert.ok(!fitsReady(before, batch(up, source, backup, new Date('2026-03-02T00:00:01Z'))));
});

test('a source read through another directory fd than the ready rsync reads goes cold', () => {
  const pinned = { ...source, readRoot: '/proc/1/fd/9' };
  assert.ok(!fitsReady(ready, batch([{ path: 'a', op: 'upsert' }], pinned)));
});

test('a handed-off batch that failed as a stale connection is sent again cold; other failures are not', () => {
  assert.ok(retryCold({ class: 'transient', aborted: false }));
  assert.ok(!retryCold({ class: 'transient', aborted: true }), 'the daemon is stopping');
  for (const c of ['ok', 'vanished', 'partial', 'misconfigured', 'noSpace', 'error'] as const)
    assert.ok(!retryCold({ class: c, aborted: false }), c);
  // what a daemon's idle timeout does to an rsync that waited on its stdin
  const cut = classifyExit(
    12,
    null,
    'rsync: connection unexpectedly closed (8 bytes received so far) [sender]\nrsync error: error in rsync protocol data stream (code 12) at io.c(285) [sender=3.5.0]',
    {},
  );
  assert.ok(retryCold({ class: cut.class, aborted: false }));
});

test('the recycle interval shrinks to half the age at which a ready connection was found cut, never below the floor', () => {
  assert.equal(learnedRecycleMs(50_000, 60_000), 30_000, 'the daemon cut it before 60 s: recycle at 30 s');
  assert.equal(learnedRecycleMs(50_000, 200_000), 50_000, 'never longer than configured');
  assert.equal(learnedRecycleMs(50_000, 4_000), MIN_RECYCLE_MS, 'a daemon timeout of 2 s is not chased');
});

test('a ready rsync starts only when the target is idle, free, and the last one did not exit by itself', () => {
  const s = { enabled: true, wanted: true, busy: 0, closed: false, blocked: false, present: false };
  assert.ok(shouldArm(s));
  assert.ok(!shouldArm({ ...s, enabled: false }));
  assert.ok(
    !shouldArm({ ...s, wanted: false }),
    'the worker has work: a count or a full sync would end it at once',
  );
  assert.ok(!shouldArm({ ...s, busy: 1 }), 'one connection per target');
  assert.ok(!shouldArm({ ...s, closed: true }));
  assert.ok(!shouldArm({ ...s, blocked: true }), 'refused before: not until the next call ended');
  assert.ok(!shouldArm({ ...s, present: true }));
});

test('a refusal at max connections right after our own connection ended is our slot not yet freed', () => {
  const busy = classifyExit(
    5,
    null,
    '@ERROR: max connections (1) reached -- try again later\nrsync error: error starting client-server protocol (code 5) at main.c(1954) [sender=3.5.0]',
    {},
  );
  const o = { class: busy.class, detail: `${busy.message}\n${busy.rsyncMessage}` };
  assert.ok(slotNotYetFreed({ ...o, sinceOursMs: 5 }));
  assert.ok(!slotNotYetFreed({ ...o, sinceOursMs: 60_000 }), 'another client holds it: a real refusal');
  assert.ok(
    !slotNotYetFreed({ class: 'misconfigured', detail: '@ERROR: auth failed on module www', sinceOursMs: 5 }),
  );
});
