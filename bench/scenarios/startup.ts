/**
 * Startup: trees of N directories; time from spawn until the tree is watched,
 * and RSS then. syncward with each watcher backend: `syncward start` until it
 * logs "watching N directories" (inotify) or "... with fanotify"
 * (initial_sync off, so the catch-up sync does not load the machine while
 * RSS is read), then a file written deep in the tree until it is on a local
 * target; lsyncd: until it starts its startup rsync (after adding its
 * watches); `inotifywait -r`: until "Watches established". */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  until,
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
  /** from spawn until a file written deep in the tree once it was watched is on the target */
  arrivedMs?: number;
}

const WATCHES = '/proc/sys/fs/inotify/max_user_watches';
/** issue 15's goals: RSS with inotify at 100k directories; fanotify's start until a deep write arrives, and RSS, at 1M */
const INOTIFY_RSS_MB = 70;
const FANOTIFY_ARRIVAL_MS = 10_000;
const FANOTIFY_RSS_MB = 150;
/** lsyncd and inotifywait -r are run up to this size */
const OTHERS_UP_TO = 300_000;

export const startup: Scenario = {
  name: 'startup',
  title: 'Startup: time until a tree of N directories is watched, and RSS then',
  async run(ctx: Context): Promise<ScenarioResult> {
    const sizes = ctx.sizes ?? [
      ctx.size(10_000, 2_000),
      ctx.size(100_000, 10_000),
      ctx.size(300_000, 30_000),
      ctx.size(1_000_000, 100_000),
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
      fanotify: SyncwardPoint;
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
          // a file written deep in the tree once it is watched, until it is on a local target
          const deep = join('top99', `dir${Math.max(0, Math.floor(n / 100) - 2)}`);
          const probeFor = (who: string) => {
            const target = join(tmp.dir, `target-${who}`);
            mkdirSync(join(target, deep), { recursive: true });
            return {
              target: { name: 'local', url: target },
              probe: {
                path: join(root, deep, `probe-${who}`),
                arrivesAt: join(target, deep, `probe-${who}`),
              },
            };
          };
          ctx.log(`startup ${n} dirs: syncward (inotify)`);
          const ino = probeFor('inotify');
          const swp = await measureSyncward(
            root,
            join(tmp.dir, 'state'),
            dirsInTree,
            ino.target,
            'inotify',
            ino.probe,
          );
          ctx.log(`startup ${n} dirs: syncward (fanotify)`);
          const fan = probeFor('fanotify');
          const fwp = await measureSyncward(
            root,
            join(tmp.dir, 'state-fan'),
            dirsInTree,
            fan.target,
            'fanotify',
            fan.probe,
          );
          // lsyncd and inotifywait -r add a watch per directory too; past 300k they take minutes each
          const others = n <= OTHERS_UP_TO;
          if (!others && (ctx.lsyncd || ctx.inotifywait))
            notes.push(
              `${n.toLocaleString('en')} directories: lsyncd and inotifywait -r not run (above ${OTHERS_UP_TO.toLocaleString('en')}, they take minutes; their figures at ${OTHERS_UP_TO.toLocaleString('en')} stand beside).`,
            );
          let lsp: Point | null = null;
          if (ctx.lsyncd && others) {
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
          if (ctx.inotifywait && others) {
            ctx.log(`startup ${n} dirs: inotifywait -r`);
            iwp = await measure(() => inotifywaitStartup(root));
          }
          data.push({ dirs: n, syncward: swp, fanotify: fwp, lsyncd: lsp, inotifywait: iwp });
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
            swp.arrivedMs == null ? '' : fmtS(swp.arrivedMs),
            ...cell(fwp, true),
            fwp.arrivedMs == null ? '' : fmtS(fwp.arrivedMs),
            ...(others ? cell(lsp, ctx.lsyncd) : ['not run', '']),
            ...(others ? cell(iwp, ctx.inotifywait) : ['not run', '']),
            ctx.lsyncd && others ? fmtX(ratio(swp.ms, lsp?.ms)) : others ? NOT_INSTALLED : '',
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
        goal: `startup on ${mid.dirs.toLocaleString('en')} directories with inotify within ${INOTIFY_RSS_MB} MB RSS`,
        status:
          trouble != null
            ? 'missed'
            : mid.syncward.rssMb == null
              ? 'not measured'
              : mid.syncward.rssMb <= INOTIFY_RSS_MB
                ? 'met'
                : 'missed',
        detail: `${fmtMb(mid.syncward.rssMb)} MB${trouble ? `; ${trouble}` : ''}`,
      });
    }
    const million = data.find((d) => d.dirs === 1_000_000) ?? data.at(-1);
    if (million) {
      const f = million.fanotify;
      const ok =
        f.arrivedMs != null &&
        f.arrivedMs <= FANOTIFY_ARRIVAL_MS &&
        f.rssMb != null &&
        f.rssMb <= FANOTIFY_RSS_MB;
      goals.push({
        goal: `fanotify on ${million.dirs.toLocaleString('en')} directories: start until a file written deep in the tree is on a local target within ${FANOTIFY_ARRIVAL_MS / 1000} s, within ${FANOTIFY_RSS_MB} MB RSS${million.dirs !== 1_000_000 ? ' (1M in the full run)' : ''}`,
        status: f.ms == null ? 'not measured' : ok ? 'met' : 'missed',
        detail: `${fmtS(f.arrivedMs ?? null)} s, ${fmtMb(f.rssMb)} MB; inotify ${fmtS(million.syncward.arrivedMs ?? null)} s, ${fmtMb(million.syncward.rssMb)} MB${f.error ? `; ${f.error}` : ''}`,
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
            'syncward inotify s',
            'RSS',
            'watched dirs',
            'of which the walk s',
            'deep write arrives s',
            'syncward fanotify s',
            'RSS',
            'deep write arrives s',
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
  watcher: 'inotify' | 'fanotify' = 'inotify',
  probe?: { path: string; arrivesAt: string },
): Promise<SyncwardPoint> {
  mkdirSync(stateDir, { recursive: true });
  const sw = startSyncward({ stateDir, source: root, targets: [target], initialSync: false, watcher });
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
    let arrivedMs: number | undefined;
    if (probe) {
      // a file written deep in the tree once it is watched, until it is on the target
      writeFileSync(probe.path, 'probe\n');
      const at = await until(() => existsSync(probe.arrivesAt), 120_000, 'the probe file on the target');
      arrivedMs = at - sw.spawnedAt;
    }
    return { ms: watch.ms, walkMs: w.ms, rssMb: watch.rssMb, watch, arrivedMs };
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
