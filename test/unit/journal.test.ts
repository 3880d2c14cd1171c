import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Journal, LOCK_FILE, lockStateDir, StateLockedError } from '../../src/journal/index.js';

/** Runs `fn` with a fresh temp state dir, removed afterwards. */
function inTemp(fn: (dir: string) => void): () => void {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncward-journal-'));
    try {
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'an outage costs one row per distinct path, not one per event',
  inTemp((dir) => {
    const j = Journal.open(dir);
    for (let i = 0; i < 1000; i++) j.recordChanges(['web1', 'web2'], [{ path: `f${i % 10}`, op: 'upsert' }]);
    assert.equal(j.pendingSummary('web1').count, 10);
    assert.equal(j.pendingSummary('web2').count, 10);
    j.close();
  }),
);

test(
  'a delivered batch clears only rows not changed since it was taken',
  inTemp((dir) => {
    const j = Journal.open(dir);
    j.recordChanges(
      ['a'],
      [
        { path: 'x', op: 'upsert' },
        { path: 'y', op: 'upsert' },
      ],
    );
    const taken = j.currentSeq;
    j.recordChanges(['a'], [{ path: 'y', op: 'delete' }]); // y changed again during the transfer
    j.delivered('a', ['x', 'y'], taken);
    assert.deepEqual(
      j.pending('a').map((r) => [r.path, r.op]),
      [['y', 'delete']],
    );
    j.close();
  }),
);

test(
  'a directory replaced by a file leaves no rows beneath it: its delete supersedes them, a sibling keeps its row',
  inTemp((dir) => {
    const j = Journal.open(dir);
    j.recordChanges(['a'], [{ path: 'swap/d1/sub/f', op: 'upsert' }]);
    j.recordChanges(
      ['a'],
      [
        { path: 'swap/d1/sub/f', op: 'delete' },
        { path: 'swap/d1/sub', op: 'delete' },
        { path: 'swap/d10', op: 'upsert' },
        { path: 'swap/d1', op: 'delete' },
        { path: 'swap/d1', op: 'upsert' },
      ],
    );
    assert.deepEqual(
      j
        .pending('a')
        .map((r) => [r.path, r.op])
        .sort(),
      [
        ['swap/d1', 'upsert'],
        ['swap/d10', 'upsert'],
      ],
    );
    j.deliveredBatch(
      'a',
      [
        { path: 'swap/d1', op: 'upsert' },
        { path: 'swap/d10', op: 'upsert' },
      ],
      j.currentSeq,
    );
    assert.equal(j.pendingSummary('a').count, 0);
    j.close();
  }),
);

test(
  'pending rows and non-UTF-8 paths survive a reopen',
  inTemp((dir) => {
    const weird = Buffer.from([0x66, 0xff, 0x0a, 0x66]).toString('latin1');
    const j = Journal.open(dir);
    j.recordChanges(['a'], [{ path: weird, op: 'upsert' }]);
    j.close();
    const j2 = Journal.open(dir);
    assert.equal(j2.pending('a')[0]?.path, weird);
    j2.recordChanges(['a'], [{ path: 'later', op: 'upsert' }]);
    assert.ok(
      (j2.pending('a').find((r) => r.path === 'later')?.seq ?? 0) >
        (j2.pending('a').find((r) => r.path === weird)?.seq ?? 0),
    );
    j2.close();
  }),
);

test(
  'transfer history records success and failure per target',
  inTemp((dir) => {
    const j = Journal.open(dir);
    j.recordState('a', 'idle', 'starting', 'first sync');
    j.recordTransfer({
      target: 'a',
      kind: 'batch',
      started: 1000,
      durationMs: 5,
      changes: 1,
      files: 1,
      bytes: 3,
      result: 'ok',
      code: 0,
    });
    assert.equal(j.target('a')?.lastSuccess, 1005);
    j.recordTransfer({
      target: 'a',
      kind: 'batch',
      started: 2000,
      durationMs: 5,
      changes: 1,
      files: 0,
      bytes: 0,
      result: 'transient',
      code: 10,
      message: 'connection refused',
    });
    assert.equal(j.target('a')?.lastError, 'connection refused');
    assert.equal(j.recentTransfers('a').length, 2);
    j.close();
  }),
);

test(
  'a second instance on the same state dir is refused; a stale lock is taken over',
  inTemp((dir) => {
    const lock = lockStateDir(dir);
    assert.equal(lock.stale, false);
    // pid 1 is always alive
    lock.release();
    writeFileSync(join(dir, LOCK_FILE), '1\n');
    assert.throws(
      () => lockStateDir(dir),
      (e) => e instanceof StateLockedError && /pid 1/.test(e.message),
    );
    writeFileSync(join(dir, LOCK_FILE), '999999999\n');
    const again = lockStateDir(dir);
    assert.equal(again.stale, true);
    again.release();
  }),
);

test(
  'a delivered delete or upsertTree of a directory clears the rows beneath it, not newer ones',
  inTemp((dir) => {
    const j = Journal.open(dir);
    // names that LIKE would misread (% and _), a non-UTF-8 byte, and near-miss siblings
    const hi = Buffer.from([0x64, 0xff]).toString('latin1'); // "d\xff"
    j.recordChanges(
      ['a', 'b'],
      [
        { path: 'd/x', op: 'upsert' },
        { path: 'd/sub/y', op: 'upsertTree' },
        { path: `d/${hi}`, op: 'upsert' },
        { path: 'd%/x', op: 'upsert' }, // not beneath d
        { path: 'd_/x', op: 'upsert' }, // not beneath d
        { path: 'd0', op: 'upsert' }, // not beneath d ('/' + 1)
        { path: 'dd/x', op: 'upsert' }, // not beneath d
        { path: `${hi}/x`, op: 'upsert' },
        { path: 'p%_/q', op: 'upsert' },
        { path: 'p%_/q/r', op: 'upsert' },
        { path: 'pX_/q', op: 'upsert' }, // LIKE 'p%_/%' would match this one
      ],
    );
    j.recordChanges(['a', 'b'], [{ path: 'd', op: 'delete' }]);
    j.recordChanges(['a', 'b'], [{ path: `${hi}`, op: 'upsertTree' }]);
    j.recordChanges(['a', 'b'], [{ path: 'p%_', op: 'upsertTree' }]);
    const taken = j.currentSeq;
    // changed again while the transfer ran: must survive
    j.recordChanges(['a', 'b'], [{ path: 'p%_/new', op: 'upsert' }]);
    j.recordChanges(['a', 'b'], [{ path: 'd/late', op: 'upsert' }]);
    j.deliveredBatch(
      'a',
      [
        { path: 'd', op: 'delete' },
        { path: hi, op: 'upsertTree' },
        { path: 'p%_', op: 'upsertTree' },
      ],
      taken,
    );
    const left = (t: string) =>
      j
        .pending(t)
        .map((r) => r.path)
        .sort();
    assert.deepEqual(left('a'), ['d%/x', 'd/late', 'd0', 'd_/x', 'dd/x', 'p%_/new', 'pX_/q'].sort());
    // b received nothing: it keeps all its rows, less the three beneath d that
    // the recorded delete of d superseded (d/x, d/sub/y, d/\xff)
    assert.deepEqual(
      left('b'),
      [
        'd%/x',
        'd/late',
        'd0',
        'd_/x',
        'dd/x',
        'p%_/new',
        'pX_/q',
        `${hi}/x`,
        hi,
        'p%_/q',
        'p%_/q/r',
        'p%_',
        'd',
      ].sort(),
      'another target keeps its rows',
    );
    j.close();
  }),
);

test(
  'a delivered directory delete clears only rows older than the delete; failed paths keep their rows',
  inTemp((dir) => {
    const j = Journal.open(dir);
    j.recordChanges(['a'], [{ path: 'd/old', op: 'upsert' }]);
    j.recordChanges(['a'], [{ path: 'd', op: 'delete' }]);
    // D recreated later, still waiting in the queue when the old delete is sent
    j.recordChanges(['a'], [{ path: 'd/new', op: 'upsert' }]);
    j.recordChanges(
      ['a'],
      [
        { path: 't/ok', op: 'upsert' },
        { path: 't/bad', op: 'upsert' },
        { path: 't/bad/z', op: 'upsert' },
      ],
    );
    j.recordChanges(['a'], [{ path: 't', op: 'upsertTree' }]);
    const taken = j.currentSeq;
    j.deliveredBatch(
      'a',
      [
        { path: 'd', op: 'delete' },
        { path: 't', op: 'upsertTree' },
      ],
      taken,
      new Set(['t/bad']),
    );
    assert.deepEqual(
      j
        .pending('a')
        .map((r) => r.path)
        .sort(),
      ['d/new', 't/bad', 't/bad/z'],
    );
    // a failed directory change covers nothing beneath it
    j.recordChanges(
      ['a'],
      [
        { path: 'u/x', op: 'upsert' },
        { path: 'u', op: 'upsertTree' },
      ],
    );
    j.deliveredBatch('a', [{ path: 'u', op: 'upsertTree' }], j.currentSeq, new Set(['u']));
    assert.deepEqual(
      j
        .pending('a')
        .filter((r) => r.path.startsWith('u'))
        .map((r) => r.path)
        .sort(),
      ['u', 'u/x'],
    );
    // the root's tree transfer covers every row
    j.deliveredBatch('a', [{ path: '', op: 'upsertTree' }], j.currentSeq);
    assert.deepEqual(j.pending('a'), []);
    j.close();
  }),
);

test(
  'a path that failed in a transfer is as old as that transfer: a delete of its directory seen meanwhile clears its row',
  inTemp((dir) => {
    const j = Journal.open(dir);
    // the transfer of tree d was taken at this sequence; d/f failed in it (found beneath the tree: no row of its own)
    const taken = j.recordChanges(['t'], [{ path: 'd', op: 'upsertTree' }]);
    // meanwhile d was deleted on the source
    const deleted = j.recordChanges(['t'], [{ path: 'd', op: 'delete' }]);
    j.recordIfAbsent('t', [{ path: 'd/f', op: 'upsert' }], Date.now(), taken);
    // the retry of d/f is covered by the pending delete of d, which is what goes
    j.deliveredBatch('t', [{ path: 'd', op: 'delete' }], deleted);
    assert.deepEqual(
      j.pending('t').map((r) => r.path.toString()),
      [],
      'no row outlives the delete that covered it',
    );
    j.close();
  }),
);
