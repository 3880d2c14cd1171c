import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { churn } from '../helpers/churn.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir } from '../helpers/tree.js';

const seeds = process.env.SEED ? [Number(process.env.SEED)] : [1, 2, 3, Math.floor(Math.random() * 1e9)];

describe('randomized churn converges on every target', () => {
  let rsyncd: RsyncDaemon;
  before(async () => {
    rsyncd = await startRsyncDaemon({ modules: seeds.map((_, i) => `m${i}`) });
  });
  after(async () => {
    await rsyncd?.dispose();
  });

  for (const [i, seed] of seeds.entries()) {
    test(`seed ${seed}: 2000 random operations over a deep tree`, async () => {
      console.log(`churn seed ${seed} (rerun with SEED=${seed})`);
      const src = await makeTempDir('syncward-churn-');
      const local = await makeTempDir('syncward-churn-local-');
      const state = tempStateDir();
      const targets: TargetUnderTest[] = [
        {
          name: 'daemon',
          url: rsyncd.url(`m${i}`),
          dir: rsyncd.modulePath(`m${i}`),
          passwordFile: rsyncd.passwordFile,
          owner: true,
        },
        { name: 'local', url: local, dir: local, owner: true },
      ];
      const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
      try {
        await churn(src, seed, 2000);
        await converged(src, targets, 60_000, `seed ${seed} converges`);
      } finally {
        await d.dispose();
        rmSync(src, { recursive: true, force: true });
        rmSync(local, { recursive: true, force: true });
        state.dispose();
      }
    });
  }
});
