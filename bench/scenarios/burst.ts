/**
 * Burst: N files of 4 KiB created as fast as a loop can, until the target
 * holds all of them. Every contender runs the same writing loop and is timed
 * by the same two clocks: from its first write and from its last one.
 * Floor: the loop, then one bare `rsync -a` of the files to an empty module,
 * spawned at the last write; it has arrived when rsync exits.
 */
import { join } from 'node:path';
import { sideBySide } from '../lib/arena.js';
import { type Context, NOT_INSTALLED, type Scenario } from '../lib/context.js';
import { countFiles, writeBurst } from '../lib/files.js';
import { floorArgs, runRsync, until, warmUp } from '../lib/procs.js';
import { fmtS, fmtX, ratio } from '../lib/stats.js';
import type { Goal, ScenarioResult } from '../lib/types.js';
import { type Convergence, convergence, ratioGoal } from '../lib/verdicts.js';

export interface BurstRun {
  files: number;
  floor: Convergence;
  syncward: Convergence;
  lsyncd: Convergence | null;
  syncwardError?: string;
  lsyncdError?: string;
}

/** The goal of issue 12: no worse than before, i.e. within 1.5x one bare rsync of the files, both from the first write. */
export const BURST_LIMIT = 1.5;

export function burstGoal(r: BurstRun): Goal {
  return ratioGoal({
    goal: `burst of ${r.files.toLocaleString('en')} files: syncward within ${BURST_LIMIT}x the writing loop plus one bare rsync -a of the files, both timed from the first write`,
    value: r.syncward.fromFirstMs,
    base: r.floor.fromFirstMs,
    limit: BURST_LIMIT,
    unit: 's from the first write',
    failure: r.syncwardError,
    also: `from the last write ${fmtS(r.syncward.fromLastMs)} vs ${fmtS(r.floor.fromLastMs)} s (${fmtX(ratio(r.syncward.fromLastMs, r.floor.fromLastMs))}), the bare rsync alone`,
  });
}

export const burst: Scenario = {
  name: 'burst',
  title: 'Burst: N files of 4 KiB, convergence from the first and from the last write',
  async run(ctx: Context): Promise<ScenarioResult> {
    const sizes = [ctx.size(10_000, 2_000), ctx.size(100_000, 10_000)];
    const wanted = ctx.sizes ?? sizes;
    const runs = await measureBursts(ctx, wanted);
    const cell = (c: Convergence | null, clock: 'fromFirstMs' | 'fromLastMs', error?: string) =>
      c == null ? NOT_INSTALLED : c[clock] == null ? `failed: ${error}` : fmtS(c[clock]);
    const table = (clock: 'fromFirstMs' | 'fromLastMs', title: string) => ({
      title,
      columns: ['burst', 'floor', 'syncward', 'lsyncd', 'syncward / floor', 'syncward / lsyncd'],
      rows: runs.map((r) => [
        `${r.files.toLocaleString('en')} files`,
        fmtS(r.floor[clock]),
        cell(r.syncward, clock, r.syncwardError),
        cell(r.lsyncd, clock, r.lsyncdError),
        fmtX(ratio(r.syncward[clock], r.floor[clock])),
        r.lsyncd ? fmtX(ratio(r.syncward[clock], r.lsyncd[clock])) : NOT_INSTALLED,
      ]),
    });
    return {
      name: 'burst',
      title: this.title,
      params: { sizes: wanted, fileBytes: 4096, perDir: 1000 },
      data: { runs },
      tables: [
        table(
          'fromFirstMs',
          'Seconds from the first write until the target holds every file (the goal compares these).',
        ),
        table(
          'fromLastMs',
          'Seconds from the last write until the target holds every file (the floor: the bare rsync call alone).',
        ),
        {
          title:
            "Seconds the writing loop took in each contender's source (the same loop; it competes for the cores with whatever reacts to it).",
          columns: ['burst', 'floor (nothing watching)', 'syncward', 'lsyncd'],
          rows: runs.map((r) => [
            `${r.files.toLocaleString('en')} files`,
            fmtS(r.floor.writingMs),
            fmtS(r.syncward.writingMs),
            r.lsyncd ? fmtS(r.lsyncd.writingMs) : NOT_INSTALLED,
          ]),
        },
      ],
      goals: runs.map(burstGoal),
      notes: [
        'The floor writes the same files with the same loop, then spawns one bare rsync -a of them at the last write; it arrives when rsync exits. syncward and lsyncd send while the loop runs, so by the last-write clock alone they look faster than the floor; the first-write clock charges everyone the whole burst.',
        'syncward and lsyncd targets are counted every 25 ms (rsync temp files left out), so their times carry up to that much more.',
      ],
    };
  },
};

/** One syncward and one lsyncd for all sizes; each size in its own subdirectory. */
export async function measureBursts(ctx: Context, sizes: number[]): Promise<BurstRun[]> {
  const arena = await sideBySide(ctx, 'burst');
  const { rsyncd, dirs, ls } = arena;
  const runs: BurstRun[] = [];
  // the writing loop in `src`, then until `arrived` holds; null arrival when it never did
  const watched = async (
    src: string,
    target: string,
    n: number,
    limit: number,
    who: string,
  ): Promise<{ c: Convergence; error?: string }> => {
    const w = writeBurst(src, n);
    try {
      const at = await until(() => countFiles(target) >= n, limit, `${who}: ${n} files on the target`);
      return { c: convergence({ firstWriteAt: w.firstAt, lastWriteAt: w.lastAt, arrivedAt: at }) };
    } catch (e) {
      return {
        c: convergence({ firstWriteAt: w.firstAt, lastWriteAt: w.lastAt, arrivedAt: null }),
        error: `${(e as Error).message} (${countFiles(target)} there)`,
      };
    }
  };
  try {
    await warmUp(dirs.sw, rsyncd.modulePath('sw'), 'syncward');
    if (ls) await warmUp(dirs.ls, rsyncd.modulePath('ls'), 'lsyncd');
    for (const n of sizes) {
      const sub = `b${n}`;
      const limit = Math.max(120_000, n * 3);
      ctx.log(`burst ${n}: floor`);
      const fw = writeBurst(join(dirs.floor, sub), n);
      const floor = await runRsync([
        ...floorArgs(rsyncd),
        `${join(dirs.floor, sub)}/`,
        `${rsyncd.url('floor')}/${sub}/`,
      ]);
      const floorAt = performance.now();
      if (floor.code !== 0) throw new Error(`bare rsync failed (${floor.code}): ${floor.stderr}`);
      ctx.log(`burst ${n}: syncward`);
      const sw = await watched(join(dirs.sw, sub), join(rsyncd.modulePath('sw'), sub), n, limit, 'syncward');
      const run: BurstRun = {
        files: n,
        floor: convergence({ firstWriteAt: fw.firstAt, lastWriteAt: fw.lastAt, arrivedAt: floorAt }),
        syncward: sw.c,
        syncwardError: sw.error,
        lsyncd: null,
      };
      if (ls) {
        ctx.log(`burst ${n}: lsyncd`);
        const l = await watched(join(dirs.ls, sub), join(rsyncd.modulePath('ls'), sub), n, limit, 'lsyncd');
        run.lsyncd = l.c;
        run.lsyncdError = l.error;
      }
      runs.push(run);
    }
  } finally {
    await arena.dispose();
  }
  return runs;
}
