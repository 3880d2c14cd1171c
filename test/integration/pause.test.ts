import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JournalReader } from '../../src/journal/index.js';
import { isWatching, msg, runSyncward, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, type TargetUnderTest } from '../helpers/daemon.js';
import { type RsyncdAndLocal, rsyncdAndLocalTargets } from '../helpers/targets.js';
import { makeTempDir } from '../helpers/tree.js';

const FILES = 20;

/** `syncward status --json`: the state of every target by name. */
function states(cfg: string): Record<string, string> {
  const r = runSyncward(['status', '-c', cfg, '--json']);
  const s = JSON.parse(r.out) as { sources: { targets: { target: string; state: string }[] }[] };
  return Object.fromEntries(s.sources.flatMap((x) => x.targets.map((t) => [t.target, t.state])));
}

/** The journal's pending paths of a target, read beside the running daemon. */
function pending(stateDir: string, key: string): string[] {
  const j = JournalReader.open(stateDir);
  assert.ok(j, 'the journal exists');
  try {
    return j
      .pending(key)
      .map((c) => c.path)
      .sort();
  } finally {
    j.close();
  }
}

describe('syncward pause and resume: an operator stops sending to a target before maintenance', () => {
  let env: RsyncdAndLocal;
  let dir: string;
  let cfg: string;
  let daemonTarget: TargetUnderTest;
  let localTarget: TargetUnderTest;

  before(async () => {
    env = await rsyncdAndLocalTargets('syncward-pause');
    [daemonTarget, localTarget] = env.targets as [TargetUnderTest, TargetUnderTest];
    dir = await makeTempDir('syncward-pause-cfg-');
    cfg = join(dir, 'syncward.yaml');
    writeFileSync(cfg, configYaml({ stateDir: env.state.dir, source: env.src, targets: env.targets }));
  });

  after(async () => {
    await env.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a paused target gets nothing while its changes journal, stays paused across a restart, and gets them all on resume', async () => {
    const names = Array.from({ length: FILES }, (_, i) => `f${i}`);
    writeFileSync(join(env.src, 'before'), 'synced before the pause\n');
    let daemon = spawnSyncward(['start', '-c', cfg]);
    try {
      await daemon.waitForLine(isWatching, 20_000, 'watching');
      await converged(env.src, env.targets, 30_000, 'initial sync');

      const p = runSyncward(['pause', '-c', cfg, 'daemon']);
      assert.equal(p.code, 0, `pause daemon: ${p.err}${p.out}`);
      assert.match(p.err, /paused src\/daemon: nothing more is sent to it/);
      const again = runSyncward(['pause', '-c', cfg, 'src/daemon']);
      assert.equal(again.code, 0, `a second pause is not an error: ${again.err}`);
      assert.match(again.err, /src\/daemon was already paused/);

      for (const n of names) writeFileSync(join(env.src, n), `written while ${n} is paused\n`);
      // the other target is not paused: once it has them, the daemon has journaled and routed them all
      await converged(env.src, [localTarget], 30_000, 'the target that is not paused gets the files');
      for (const n of names) assert.ok(!existsSync(join(daemonTarget.dir, n)), `${n} not sent while paused`);
      assert.deepEqual(states(cfg), { daemon: 'paused', local: 'idle' });
      assert.deepEqual(pending(env.state.dir, 'src/daemon'), [...names].sort(), 'the journal holds them');
      assert.deepEqual(pending(env.state.dir, 'src/local'), []);

      // a restart keeps the pause: its startup catch-up does not reach the paused target
      await daemon.stop();
      assert.equal((await daemon.exited).code, 0, daemon.stderr());
      daemon = spawnSyncward(['start', '-c', cfg]);
      await daemon.waitForLine(isWatching, 20_000, 'watching after the restart');
      await daemon.waitForLine(
        (l) => /^full sync src -> local done/.test(msg(l)),
        30_000,
        'the startup full sync of the target that is not paused',
      );
      assert.equal(states(cfg).daemon, 'paused');
      for (const n of names) assert.ok(!existsSync(join(daemonTarget.dir, n)), `${n} still not sent`);
      assert.equal(pending(env.state.dir, 'src/daemon').length, FILES, 'still journaled after the restart');

      // resume without a target lifts every pause
      const r = runSyncward(['resume', '-c', cfg]);
      assert.equal(r.code, 0, `resume: ${r.err}${r.out}`);
      assert.match(r.err, /resumed src\/daemon: no longer paused/);
      await converged(env.src, env.targets, 30_000, 'the resumed target gets everything');
      assert.deepEqual(pending(env.state.dir, 'src/daemon'), []);
      assert.notEqual(states(cfg).daemon, 'paused');

      const none = runSyncward(['resume', '-c', cfg, 'daemon']);
      assert.equal(none.code, 1, `resume of a target that is not paused: ${none.err}`);
      assert.match(none.err, /not on hold or paused/);
      const unknown = runSyncward(['pause', '-c', cfg, 'nope']);
      assert.equal(unknown.code, 1, `pause of an unknown target: ${unknown.err}`);
      assert.match(unknown.err, /no target "nope".*targets: src\/daemon, src\/local/);

      // without a target name: every target
      const all = runSyncward(['pause', '-c', cfg, '--json']);
      assert.equal(all.code, 0, all.err);
      assert.deepEqual(JSON.parse(all.out).paused.sort(), ['src/daemon', 'src/local']);
      assert.deepEqual(states(cfg), { daemon: 'paused', local: 'paused' });
      const st = runSyncward(['status', '-c', cfg]);
      assert.equal(st.code, 1, `status warns about paused targets: ${st.out}`);
      assert.match(st.out + st.err, /src\/local is paused by an operator/);
      assert.equal(runSyncward(['resume', '-c', cfg]).code, 0);

      await daemon.stop();
      const down = runSyncward(['pause', '-c', cfg]);
      assert.equal(down.code, 2, `pause with no daemon running: ${down.err}`);
      assert.match(down.err, /no syncward daemon is running/);
    } finally {
      await daemon.stop();
    }
  });
});
