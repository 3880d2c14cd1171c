import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TransferReport, WorkerAlert } from '../../src/dispatch/index.js';
import { Journal, JournalReader } from '../../src/journal/index.js';
import { configYaml, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

// The journal replayed after a restart (initial_sync false: no full sync covers for it) holds
// what the watcher recorded for `rm -rf swap/d1 && echo file > swap/d1`: the delete of
// swap/d1/sub, then swap/d1 as a file. rsync cannot stat swap/d1/sub ("Not a directory"):
// that delete is already satisfied by swap/d1's own change, never a stuck path.
test('a delete beneath a directory that became a file is satisfied, not stuck, also after a restart', async () => {
  const src = await makeTempDir('syncward-swap-src-');
  const local = await makeTempDir('syncward-swap-dst-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [{ name: 'local', url: local, dir: local }];
  const alerts: WorkerAlert[] = [];
  const transfers: TransferReport[] = [];
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    // the target still has the old tree; in the source swap/d1 is a file now
    mkdirSync(join(local, 'swap/d1/sub'), { recursive: true });
    writeFileSync(join(local, 'swap/d1/sub/f'), 'old\n');
    mkdirSync(join(src, 'swap'));
    writeFileSync(join(src, 'swap/d1'), 'now a file\n');
    const j = Journal.open(state.dir);
    j.recordChanges(['src/local'], [{ path: 'swap/d1/sub', op: 'delete' }]);
    j.recordChanges(['src/local'], [{ path: 'swap/d1', op: 'upsert' }]);
    j.close();

    d = await startDaemon(
      configYaml({
        stateDir: state.dir,
        source: src,
        targets,
        extra: '    initial_sync: false\n    stuck_after: 2',
      }),
    );
    d.daemon.on('alert', (a: WorkerAlert) => alerts.push(a));
    d.daemon.on('transfer', (r: TransferReport) => transfers.push(r));

    const reader = JournalReader.open(state.dir);
    assert.ok(reader);
    try {
      await waitFor(
        () => transfers.length > 0 && reader.pending('src/local').length === 0,
        30_000,
        'the replayed rows to clear',
      );
    } finally {
      reader.close();
    }
    assert.ok(statSync(join(local, 'swap/d1')).isFile(), 'swap/d1 is a file on the target');
    assert.equal(readFileSync(join(local, 'swap/d1'), 'utf8'), 'now a file\n');
    const t = d.daemon.status()[0]?.targets[0];
    assert.equal(t?.stuck, 0, `nothing stuck: ${JSON.stringify(t?.stuckPaths)}`);
    assert.equal(t?.pending, 0);
    assert.deepEqual(
      alerts.filter((a) => a.kind === 'stuck'),
      [],
      'no stuck alert',
    );
  } finally {
    await d?.dispose();
    for (const x of [src, local]) rmSync(x, { recursive: true, force: true });
    state.dispose();
  }
});

// rsync skips every --delete of a call that had an I/O error, so the trees of such a batch go
// again; a tree beneath what is a file now must not be among them: it fails the same way each
// time, and its sibling trees (with their rows) went again every half second, forever.
test('a new tree beneath a directory that became a file does not send its sibling trees again and again', async () => {
  const src = await makeTempDir('syncward-swap-src-');
  const local = await makeTempDir('syncward-swap-dst-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [{ name: 'local', url: local, dir: local }];
  const transfers: TransferReport[] = [];
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    mkdirSync(join(src, 'swap'));
    writeFileSync(join(src, 'swap/d1'), 'now a file\n');
    mkdirSync(join(src, 'keep'));
    writeFileSync(join(src, 'keep/f'), 'kept\n');
    // the target has a stale file in keep/ that only keep's own --delete removes
    mkdirSync(join(local, 'keep'), { recursive: true });
    writeFileSync(join(local, 'keep/stale'), 'deleted in the source\n');
    const j = Journal.open(state.dir);
    j.recordChanges(['src/local'], [{ path: 'swap/d1/sub', op: 'upsertTree' }]);
    j.recordChanges(['src/local'], [{ path: 'keep', op: 'upsertTree' }]);
    j.close();

    d = await startDaemon(
      configYaml({ stateDir: state.dir, source: src, targets, extra: '    initial_sync: false' }),
    );
    d.daemon.on('transfer', (r: TransferReport) => transfers.push(r));
    const reader = JournalReader.open(state.dir);
    assert.ok(reader);
    try {
      await waitFor(
        () => {
          const t = d?.daemon.status()[0]?.targets[0];
          return reader.pending('src/local').length === 0 && t?.state === 'idle' && t.pending === 0;
        },
        20_000,
        'the replayed rows to clear and the target to go idle',
      ).catch((e: Error) => {
        throw new Error(
          `${e.message}; rows ${JSON.stringify(reader.pending('src/local').map((c) => c.path))}, ${transfers.length} transfers`,
        );
      });
    } finally {
      reader.close();
    }
    assert.equal(existsSync(join(local, 'keep/stale')), false, 'keep/ was sent with its deletions');
    assert.equal(readFileSync(join(local, 'keep/f'), 'utf8'), 'kept\n');
    const t = d.daemon.status()[0]?.targets[0];
    assert.equal(t?.stuck, 0, `nothing stuck: ${JSON.stringify(t?.stuckPaths)}`);
  } finally {
    await d?.dispose();
    for (const x of [src, local]) rmSync(x, { recursive: true, force: true });
    state.dispose();
  }
});
