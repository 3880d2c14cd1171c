import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Daemon } from '../../src/daemon/index.js';
import { JournalReader } from '../../src/journal/index.js';
import { churn } from '../helpers/churn.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { type Sshd, startSshd } from '../helpers/sshd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const seeds = process.env.SEED ? [Number(process.env.SEED)] : [1, 2, Math.floor(Math.random() * 1e9)];
const OPS = Number(process.env.CHURN_OPS ?? 400);
/*
 * A seed that fails is a bug in syncward (or in this test): SEED=n reruns it,
 * SYNCWARD_TEST_LOG=1 (running the compiled file with node directly) shows
 * the daemon's log. 36 seeds in a row passed under two concurrent churns on
 * 2026-12-06 after the last fixes (hard links learned at write, a link made
 * during a scan, left-out paths gone from the source, tree retries kept).
 */

/** What keeps a target from being done: journal rows left, or a state other than idle. */
function leftovers(daemon: Daemon, stateDir: string): string[] {
  const r = JournalReader.open(stateDir);
  try {
    return daemon
      .status()
      .flatMap((s) =>
        s.targets.flatMap((t) => [
          ...(r?.pending(`${s.name}/${t.target}`) ?? []).map(
            (c) => `${t.target}: journal row ${c.op} ${c.path}`,
          ),
          ...(t.state === 'idle' && t.stuck === 0 && t.pending === 0
            ? []
            : [`${t.target}: state ${t.state} (${t.stateReason}), ${t.pending} pending, ${t.stuck} stuck`]),
        ]),
      );
  } finally {
    r?.close();
  }
}

describe('randomized churn converges on every target', () => {
  let rsyncd: RsyncDaemon;
  let sshd: Sshd;
  before(async () => {
    rsyncd = await startRsyncDaemon({ modules: seeds.map((_, i) => `m${i}`) });
    sshd = await startSshd();
  });
  after(async () => {
    await rsyncd?.dispose();
    await sshd?.dispose();
  });

  for (const [i, seed] of seeds.entries()) {
    test(`seed ${seed}: ${OPS} random operations (root, hard links, swaps, releases, open logs) leave daemon, ssh and local targets identical, the journal empty and every target idle`, async () => {
      console.log(`churn seed ${seed} (rerun with SEED=${seed})`);
      const src = await makeTempDir('syncward-churn-');
      const local = await makeTempDir('syncward-churn-local-');
      const sshDir = await sshd.targetDir();
      const state = tempStateDir();
      const targets: TargetUnderTest[] = [
        {
          name: 'daemon',
          url: rsyncd.url(`m${i}`),
          dir: rsyncd.modulePath(`m${i}`),
          passwordFile: rsyncd.passwordFile,
          owner: true,
        },
        // the ssh user is unprivileged: its files keep its own owner
        {
          name: 'ssh',
          url: sshd.url(sshDir),
          dir: sshDir,
          identityFile: sshd.identityFile,
          sshOptions: sshd.sshOptions,
        },
        { name: 'local', url: local, dir: local, owner: true },
      ];
      const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
      try {
        await churn(src, seed, OPS);
        await converged(src, targets, 60_000, `seed ${seed} converges (rerun with SEED=${seed})`, {
          exact: true,
        });
        let left: string[] = [];
        await waitFor(
          () => (left = leftovers(d.daemon, state.dir)).length === 0,
          30_000,
          'an empty journal and every target idle',
        ).catch((e: Error) => {
          throw new Error(`seed ${seed}: ${e.message}; left:\n  ${left.slice(0, 30).join('\n  ')}`);
        });
        // settled: nothing arrived meanwhile to undo the comparison
        await converged(src, targets, 1_000, `seed ${seed} still identical once idle`, { exact: true });
      } finally {
        await d.dispose();
        rmSync(src, { recursive: true, force: true });
        rmSync(local, { recursive: true, force: true });
        state.dispose();
      }
    });
  }
});
