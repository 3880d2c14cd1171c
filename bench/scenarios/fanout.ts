/**
 * Fan-out: one source, 10 targets (10 modules of one rsync daemon), a burst
 * of N files until every target holds all of them, against the same burst to
 * a single target. Each contender runs the same writing loop and is timed
 * from its first write and from its last; the floor is the loop, then one
 * bare rsync (or ten at once) spawned at the last write, until they exit.
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
import type { Goal, ScenarioResult } from '../lib/types.js';
import { type Convergence, convergence, ratioGoal } from '../lib/verdicts.js';

const FAN = 10;
export const FANOUT_LIMIT = 2;

/** syncward to `modules` at once: one burst, until every target holds it. */
async function converge(
  ctx: Context,
  rsyncd: RsyncDaemon,
  modules: string[],
  n: number,
): Promise<Convergence> {
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
    const w = writeBurst(join(src, 'f'), n);
    const at = await until(
      () => modules.every((m) => countFiles(join(rsyncd.modulePath(m), 'f')) >= n),
      Math.max(180_000, n * 20),
      `all ${modules.length} targets to hold ${n} files`,
      50,
    );
    return convergence({ firstWriteAt: w.firstAt, lastWriteAt: w.lastAt, arrivedAt: at });
  } finally {
    await sw.stop();
    tmp.dispose();
  }
}

/** The floor: the writing loop, then one bare rsync per module, all spawned at the last write. */
async function floorCalls(rsyncd: RsyncDaemon, modules: string[], n: number): Promise<Convergence> {
  const tmp = scratch('fanout-floor');
  try {
    const w = writeBurst(tmp.dir, n);
    const calls = await Promise.all(
      modules.map((m) => runRsync([...floorArgs(rsyncd), `${tmp.dir}/`, `${rsyncd.url(m)}/`])),
    );
    const at = performance.now();
    const bad = calls.find((c) => c.code !== 0);
    if (bad) throw new Error(`bare rsync failed (${bad.code}): ${bad.stderr}`);
    return convergence({ firstWriteAt: w.firstAt, lastWriteAt: w.lastAt, arrivedAt: at });
  } finally {
    tmp.dispose();
  }
}

export interface FanoutRun {
  files: number;
  one: Convergence;
  ten: Convergence;
  floorOne: Convergence;
  floorTen: Convergence;
}

export function fanoutGoal(r: FanoutRun): Goal {
  const x = (a: Convergence, b: Convergence, clock: 'fromFirstMs' | 'fromLastMs') =>
    fmtX(ratio(a[clock], b[clock]));
  return ratioGoal({
    goal: `fan-out to ${FAN} targets within ${FANOUT_LIMIT}x of one target, both timed from the first write`,
    value: r.ten.fromFirstMs,
    base: r.one.fromFirstMs,
    limit: FANOUT_LIMIT,
    unit: 's from the first write',
    also: `from the last write ${x(r.ten, r.one, 'fromLastMs')}; ${FAN} bare rsync calls at once took ${x(r.floorTen, r.floorOne, 'fromFirstMs')} one call (from the first write), and syncward to ${FAN} targets ${x(r.ten, r.floorTen, 'fromFirstMs')} those ${FAN} calls`,
  });
}

export const fanout: Scenario = {
  name: 'fanout',
  title: `Fan-out: one source to ${FAN} targets`,
  async run(ctx: Context): Promise<ScenarioResult> {
    const n = ctx.size(10_000, 2_000);
    const fan = Array.from({ length: FAN }, (_, i) => `t${i}`);
    const floorMods = Array.from({ length: FAN }, (_, i) => `floor${i}`);
    const rsyncd = await startRsyncDaemon({ modules: ['one', 'floor', ...fan, ...floorMods] });
    try {
      ctx.log(`fan-out: 1 target, ${n} files`);
      const one = await converge(ctx, rsyncd, ['one'], n);
      ctx.log(`fan-out: ${FAN} targets, ${n} files`);
      const ten = await converge(ctx, rsyncd, fan, n);
      ctx.log(`fan-out: bare rsync, 1 call and ${FAN} at once`);
      const floorOne = await floorCalls(rsyncd, ['floor'], n);
      const floorTen = await floorCalls(rsyncd, floorMods, n);
      const r: FanoutRun = { files: n, one, ten, floorOne, floorTen };
      const row = (label: string, a: Convergence, b: Convergence) => [
        label,
        fmtS(a.fromFirstMs),
        fmtS(b.fromFirstMs),
        fmtX(ratio(b.fromFirstMs, a.fromFirstMs)),
        fmtS(a.fromLastMs),
        fmtS(b.fromLastMs),
        fmtX(ratio(b.fromLastMs, a.fromLastMs)),
      ];
      return {
        name: 'fanout',
        title: this.title,
        params: { files: n, targets: FAN },
        data: { run: r },
        tables: [
          {
            title: `${n.toLocaleString('en')} files of 4 KiB; seconds until every target holds them, from the first write and from the last.`,
            columns: [
              '',
              '1 target, from first',
              `${FAN} targets, from first`,
              `${FAN} / 1`,
              '1 target, from last',
              `${FAN} targets, from last`,
              `${FAN} / 1`,
            ],
            rows: [
              row('syncward', one, ten),
              row(`bare rsync -a (1 call; ${FAN} calls at once)`, floorOne, floorTen),
            ],
          },
        ],
        goals: [fanoutGoal(r)],
        notes: [
          `All ${FAN} targets are modules of one loopback rsync daemon on this machine, so their receivers share its cores with the senders.`,
          'The bare rsync calls are spawned at the last write of the same writing loop and have arrived when they exit; syncward sends while the loop runs, so by the last-write clock alone it looks faster than they are.',
        ],
      };
    } finally {
      await rsyncd.dispose();
    }
  },
};
