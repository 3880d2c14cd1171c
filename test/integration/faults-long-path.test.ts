import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TransferReport, WorkerAlert } from '../../src/dispatch/index.js';
import { configYaml, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const NAME = 'd'.repeat(250);
const DEPTH = 17; // 17 × 251 bytes: past rsync's 4,096-byte limit on a path

/**
 * Creates DEPTH nested directories of 250-byte names under `dir/top` and a
 * file at the bottom. One step at a time from a shell inside the tree: no
 * single path syscall may be longer than PATH_MAX.
 */
function deepTree(dir: string, top: string): void {
  // bash: dash's cd fails once the logical path passes PATH_MAX
  const r = spawnSync(
    'bash',
    [
      '-c',
      'cd "$1" && mkdir "$2" && cd "$2" && i=0; while [ $i -lt "$4" ]; do mkdir "$3" && cd "$3" || exit 1; i=$((i+1)); done; echo deep > f',
      'sh',
      dir,
      top,
      NAME,
      String(DEPTH),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
}

/** rm -rf walks with openat; Node's rmSync fails on paths past PATH_MAX. */
function removeTree(dir: string): void {
  spawnSync('rm', ['-rf', dir]);
}

test('a source path longer than 4,096 bytes is one stuck path: full syncs delete again, live changes and deletes arrive, no target goes down', async () => {
  const src = await makeTempDir('syncward-long-src-');
  const local = await makeTempDir('syncward-long-dst-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [{ name: 'local', url: local, dir: local }];
  const transfers: TransferReport[] = [];
  const alerts: WorkerAlert[] = [];
  const states: string[] = [];
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    deepTree(src, 'before');
    writeFileSync(join(src, 'kept.txt'), 'kept\n');
    writeFileSync(join(src, 'doomed.txt'), 'doomed\n');
    // on the target only: the startup full sync must delete it despite the long path
    writeFileSync(join(local, 'stale-on-target.txt'), 'stale\n');

    d = await startDaemon(
      configYaml({ stateDir: state.dir, source: src, targets, extra: '    stuck_after: 2' }),
    );
    d.daemon.on('transfer', (r: TransferReport) => transfers.push(r));
    d.daemon.on('alert', (a: WorkerAlert) => alerts.push(a));
    d.daemon.on('state', (_s: string, _t: string, st: string) => states.push(st));

    await waitFor(() => !existsSync(join(local, 'stale-on-target.txt')), 60_000, 'the full sync to delete');
    assert.equal(readFileSync(join(local, 'kept.txt'), 'utf8'), 'kept\n');

    // live: a second long tree, a new file, and a delete
    deepTree(src, 'live');
    writeFileSync(join(src, 'after.txt'), 'after\n');
    rmSync(join(src, 'doomed.txt'));
    await waitFor(
      () => existsSync(join(local, 'after.txt')) && !existsSync(join(local, 'doomed.txt')),
      60_000,
      'the live change and the delete to arrive',
    );
    // both long paths end up stuck, by name
    await waitFor(
      () => {
        const names = d?.daemon.status()[0]?.targets[0]?.stuckPaths ?? [];
        return names.some((n) => n.startsWith('before/')) && names.some((n) => n.startsWith('live/'));
      },
      60_000,
      'both long paths listed as stuck',
    );
    assert.ok(
      alerts.some((a) => a.kind === 'stuck'),
      `a stuck alert: ${JSON.stringify(alerts.map((a) => a.kind))}`,
    );

    // an audit leaves them out (else rsync fails on them) and reports them: not in sync
    const audit = await d.daemon.audit('src');
    const summary = audit?.results[0]?.summary;
    assert.equal(summary?.error, null, `the audit ran: ${summary?.error}`);
    assert.equal(summary?.stuck, 2);
    assert.equal(summary?.ok, false, 'stuck paths are not in sync');

    // a full sync on request still runs, succeeds for everything else, and deletes
    writeFileSync(join(local, 'stale-again.txt'), 'stale\n');
    const fullsBefore = transfers.filter((r) => r.kind === 'full').length;
    const askedAt = Date.now();
    assert.equal(d.daemon.fullSync('src'), true);
    await waitFor(
      () => transfers.filter((r) => r.kind === 'full').length > fullsBefore,
      60_000,
      'the requested full sync',
    );
    await waitFor(() => !existsSync(join(local, 'stale-again.txt')), 30_000, 'the full sync to delete');
    const t = d.daemon.status()[0]?.targets[0];
    // what resolves an overflow alert: a full sync that left only stuck paths out counts as done
    assert.ok((t?.lastFullSyncAt ?? 0) >= askedAt, 'a full sync counts as done although paths are stuck');
    assert.ok(!states.includes('down'), `the target never went down: ${states.join(' ')}`);
    assert.ok(
      !transfers.some((r) => r.result !== 'ok' && r.result !== 'vanished' && r.result !== 'partial'),
      'no transfer failed as a whole',
    );
  } finally {
    await d?.dispose();
    removeTree(src);
    removeTree(local);
    state.dispose();
  }
});
