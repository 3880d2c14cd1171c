/**
 * Burst: N files of 4 KiB created as fast as a loop can; time from the end of
 * the burst until the target holds all of them. Floor: one bare `rsync -a`
 * of the same files to an empty module (its whole run, since the files all
 * exist before it starts).
 */
import { join } from 'node:path';
import { sideBySide } from '../lib/arena.js';
import { type Context, NOT_INSTALLED, type Scenario } from '../lib/context.js';
import { countFiles, writeBurst } from '../lib/files.js';
import { floorArgs, runRsync, until, warmUp } from '../lib/procs.js';
import { fmtS, fmtX, ratio } from '../lib/stats.js';
import type { Goal, ScenarioResult } from '../lib/types.js';

export interface BurstRun {
  files: number;
  burstMs: number;
  floorMs: number;
  syncwardMs: number | null;
  lsyncdMs: number | null;
  syncwardError?: string;
  lsyncdError?: string;
}

export const burst: Scenario = {
  name: 'burst',
  title: 'Burst: N files of 4 KiB, convergence after the last one',
  async run(ctx: Context): Promise<ScenarioResult> {
    const sizes = [ctx.size(10_000, 2_000), ctx.size(100_000, 10_000)];
    const wanted = ctx.sizes ?? sizes;
    const runs = await measureBursts(ctx, wanted);
    const rows = runs.map((r) => [
      `${r.files.toLocaleString('en')} files`,
      fmtS(r.burstMs),
      fmtS(r.floorMs),
      r.syncwardMs == null ? `failed: ${r.syncwardError}` : fmtS(r.syncwardMs),
      ctx.lsyncd ? (r.lsyncdMs == null ? `failed: ${r.lsyncdError}` : fmtS(r.lsyncdMs)) : NOT_INSTALLED,
      fmtX(ratio(r.syncwardMs, r.floorMs)),
      ctx.lsyncd ? fmtX(ratio(r.syncwardMs, r.lsyncdMs)) : NOT_INSTALLED,
    ]);
    const goals: Goal[] = runs.map((r) => {
      const x = ratio(r.syncwardMs, r.floorMs);
      return {
        goal: `burst of ${r.files.toLocaleString('en')} files converges within 1.5x one bare rsync`,
        status: x != null && x <= 1.5 ? 'met' : 'missed',
        detail: `${fmtX(x)}: ${fmtS(r.syncwardMs)} vs ${fmtS(r.floorMs)} s`,
      };
    });
    return {
      name: 'burst',
      title: this.title,
      params: { sizes: wanted, fileBytes: 4096, perDir: 1000 },
      data: { runs },
      tables: [
        {
          title: 'Seconds; syncward and lsyncd from the end of the burst until the target holds every file.',
          columns: [
            'burst',
            'writing',
            'bare rsync -a',
            'syncward',
            'lsyncd',
            'syncward / floor',
            'syncward / lsyncd',
          ],
          rows,
        },
      ],
      goals,
      notes: [
        'Targets are counted every 25 ms (rsync temp files left out), so times carry up to that much more.',
      ],
    };
  },
};

/** One syncward and one lsyncd for all sizes; each size in its own subdirectory. */
export async function measureBursts(ctx: Context, sizes: number[]): Promise<BurstRun[]> {
  const arena = await sideBySide(ctx, 'burst');
  const { rsyncd, dirs, ls } = arena;
  const runs: BurstRun[] = [];
  try {
    await warmUp(dirs.sw, rsyncd.modulePath('sw'), 'syncward');
    if (ls) await warmUp(dirs.ls, rsyncd.modulePath('ls'), 'lsyncd');
    for (const n of sizes) {
      const sub = `b${n}`;
      const limit = Math.max(120_000, n * 3);
      ctx.log(`burst ${n}: floor`);
      writeBurst(join(dirs.floor, sub), n);
      const floor = await runRsync([
        ...floorArgs(rsyncd),
        `${join(dirs.floor, sub)}/`,
        `${rsyncd.url('floor')}/${sub}/`,
      ]);
      if (floor.code !== 0) throw new Error(`bare rsync failed (${floor.code}): ${floor.stderr}`);
      const run: BurstRun = { files: n, burstMs: 0, floorMs: floor.ms, syncwardMs: null, lsyncdMs: null };
      ctx.log(`burst ${n}: syncward`);
      const t0 = performance.now();
      const end = writeBurst(join(dirs.sw, sub), n);
      run.burstMs = end - t0;
      const target = join(rsyncd.modulePath('sw'), sub);
      try {
        run.syncwardMs =
          (await until(() => countFiles(target) >= n, limit, `syncward: ${n} files on the target`)) - end;
      } catch (e) {
        run.syncwardError = `${(e as Error).message} (${countFiles(target)} there)`;
      }
      if (ls) {
        ctx.log(`burst ${n}: lsyncd`);
        const lend = writeBurst(join(dirs.ls, sub), n);
        const ltarget = join(rsyncd.modulePath('ls'), sub);
        try {
          run.lsyncdMs =
            (await until(() => countFiles(ltarget) >= n, limit, `lsyncd: ${n} files on the target`)) - lend;
        } catch (e) {
          run.lsyncdError = `${(e as Error).message} (${countFiles(ltarget)} there)`;
        }
      }
      runs.push(run);
    }
  } finally {
    await arena.dispose();
  }
  return runs;
}
