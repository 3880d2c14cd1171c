/**
 * Churn: a fixed-seed random mix of create, modify, rename, delete, chmod and
 * symlinks (test/helpers/churn.ts) for a fixed time; time from the last
 * operation until the target matches the source byte for byte. The mix runs
 * in chunks of 300 operations, each in its own subdirectory with seed+k;
 * lsyncd replays the same chunks. Floor: one bare `rsync -a -H --delete` of
 * the final tree into an empty module.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { churn as churnOps } from '../../test/helpers/churn.js';
import { compareTrees } from '../../test/helpers/tree.js';
import { sideBySide } from '../lib/arena.js';
import { type Context, NOT_INSTALLED, type Scenario } from '../lib/context.js';
import { floorArgs, runRsync, until, warmUp } from '../lib/procs.js';
import { fmtS, fmtX, ratio } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/types.js';
import { neverMatchedNote, type StaleFile } from '../lib/verdicts.js';

const SEED = 20261125;
const CHUNK = 300;

async function runChunks(root: string, chunks: number | null, durationMs: number): Promise<number> {
  mkdirSync(root, { recursive: true });
  const t0 = performance.now();
  let k = 0;
  while (chunks == null ? performance.now() - t0 < durationMs : k < chunks) {
    const dir = join(root, `c${k}`);
    mkdirSync(dir);
    await churnOps(dir, SEED + k, CHUNK);
    k++;
  }
  return k;
}

/** What still differs when a target never matched, for the report, and the stat of each file left stale. */
async function leftover(e: unknown, a: string, b: string): Promise<{ error: string; stale: StaleFile[] }> {
  const diffs = await compareTrees(a, b);
  const stale: StaleFile[] = [];
  for (const d of diffs) {
    const m = /^content differs: (.*)$/.exec(d);
    if (!m) continue;
    try {
      const [sa, sb] = [lstatSync(join(a, m[1] as string)), lstatSync(join(b, m[1] as string))];
      stale.push({
        path: m[1] as string,
        sourceSize: sa.size,
        targetSize: sb.size,
        sourceMtimeMs: sa.mtimeMs,
        targetMtimeMs: sb.mtimeMs,
      });
    } catch {
      // gone since the comparison: nothing measured for it
    }
  }
  return {
    error: `${(e as Error).message}; ${diffs.length} difference(s) left, e.g. ${diffs.slice(0, 3).join('; ')}`,
    stale,
  };
}

export const churn: Scenario = {
  name: 'churn',
  title: 'Churn: random create/modify/rename/delete, convergence after the last operation',
  async run(ctx: Context): Promise<ScenarioResult> {
    const durationMs = ctx.size(60_000, 10_000);
    const arena = await sideBySide(ctx, 'churn');
    const { rsyncd, dirs, ls } = arena;
    const matches = async (a: string, b: string) => (await compareTrees(a, b)).length === 0;
    try {
      await warmUp(dirs.sw, rsyncd.modulePath('sw'), 'syncward');
      if (ls) await warmUp(dirs.ls, rsyncd.modulePath('ls'), 'lsyncd');
      ctx.log(`churn: syncward, ${durationMs / 1000} s`);
      const swRoot = join(dirs.sw, 'churn');
      const chunks = await runChunks(swRoot, null, durationMs);
      const swEnd = performance.now();
      const limit = ctx.size(180_000, 60_000);
      let swMs: number | null = null;
      let swErr: string | undefined;
      let swStale: StaleFile[] = [];
      try {
        swMs =
          (await until(
            () => matches(swRoot, join(rsyncd.modulePath('sw'), 'churn')),
            limit,
            'syncward target to match',
            50,
          )) - swEnd;
      } catch (e) {
        ({ error: swErr, stale: swStale } = await leftover(
          e,
          swRoot,
          join(rsyncd.modulePath('sw'), 'churn'),
        ));
      }
      let lsMs: number | null = null;
      let lsErr: string | undefined;
      let lsStale: StaleFile[] = [];
      if (ls) {
        ctx.log(`churn: lsyncd, the same ${chunks} chunks`);
        const lsRoot = join(dirs.ls, 'churn');
        await runChunks(lsRoot, chunks, 0);
        const lsEnd = performance.now();
        try {
          lsMs =
            (await until(
              () => matches(lsRoot, join(rsyncd.modulePath('ls'), 'churn')),
              limit,
              'lsyncd target to match',
              50,
            )) - lsEnd;
        } catch (e) {
          ({ error: lsErr, stale: lsStale } = await leftover(
            e,
            lsRoot,
            join(rsyncd.modulePath('ls'), 'churn'),
          ));
        }
      }
      const floor = await runRsync([
        ...floorArgs(rsyncd, ['-H', '--delete']),
        `${swRoot}/`,
        `${rsyncd.url('floor')}/churn/`,
      ]);
      const ops = chunks * CHUNK;
      return {
        name: 'churn',
        title: this.title,
        params: { seed: SEED, chunk: CHUNK, durationMs },
        data: {
          chunks,
          ops,
          floorMs: floor.ms,
          syncwardMs: swMs,
          lsyncdMs: lsMs,
          syncwardError: swErr,
          lsyncdError: lsErr,
          syncwardStale: swStale,
          lsyncdStale: lsStale,
        },
        tables: [
          {
            title: `${ops.toLocaleString('en')} operations (seed ${SEED}) in ${(durationMs / 1000).toFixed(0)} s; seconds from the last operation until the target matches.`,
            columns: ['', 'seconds', 'syncward / this'],
            rows: [
              [
                'bare rsync -a -H --delete of the final tree (empty target)',
                fmtS(floor.ms),
                fmtX(ratio(swMs, floor.ms)),
              ],
              ['syncward', swMs == null ? `failed: ${swErr}` : fmtS(swMs), ''],
              [
                'lsyncd',
                !ls ? NOT_INSTALLED : lsMs == null ? `failed: ${lsErr}` : fmtS(lsMs),
                ls ? fmtX(ratio(swMs, lsMs)) : NOT_INSTALLED,
              ],
            ],
          },
        ],
        goals: [],
        notes: [
          ...[neverMatchedNote('syncward', swStale), neverMatchedNote('lsyncd', lsStale)].filter(
            (n): n is string => n != null,
          ),
          '"Matches" is a full byte-for-byte comparison of both trees, repeated every 50 ms; its own duration adds to the time.',
        ],
      };
    } finally {
      await arena.dispose();
    }
  },
};
