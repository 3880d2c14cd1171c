/**
 * Startup: trees of N directories; time from spawn until the tree is watched,
 * and RSS then. syncward: `syncward start` until it logs "watching N
 * directories" (initial_sync off, so the catch-up sync does not load the
 * machine while RSS is read); lsyncd: until it starts its startup rsync
 * (after adding its watches); `inotifywait -r`: until "Watches established".
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Context, NOT_INSTALLED, type Scenario, scratch } from '../lib/context.js';
import { makeDirTree } from '../lib/files.js';
import { inotifywaitStartup, rssMb, startLsyncd, startRsyncDaemon, startSyncward } from '../lib/procs.js';
import { fmtMb, fmtS, fmtX, ratio } from '../lib/stats.js';
import type { Goal, ScenarioResult } from '../lib/types.js';

interface Point {
  ms: number | null;
  /** syncward: the walk that adds the watches, as the daemon logs it */
  walkMs?: number;
  rssMb: number | null;
  error?: string;
}

const WATCHES = '/proc/sys/fs/inotify/max_user_watches';

export const startup: Scenario = {
  name: 'startup',
  title: 'Startup: time until a tree of N directories is watched, and RSS then',
  async run(ctx: Context): Promise<ScenarioResult> {
    const sizes = ctx.sizes ?? [
      ctx.size(10_000, 2_000),
      ctx.size(100_000, 10_000),
      ctx.size(300_000, 30_000),
    ];
    const notes: string[] = [];
    // each watcher needs one watch per directory, and other users of inotify run meanwhile
    const before = Number(readFileSync(WATCHES, 'utf8'));
    const need = Math.max(...sizes) * 2 + 50_000;
    let raised = false;
    if (before < need) {
      if (
        process.getuid?.() === 0 &&
        spawnSync('sysctl', ['-w', `fs.inotify.max_user_watches=${need}`]).status === 0
      ) {
        raised = true;
        notes.push(
          `fs.inotify.max_user_watches raised with sysctl from ${before} to ${need} for this scenario, then set back.`,
        );
      } else {
        notes.push(
          `fs.inotify.max_user_watches is ${before}, below the ${need} this scenario needs; run as root so the bench can raise it.`,
        );
      }
    }
    const rsyncd = await startRsyncDaemon({ modules: ['ls'] });
    const rows: string[][] = [];
    const data: Array<{ dirs: number; syncward: Point; lsyncd: Point | null; inotifywait: Point | null }> =
      [];
    try {
      for (const n of sizes) {
        const tmp = scratch('startup');
        try {
          ctx.log(`startup ${n} dirs: making the tree`);
          const root = join(tmp.dir, 'tree');
          makeDirTree(root, n);
          mkdirSync(join(tmp.dir, 'state'));
          ctx.log(`startup ${n} dirs: syncward`);
          const swp = await measure(async () => {
            const sw = startSyncward({
              stateDir: join(tmp.dir, 'state'),
              source: root,
              targets: [{ name: 'ls', url: rsyncd.url('ls'), passwordFile: rsyncd.passwordFile }],
              initialSync: false,
            });
            try {
              const w = await withTimeout(sw.watching, 600_000, 'syncward to watch the tree');
              return { ms: w.at - sw.spawnedAt, walkMs: w.ms, rssMb: rssMb(sw.pid) };
            } finally {
              await sw.stop();
            }
          });
          let lsp: Point | null = null;
          if (ctx.lsyncd) {
            ctx.log(`startup ${n} dirs: lsyncd`);
            lsp = await measure(async () => {
              const ls = startLsyncd({
                stateDir: tmp.dir,
                source: root,
                targetUrl: rsyncd.url('ls'),
                passwordFile: rsyncd.passwordFile,
              });
              try {
                const at = await withTimeout(ls.watching, 600_000, 'lsyncd to watch the tree');
                return { ms: at - ls.spawnedAt, rssMb: rssMb(ls.pid) };
              } finally {
                await ls.stop();
              }
            });
          }
          let iwp: Point | null = null;
          if (ctx.inotifywait) {
            ctx.log(`startup ${n} dirs: inotifywait -r`);
            iwp = await measure(() => inotifywaitStartup(root));
          }
          data.push({ dirs: n, syncward: swp, lsyncd: lsp, inotifywait: iwp });
          const cell = (p: Point | null, installed: boolean) =>
            !installed
              ? [NOT_INSTALLED, '']
              : p?.ms == null
                ? [`failed: ${p?.error}`, '']
                : [fmtS(p.ms), fmtMb(p.rssMb)];
          rows.push([
            `${n.toLocaleString('en')} dirs`,
            ...cell(swp, true),
            swp.walkMs == null ? '' : fmtS(swp.walkMs),
            ...cell(lsp, ctx.lsyncd),
            ...cell(iwp, ctx.inotifywait),
            ctx.lsyncd ? fmtX(ratio(swp.ms, lsp?.ms)) : NOT_INSTALLED,
          ]);
        } finally {
          tmp.dispose();
        }
      }
    } finally {
      await rsyncd.dispose();
      if (raised) spawnSync('sysctl', ['-w', `fs.inotify.max_user_watches=${before}`]);
    }
    const goals: Goal[] = [];
    const mid = data.find((d) => d.dirs === 100_000) ?? (ctx.scale === 'quick' ? data[1] : undefined);
    if (mid) {
      const x = ratio(mid.syncward.ms, mid.lsyncd?.ms);
      goals.push({
        goal: `startup on ${mid.dirs.toLocaleString('en')} directories no slower than lsyncd${mid.dirs !== 100_000 ? ' (100k in the full run)' : ''}`,
        status: x == null ? 'not measured' : x <= 1 ? 'met' : 'missed',
        detail: `${fmtX(x)}: ${fmtS(mid.syncward.ms)} vs ${fmtS(mid.lsyncd?.ms)} s`,
      });
      goals.push({
        goal: `startup on ${mid.dirs.toLocaleString('en')} directories under 80 MB RSS`,
        status: mid.syncward.rssMb == null ? 'not measured' : mid.syncward.rssMb < 80 ? 'met' : 'missed',
        detail: `${fmtMb(mid.syncward.rssMb)} MB`,
      });
    }
    const big = data.at(-1);
    if (big && sizes.length > 2) {
      goals.push({
        goal: `${big.dirs.toLocaleString('en')} directories without trouble${big.dirs !== 300_000 ? ' (300k in the full run)' : ''}`,
        status: big.syncward.ms != null ? 'met' : 'missed',
        detail:
          big.syncward.ms != null
            ? `${fmtS(big.syncward.ms)} s, ${fmtMb(big.syncward.rssMb)} MB`
            : `${big.syncward.error}`,
      });
    }
    return {
      name: 'startup',
      title: this.title,
      params: { sizes },
      data: { runs: data, maxUserWatches: before },
      tables: [
        {
          title: 'Seconds from spawn to watching, RSS (MB) at that moment.',
          columns: [
            'tree',
            'syncward s',
            'RSS',
            'of which the walk s',
            'lsyncd s',
            'RSS',
            'inotifywait -r s',
            'RSS',
            'syncward / lsyncd',
          ],
          rows,
        },
      ],
      goals,
      notes: [
        ...notes,
        '"of which the walk" is the watcher\'s own time from the daemon\'s log; the rest is Node starting, loading modules and opening the journal. syncward runs with initial_sync off here; lsyncd is timed until it starts its startup rsync, which it does once its watches are in place.',
      ],
    };
  },
};

async function measure(
  f: () => Promise<{ ms: number; walkMs?: number; rssMb: number | null }>,
): Promise<Point> {
  try {
    return await f();
  } catch (e) {
    return { ms: null, rssMb: null, error: (e as Error).message };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
