/**
 * Overflow: N creates (4 KiB files) as fast as a loop can, with the kernel's
 * inotify queue at its current size (Debian's default max_queued_events is
 * 16384): whether every file arrives, when, and whether the queue overflowed
 * (syncward and lsyncd both log it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sideBySide } from '../lib/arena.js';
import { type Context, NOT_INSTALLED, type Scenario } from '../lib/context.js';
import { countFiles, writeBurst } from '../lib/files.js';
import { until, warmUp } from '../lib/procs.js';
import { fmtS } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/types.js';

interface Outcome {
  complete: boolean;
  ms: number | null;
  filesThere: number;
  overflows: number;
}

export const overflow: Scenario = {
  name: 'overflow',
  title: 'Overflow: a burst of creates against the default inotify queue',
  async run(ctx: Context): Promise<ScenarioResult> {
    const n = ctx.size(100_000, 20_000);
    const queue = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
    const arena = await sideBySide(ctx, 'overflow');
    const { rsyncd, dirs, sw, ls } = arena;
    const limit = Math.max(180_000, n * 3);
    const outcome = async (src: string, dst: string, overflows: () => number): Promise<Outcome> => {
      const end = writeBurst(join(src, 'o'), n).lastAt;
      const target = join(dst, 'o');
      try {
        const at = await until(() => countFiles(target) >= n, limit, 'every file on the target', 50);
        return { complete: true, ms: at - end, filesThere: n, overflows: overflows() };
      } catch {
        return { complete: false, ms: null, filesThere: countFiles(target), overflows: overflows() };
      }
    };
    try {
      await warmUp(dirs.sw, rsyncd.modulePath('sw'), 'syncward');
      if (ls) await warmUp(dirs.ls, rsyncd.modulePath('ls'), 'lsyncd');
      ctx.log(`overflow: syncward, ${n} creates`);
      const s = await outcome(dirs.sw, rsyncd.modulePath('sw'), sw.overflows);
      let l: Outcome | null = null;
      if (ls) {
        ctx.log(`overflow: lsyncd, ${n} creates`);
        l = await outcome(dirs.ls, rsyncd.modulePath('ls'), ls.overflows);
      }
      const row = (label: string, o: Outcome | null) =>
        o
          ? [
              label,
              o.complete ? 'yes' : `no: ${o.filesThere} of ${n} after ${limit / 1000} s`,
              fmtS(o.ms),
              o.overflows > 0 ? `yes (${o.overflows})` : 'no',
            ]
          : [label, NOT_INSTALLED, '', ''];
      return {
        name: 'overflow',
        title: this.title,
        params: { creates: n, maxQueuedEvents: queue },
        data: { syncward: s, lsyncd: l },
        tables: [
          {
            title: `${n.toLocaleString('en')} creates of 4 KiB files, fs.inotify.max_queued_events = ${queue}.`,
            columns: ['', 'complete', 'seconds after the last create', 'queue overflowed'],
            rows: [row('syncward', s), row('lsyncd', l)],
          },
        ],
        goals: [
          {
            goal: `${n.toLocaleString('en')} creates with the default kernel queue: every file arrives${n !== 100_000 ? ' (100,000 in the full run)' : ''}`,
            status: s.complete ? 'met' : 'missed',
            detail: s.complete
              ? `complete ${fmtS(s.ms)} s after the last create; ${s.overflows > 0 ? `the queue overflowed ${s.overflows}x and the catch-up sync covered it` : 'no overflow: the reader kept up'}`
              : `${s.filesThere} of ${n} files after ${limit / 1000} s`,
          },
        ],
        notes: queue !== 16384 ? [`max_queued_events is ${queue} here, not the default 16384.`] : [],
      };
    } finally {
      await arena.dispose();
    }
  },
};
