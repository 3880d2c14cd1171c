/**
 * Fan-out: one source, 10 targets (10 modules of one rsync daemon), a burst
 * of N files; time from the end of the burst until every target holds all of
 * them, against the same burst to a single target.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Context, type Scenario, scratch } from '../lib/context.js';
import { countFiles, writeBurst } from '../lib/files.js';
import {
  floorArgs,
  type RsyncDaemon,
  runRsync,
  startRsyncDaemon,
  startSyncward,
  until,
  warmUp,
} from '../lib/procs.js';
import { fmtS, fmtX, ratio } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/types.js';

const FAN = 10;

async function converge(ctx: Context, rsyncd: RsyncDaemon, modules: string[], n: number): Promise<number> {
  const tmp = scratch('fanout');
  const src = join(tmp.dir, 'src');
  mkdirSync(src);
  const sw = startSyncward({
    stateDir: tmp.dir,
    source: src,
    targets: modules.map((m) => ({ name: m, url: rsyncd.url(m), passwordFile: rsyncd.passwordFile })),
    cpuProfDir: ctx.cpuProfDir,
  });
  try {
    for (const m of modules) await warmUp(src, rsyncd.modulePath(m), `syncward to ${m}`);
    const end = writeBurst(join(src, 'f'), n);
    const at = await until(
      () => modules.every((m) => countFiles(join(rsyncd.modulePath(m), 'f')) >= n),
      Math.max(180_000, n * 20),
      `all ${modules.length} targets to hold ${n} files`,
      50,
    );
    return at - end;
  } finally {
    await sw.stop();
    tmp.dispose();
  }
}

export const fanout: Scenario = {
  name: 'fanout',
  title: `Fan-out: one source to ${FAN} targets`,
  async run(ctx: Context): Promise<ScenarioResult> {
    const n = ctx.size(10_000, 2_000);
    const fan = Array.from({ length: FAN }, (_, i) => `t${i}`);
    const floorMods = Array.from({ length: FAN }, (_, i) => `floor${i}`);
    const rsyncd = await startRsyncDaemon({ modules: ['one', ...fan, ...floorMods] });
    try {
      ctx.log(`fan-out: 1 target, ${n} files`);
      const one = await converge(ctx, rsyncd, ['one'], n);
      ctx.log(`fan-out: ${FAN} targets, ${n} files`);
      const ten = await converge(ctx, rsyncd, fan, n);
      // the floor: the same files, one bare rsync to one module, then 10 at once
      const tmp = scratch('fanout-floor');
      try {
        writeBurst(tmp.dir, n);
        const floor1 = await runRsync([...floorArgs(rsyncd), `${tmp.dir}/`, `${rsyncd.url('floor0')}/`]);
        const t0 = performance.now();
        await Promise.all(
          floorMods.map((m) => runRsync([...floorArgs(rsyncd), `${tmp.dir}/`, `${rsyncd.url(m)}/ten/`])),
        );
        const floor10 = performance.now() - t0;
        const x = ratio(ten, one);
        return {
          name: 'fanout',
          title: this.title,
          params: { files: n, targets: FAN },
          data: { oneMs: one, tenMs: ten, floorOneMs: floor1.ms, floorTenMs: floor10 },
          tables: [
            {
              title: `${n.toLocaleString('en')} files of 4 KiB; seconds from the end of the burst until every target holds them.`,
              columns: ['', '1 target', `${FAN} targets`, `${FAN} / 1`],
              rows: [
                ['syncward', fmtS(one), fmtS(ten), fmtX(x)],
                [
                  `bare rsync -a (1 call; ${FAN} calls at once)`,
                  fmtS(floor1.ms),
                  fmtS(floor10),
                  fmtX(ratio(floor10, floor1.ms)),
                ],
              ],
            },
          ],
          goals: [
            {
              goal: `fan-out to ${FAN} targets within 2x of one target`,
              status: x != null && x <= 2 ? 'met' : 'missed',
              detail: `${fmtX(x)}: ${fmtS(ten)} vs ${fmtS(one)} s; ${FAN} bare rsync calls at once took ${fmtX(ratio(floor10, floor1.ms))} one call, and syncward to ${FAN} targets ${fmtX(ratio(ten, floor10))} those ${FAN} calls`,
            },
          ],
          notes: [
            `All ${FAN} targets are modules of one loopback rsync daemon on this machine, so their receivers share its cores with the senders.`,
          ],
        };
      } finally {
        tmp.dispose();
      }
    } finally {
      await rsyncd.dispose();
    }
  },
};
