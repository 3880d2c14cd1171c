/**
 * Large file: one file of random-looking data (not sparse); time from its
 * close until it is on the target (rsync renames its temp file into place,
 * so the name appearing means the whole file is there). Floor: one bare
 * `rsync -a` of an identical file to an empty module.
 */
import { statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { sideBySide } from '../lib/arena.js';
import { type Context, NOT_INSTALLED, type Scenario } from '../lib/context.js';
import { arrival, writeLargeFile } from '../lib/files.js';
import { floorArgs, runRsync, until, warmUp } from '../lib/procs.js';
import { fmtS, fmtX, ratio } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/types.js';

/**
 * Writes the file and resolves with the time from its close until the whole
 * file is on the target: an early send of a partial file (syncward's
 * max_wait_ms, lsyncd's Create event) puts the name there with a shorter size.
 */
async function delivered(path: string, targetDir: string, bytes: number, timeoutMs: number): Promise<number> {
  const name = basename(path);
  const arrived = arrival(targetDir, name, timeoutMs);
  const end = writeLargeFile(path, bytes);
  const at = await arrived;
  const size = () => {
    try {
      return statSync(join(targetDir, name)).size;
    } catch {
      return -1;
    }
  };
  if (at >= end && size() === bytes) return at - end;
  return (await until(() => size() === bytes, timeoutMs, `the whole ${name} on the target`, 10)) - end;
}

export const large: Scenario = {
  name: 'large',
  title: 'Large file: one big file, close to on-target',
  async run(ctx: Context): Promise<ScenarioResult> {
    const bytes = ctx.size(1 << 30, 100 << 20);
    const arena = await sideBySide(ctx, 'large');
    const { rsyncd, dirs, ls } = arena;
    const timeout = Math.max(120_000, (bytes / (1 << 20)) * 1000);
    try {
      await warmUp(dirs.sw, rsyncd.modulePath('sw'), 'syncward');
      if (ls) await warmUp(dirs.ls, rsyncd.modulePath('ls'), 'lsyncd');
      ctx.log(`large file: ${bytes >> 20} MiB, floor`);
      const writeStart = performance.now();
      writeLargeFile(join(dirs.floor, 'big'), bytes);
      const writeMs = performance.now() - writeStart;
      const floor = await runRsync([
        ...floorArgs(rsyncd),
        join(dirs.floor, 'big'),
        `${rsyncd.url('floor')}/`,
      ]);
      if (floor.code !== 0) throw new Error(`bare rsync failed (${floor.code}): ${floor.stderr}`);
      ctx.log('large file: syncward');
      const swMs = await delivered(join(dirs.sw, 'big'), rsyncd.modulePath('sw'), bytes, timeout);
      let lsMs: number | null = null;
      if (ls) {
        ctx.log('large file: lsyncd');
        lsMs = await delivered(join(dirs.ls, 'big'), rsyncd.modulePath('ls'), bytes, timeout);
      }
      const mib = bytes / (1 << 20);
      const x = ratio(swMs, floor.ms);
      return {
        name: 'large',
        title: this.title,
        params: { bytes },
        data: { writeMs, floorMs: floor.ms, syncwardMs: swMs, lsyncdMs: lsMs },
        tables: [
          {
            title: `One ${mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`} file (writing it took ${fmtS(writeMs)} s); seconds from its close until it is on the target.`,
            columns: ['', 'seconds', 'MiB/s', 'syncward / this'],
            rows: [
              ['bare rsync -a (floor)', fmtS(floor.ms), (mib / (floor.ms / 1000)).toFixed(0), fmtX(x)],
              ['syncward', fmtS(swMs), (mib / (swMs / 1000)).toFixed(0), ''],
              ls && lsMs != null
                ? ['lsyncd', fmtS(lsMs), (mib / (lsMs / 1000)).toFixed(0), fmtX(ratio(swMs, lsMs))]
                : ['lsyncd', NOT_INSTALLED, '', ''],
            ],
          },
        ],
        goals: [],
        notes: [
          'syncward (max_wait_ms) and lsyncd (on the Create event) may send a partial file while it is still being written; the time counts from the close until the target holds the whole file.',
        ],
      };
    } finally {
      await arena.dispose();
    }
  },
};
