import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { JournalReader } from '../../src/journal/index.js';
import { isWatching, type LogLine, msg, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { rsyncdTarget } from '../helpers/targets.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** The journal's pending paths for a target, read beside the running daemon. */
function pendingPaths(stateDir: string, key: string): string[] {
  const j = JournalReader.open(stateDir);
  if (!j) return [];
  try {
    return j.pending(key).map((c) => c.path);
  } finally {
    j.close();
  }
}

function owedFullSync(stateDir: string, key: string): string | null {
  const j = JournalReader.open(stateDir);
  if (!j) return null;
  try {
    return j.needsFull(key);
  } finally {
    j.close();
  }
}

const isFullSyncDone = (l: LogLine) => l.kind === 'full' && /^full sync .* done/.test(msg(l));

/**
 * Changes left pending for a target that is down, then a restart with
 * initial_sync: false. After a clean stop nothing but the journal brings them
 * back (no startup full sync covers for rows that were never loaded); after
 * kill -9 a full sync runs as well, since what the kernel had queued for the
 * dead process was never journaled.
 */
async function replayScenario(stopHow: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-replay-src-');
  const dir = await makeTempDir('syncward-replay-cfg-');
  const state = tempStateDir();
  const target = rsyncdTarget(rsyncd);
  const cfg = join(dir, 'syncward.yaml');
  writeFileSync(
    cfg,
    configYaml({ stateDir: state.dir, source: src, targets: [target], extra: '    initial_sync: false' }),
  );
  const first = spawnSyncward(['start', '-c', cfg]);
  let second: typeof first | null = null;
  try {
    await first.waitForLine(isWatching, 20_000, 'the first daemon watching');
    // no initial sync: the one file present at start is sent by an event
    writeFileSync(join(src, 'doomed'), 'deleted while the target is down\n');
    await converged(src, [target], 30_000, 'doomed on the target');

    await rsyncd.stop();
    rmSync(join(src, 'doomed'));
    writeFileSync(join(src, 'a.txt'), 'a\n');
    mkdirSync(join(src, 'dir', 'sub'), { recursive: true });
    writeFileSync(join(src, 'dir', 'sub', 'c.txt'), 'c\n');
    // positive signal: every change is in the journal before the crash
    await waitFor(
      () => {
        const p = pendingPaths(state.dir, 'src/daemon');
        return p.includes('doomed') && p.includes('a.txt') && p.includes('dir');
      },
      30_000,
      'the changes recorded in the journal',
    );
    if (stopHow === 'SIGKILL') {
      first.child.kill('SIGKILL');
      assert.equal((await first.exited).signal, 'SIGKILL');
    } else {
      await first.stop();
      assert.equal((await first.exited).code, 0, first.stderr());
    }
    // no event will name this one: only a full sync can send it
    writeFileSync(join(src, 'while-stopped'), 'written while syncward was stopped\n');

    await rsyncd.restart();
    second = spawnSyncward(['start', '-c', cfg]);
    const loaded = await second.waitForLine(
      (l) => /change\(s\) pending from the journal/.test(msg(l)),
      20_000,
      'the pending rows loaded at start',
    );
    assert.equal(loaded.target, 'daemon');
    await waitFor(
      () =>
        existsSync(join(target.dir, 'a.txt')) &&
        existsSync(join(target.dir, 'dir', 'sub', 'c.txt')) &&
        !existsSync(join(target.dir, 'doomed')),
      30_000,
      'the replayed changes (the delete too) reach the target',
    );
    assert.equal(readFileSync(join(target.dir, 'dir', 'sub', 'c.txt'), 'utf8'), 'c\n');
    if (stopHow === 'SIGTERM') {
      assert.deepEqual(
        second.lines.filter(isFullSyncDone),
        [],
        'no full sync ran: the journal alone brought the changes',
      );
      assert.ok(!existsSync(join(target.dir, 'while-stopped')), 'initial_sync false: nothing else was sent');
    } else {
      const done = await second.waitForLine(isFullSyncDone, 30_000, 'the full sync after the crash');
      assert.equal(done.reason, 'unclean restart');
      await converged(src, [target], 30_000, 'the full sync brought what no event named');
    }
    await waitFor(
      () => pendingPaths(state.dir, 'src/daemon').length === 0,
      20_000,
      'the journal empty once delivered',
    );
    await second.stop();
    assert.equal((await second.exited).code, 0, second.stderr());
  } finally {
    await first.stop();
    await second?.stop();
    await rsyncd.dispose();
    for (const d of [src, dir]) rmSync(d, { recursive: true, force: true });
    state.dispose();
  }
}

test('after a clean stop with changes pending and initial_sync false, the journal alone replays them to the target, deletes included', () =>
  replayScenario('SIGTERM'));

test('after kill -9 with initial_sync false, the pending changes are replayed and a full sync runs (what the kernel had queued was lost)', () =>
  replayScenario('SIGKILL'));

test('a full sync owed when syncward stops is run after the restart, even with initial_sync false', async () => {
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-owed-src-');
  const dir = await makeTempDir('syncward-owed-cfg-');
  const state = tempStateDir();
  const target: TargetUnderTest = rsyncdTarget(rsyncd);
  const cfg = join(dir, 'syncward.yaml');
  const configure = (extra: string) =>
    writeFileSync(cfg, configYaml({ stateDir: state.dir, source: src, targets: [target], extra }));
  writeFileSync(join(src, 'before-start'), 'here before the first start\n');
  // the first run owes its startup full sync: the target is down
  await rsyncd.stop();
  configure('    initial_sync: true');
  const first = spawnSyncward(['start', '-c', cfg]);
  let second: typeof first | null = null;
  try {
    await first.waitForLine(
      (l) => l.target === 'daemon' && l.kind === 'full' && l.result !== undefined && l.result !== 'ok',
      30_000,
      'the startup full sync failing',
    );
    assert.match(
      owedFullSync(state.dir, 'src/daemon') ?? '',
      /startup/,
      'the journal says a full sync is owed',
    );
    await first.stop();
    assert.equal((await first.exited).code, 0, first.stderr());

    // written while syncward is stopped: no event names it, only a full sync can send it
    writeFileSync(join(src, 'while-stopped'), 'no event saw this\n');
    configure('    initial_sync: false');
    await rsyncd.restart();
    second = spawnSyncward(['start', '-c', cfg]);
    const done = await second.waitForLine(isFullSyncDone, 30_000, 'the owed full sync');
    assert.match(String(done.reason), /^left from the last run: startup/);
    await converged(src, [target], 30_000, 'the target has what was written before and while stopped');
    await waitFor(
      () => owedFullSync(state.dir, 'src/daemon') === null,
      20_000,
      'the owed full sync cleared from the journal',
    );
    await second.stop();
    assert.equal((await second.exited).code, 0, second.stderr());
  } finally {
    await first.stop();
    await second?.stop();
    await rsyncd.dispose();
    for (const d of [src, dir]) rmSync(d, { recursive: true, force: true });
    state.dispose();
  }
});
