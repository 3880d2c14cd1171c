/**
 * Latency: one small file written and closed, time until it is on the target.
 * Trials rotate between the floor (one bare rsync call of the file, timed the
 * same way: until the file is on the target), syncward (default config) and
 * lsyncd (default.rsync, delay 0), so all three see the same machine load.
 * The daemon is stock (no socket options = TCP_NODELAY), as targets are
 * deployed (issue 12): what a client passes, e.g. --timeout, costs there.
 */

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sideBySide } from '../lib/arena.js';
import { type Context, NOT_INSTALLED, type Scenario } from '../lib/context.js';
import { arrival } from '../lib/files.js';
import { floorArgs, warmUp } from '../lib/procs.js';
import { fmtMs, fmtX, ratio, summarize } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/types.js';

export const latency: Scenario = {
  name: 'latency',
  title: 'Latency: one small file, write to on-target',
  async run(ctx: Context): Promise<ScenarioResult> {
    const trials = ctx.size(100, 40);
    const arena = await sideBySide(ctx, 'latency', { stock: true });
    const { rsyncd, dirs, ls } = arena;
    try {
      await warmUp(dirs.sw, rsyncd.modulePath('sw'), 'syncward');
      if (ls) await warmUp(dirs.ls, rsyncd.modulePath('ls'), 'lsyncd');
      const samples = { floor: [] as number[], syncward: [] as number[], lsyncd: [] as number[] };
      const one = async (dir: string, mod: string, name: string, send: () => void): Promise<number> => {
        const arrived = arrival(rsyncd.modulePath(mod), name);
        const t0 = performance.now();
        send();
        const ms = (await arrived) - t0;
        await sleep(20);
        return ms;
      };
      for (let i = 0; i < trials; i++) {
        const name = `f${i}`;
        // the order rotates so no system always runs right after another one
        const order = [
          ['floor', 'syncward', 'lsyncd'],
          ['syncward', 'lsyncd', 'floor'],
          ['lsyncd', 'floor', 'syncward'],
        ][i % 3] as Array<'floor' | 'syncward' | 'lsyncd'>;
        for (const who of order) {
          if (who === 'floor') {
            writeFileSync(join(dirs.floor, name), `trial ${i}\n`);
            samples.floor.push(
              await one(dirs.floor, 'floor', name, () => {
                spawn('rsync', [...floorArgs(rsyncd), join(dirs.floor, name), `${rsyncd.url('floor')}/`], {
                  stdio: 'ignore',
                });
              }),
            );
          } else if (who === 'syncward') {
            samples.syncward.push(
              await one(dirs.sw, 'sw', name, () => writeFileSync(join(dirs.sw, name), `trial ${i}\n`)),
            );
          } else if (ls) {
            samples.lsyncd.push(
              await one(dirs.ls, 'ls', name, () => writeFileSync(join(dirs.ls, name), `trial ${i}\n`)),
            );
          }
        }
      }
      const f = summarize(samples.floor);
      const s = summarize(samples.syncward);
      const l = samples.lsyncd.length ? summarize(samples.lsyncd) : null;
      const row = (label: string, x: typeof f | null) =>
        x
          ? [label, fmtMs(x.p50), fmtMs(x.p90), fmtMs(x.p99), fmtMs(x.max)]
          : [label, NOT_INSTALLED, '', '', ''];
      const r50 = ratio(s.p50, f.p50);
      const r99 = ratio(s.p99, f.p99);
      return {
        name: 'latency',
        title: this.title,
        params: { trials },
        data: { samples, floor: f, syncward: s, lsyncd: l },
        tables: [
          {
            title: `${trials} trials each, rotating order; ms from the write to the file on the target.`,
            columns: ['', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
            rows: [
              row('bare rsync call (floor)', f),
              row('syncward, default config', s),
              row('lsyncd (default.rsync, delay 0)', l),
              ['syncward / floor', fmtX(r50), fmtX(ratio(s.p90, f.p90)), fmtX(r99), ''],
              l
                ? [
                    'syncward / lsyncd',
                    fmtX(ratio(s.p50, l.p50)),
                    fmtX(ratio(s.p90, l.p90)),
                    fmtX(ratio(s.p99, l.p99)),
                    '',
                  ]
                : ['syncward / lsyncd', NOT_INSTALLED, '', '', ''],
            ],
          },
        ],
        goals: [
          {
            goal: 'latency p50 within 1.15x the bare rsync call',
            status: r50 != null && r50 <= 1.15 ? 'met' : 'missed',
            detail: `${fmtX(r50)}: ${fmtMs(s.p50)} vs ${fmtMs(f.p50)} ms`,
          },
          {
            goal: 'latency p99 within 2x the bare rsync call',
            status: r99 != null && r99 <= 2 ? 'met' : 'missed',
            detail: `${fmtX(r99)}: ${fmtMs(s.p99)} vs ${fmtMs(f.p99)} ms`,
          },
        ],
        notes: [
          "The floor is spawned by the benchmark's Node process; lsyncd runs with archive = true and --sockopts=TCP_NODELAY, like syncward.",
          'The rsync daemon is stock: no socket options = TCP_NODELAY in its rsyncd.conf.',
        ],
      };
    } finally {
      await arena.dispose();
    }
  },
};
