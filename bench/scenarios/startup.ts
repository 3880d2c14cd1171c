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
import {
  inotifywaitStartup,
  rssMb,
  type SyncwardTarget,
  startLsyncd,
  startRsyncDaemon,
  startSyncward,
} from '../lib/procs.js';
import { fmtMb, fmtS, fmtX, ratio } from '../lib/stats.js';
import type { Goal, ScenarioResult } from '../lib/types.js';
import { type WatchReport, watchTrouble, withoutTroubleGoal } from '../lib/verdicts.js';

interface Point {
  ms: number | null;
  /** syncward: the walk that adds the watches, as the daemon logs it */
  walkMs?: number;
  rssMb: number | null;
  error?: string;
}

/** syncward's point, with what it said it watches and the alerts it raised */
interface SyncwardPoint extends Point {
  watch: WatchReport;
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
    const data: Array<{
      dirs: number;
      syncward: SyncwardPoint;
      lsyncd: Point | null;
      inotifywait: Point | null;
    }> = [];
    try {
      for (const n of sizes) {
        const tmp = scratch('startup');
        try {
          ctx.log(`startup ${n} dirs: making the tree`);
          const root = join(tmp.dir, 'tree');
          const dirsInTree = makeDirTree(root, n);
          mkdirSync(join(tmp.dir, 'state'));
          ctx.log(`startup ${n} dirs: syncward`);
          const swp = await measureSyncward(root, join(tmp.dir, 'state'), dirsInTree, {
            name: 'ls',
            url: rsyncd.url('ls'),
            passwordFile: rsyncd.passwordFile,
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
            swp.watch.watched == null
              ? ''
              : `${swp.watch.watched.toLocaleString('en')} of ${dirsInTree.toLocaleString('en')}${swp.watch.limitAlerts > 0 ? ', watch limit hit' : ''}`,
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
      // a time or an RSS of a walk the watch limit cut short measures less than the tree
      const trouble = watchTrouble(mid.syncward.watch);
      const x = ratio(mid.syncward.ms, mid.lsyncd?.ms);
      goals.push({
        goal: `startup on ${mid.dirs.toLocaleString('en')} directories no slower than lsyncd${mid.dirs !== 100_000 ? ' (100k in the full run)' : ''}`,
        status: trouble != null ? 'missed' : x == null ? 'not measured' : x <= 1 ? 'met' : 'missed',
        detail: `${fmtX(x)}: ${fmtS(mid.syncward.ms)} vs ${fmtS(mid.lsyncd?.ms)} s${trouble ? `; ${trouble}` : ''}`,
      });
      goals.push({
        goal: `startup on ${mid.dirs.toLocaleString('en')} directories under 80 MB RSS`,
        status:
          trouble != null
            ? 'missed'
            : mid.syncward.rssMb == null
              ? 'not measured'
              : mid.syncward.rssMb < 80
                ? 'met'
                : 'missed',
        detail: `${fmtMb(mid.syncward.rssMb)} MB${trouble ? `; ${trouble}` : ''}`,
      });
    }
    const big = data.at(-1);
    if (big && sizes.length > 2) {
      goals.push(
        withoutTroubleGoal(
          `${big.dirs.toLocaleString('en')} directories without trouble (every one watched, no alert)${big.dirs !== 300_000 ? ' (300k in the full run)' : ''}`,
          big.syncward.watch,
        ),
      );
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
            'watched dirs',
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
        '"watched dirs" is the count syncward logs ("watching N directories") against the directories in the tree, root included; "watch limit hit" means it raised a watchLimit alert.',
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

/** `syncward start` on the tree until it says it watches it; what it watched and the alerts it raised. */
async function measureSyncward(
  root: string,
  stateDir: string,
  dirsInTree: number,
  target: SyncwardTarget,
): Promise<SyncwardPoint> {
  const sw = startSyncward({ stateDir, source: root, targets: [target], initialSync: false });
  const watch: WatchReport = {
    dirsInTree,
    watched: null,
    limitAlerts: 0,
    otherAlerts: [],
    ms: null,
    rssMb: null,
  };
  try {
    const w = await withTimeout(sw.watching, 600_000, 'syncward to watch the tree');
    // the watch-limit alert is logged before "watching N directories"; this reads both
    const alerts = sw.alerts();
    Object.assign(watch, {
      watched: w.dirs,
      limitAlerts: alerts.filter((a) => a === 'watchLimit').length,
      otherAlerts: alerts.filter((a) => a !== 'watchLimit'),
      ms: w.at - sw.spawnedAt,
      rssMb: rssMb(sw.pid),
    });
    return { ms: watch.ms, walkMs: w.ms, rssMb: watch.rssMb, watch };
  } catch (e) {
    watch.error = (e as Error).message;
    return { ms: null, rssMb: null, error: watch.error, watch };
  } finally {
    await sw.stop();
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
