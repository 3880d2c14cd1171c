/**
 * The benchmark suite (issue 6): syncward beside the rsync floor and lsyncd,
 * on one loopback rsync daemon with auth.
 *
 *   npm run bench -- [scenario...] [--scale quick|full] [--out bench/results]
 *                    [--sizes 10000,100000] [--rtt MS] [--cpu-prof] [--note "text"]
 *
 * Scenarios: latency burst churn startup overflow fanout large move audit
 * flags idle tools (default: all). Writes <out>/latest.json, latest.md and latest.svg.
 * Installs lsyncd and inotify-tools with apt-get when missing and running as
 * root; without them their columns say "not installed". --rtt MS puts a
 * proxy adding that round trip (MS/2 each way) between the latency
 * scenario's contenders and their targets (bench/lib/tcp-proxy.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { Context, Scenario } from './lib/context.js';
import { versionOf, which } from './lib/procs.js';
import { profileTables } from './lib/profile.js';
import { markdownReport, svgChart } from './lib/render.js';
import type { ChartInput, Scale, ScenarioResult } from './lib/types.js';
import { audit } from './scenarios/audit.js';
import { type BurstRun, burst } from './scenarios/burst.js';
import { churn } from './scenarios/churn.js';
import { fanout } from './scenarios/fanout.js';
import { flags } from './scenarios/flags.js';
import { idle } from './scenarios/idle.js';
import { large } from './scenarios/large.js';
import { latency } from './scenarios/latency.js';
import { move } from './scenarios/move.js';
import { overflow } from './scenarios/overflow.js';
import { startup } from './scenarios/startup.js';
import { tools } from './scenarios/tools.js';

export const SCENARIOS: Scenario[] = [
  latency,
  flags,
  burst,
  churn,
  startup,
  overflow,
  fanout,
  large,
  move,
  audit,
  idle,
  tools,
];

interface Options {
  names: string[];
  scale: Scale;
  out: string;
  sizes?: number[];
  rttMs?: number;
  cpuProf: boolean;
  notes: string[];
}

function usage(problem: string): never {
  process.stderr.write(
    `${problem}\nusage: npm run bench -- [${SCENARIOS.map((s) => s.name).join('|')} ...] [--scale quick|full] [--out DIR] [--sizes N,N] [--rtt MS] [--cpu-prof] [--note TEXT]\n`,
  );
  process.exit(2);
}

export function parseArgs(argv: string[]): Options {
  const o: Options = { names: [], scale: 'full', out: 'bench/results', cpuProf: false, notes: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--scale') {
      const v = value();
      if (v !== 'quick' && v !== 'full') usage(`--scale is quick or full, not ${JSON.stringify(v)}`);
      o.scale = v;
    } else if (a === '--out') o.out = value();
    else if (a === '--sizes') {
      o.sizes = value().split(',').map(Number);
      if (o.sizes.some((n) => !(n > 0)))
        usage('--sizes takes positive numbers separated by commas, e.g. 10000,100000');
    } else if (a === '--rtt') {
      const v = value();
      o.rttMs = Number(v);
      if (!(o.rttMs >= 0) || v.trim() === '')
        usage(`--rtt takes a round trip in ms (0 or more), e.g. 50, not ${JSON.stringify(v)}`);
    } else if (a === '--cpu-prof') o.cpuProf = true;
    else if (a === '--note') o.notes.push(value());
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (!SCENARIOS.some((s) => s.name === a)) usage(`unknown scenario ${JSON.stringify(a)}`);
    else o.names.push(a);
  }
  if (o.rttMs != null && o.names.length > 0 && !o.names.includes('latency'))
    usage('--rtt shapes the latency scenario only: name latency among the scenarios');
  return o;
}

/** apt-get install of what is missing, when root; returns what is usable afterwards. */
function ensureTools(log: (m: string) => void): { lsyncd: boolean; inotifywait: boolean; notes: string[] } {
  const notes: string[] = [];
  const missing = [
    ...(which('lsyncd') ? [] : ['lsyncd']),
    ...(which('inotifywait') ? [] : ['inotify-tools']),
  ];
  if (missing.length > 0) {
    if (process.getuid?.() === 0 && which('apt-get')) {
      log(`installing ${missing.join(' ')} with apt-get`);
      const r = spawnSync('apt-get', ['install', '-y', ...missing], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      notes.push(
        r.status === 0
          ? `The bench installed ${missing.join(' and ')} with apt-get.`
          : `apt-get install ${missing.join(' ')} failed (exit ${r.status}); those columns say "not installed".`,
      );
    } else {
      notes.push(
        `${missing.join(' and ')} not installed and not running as root: those columns say "not installed" (apt-get install ${missing.join(' ')}).`,
      );
    }
  }
  return { lsyncd: which('lsyncd'), inotifywait: which('inotifywait'), notes };
}

function machine(): Record<string, unknown> {
  const sysctl = (k: string) => {
    try {
      return Number(readFileSync(`/proc/sys/fs/inotify/${k}`, 'utf8'));
    } catch {
      return null;
    }
  };
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    rsync: spawnSync('rsync', ['--version'], { encoding: 'utf8' })
      .stdout.split('\n')[0]
      ?.replace(/\s+/g, ' ')
      .trim(),
    node: process.version,
    lsyncd: `lsyncd ${versionOf('lsyncd', ['--version'], /Version: (\S+)/) ?? 'not installed'}`,
    maxQueuedEvents: sysctl('max_queued_events'),
    maxUserWatches: sysctl('max_user_watches'),
    loadBefore: loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
  };
}

/** The command as the report shows it: --note texts left out (they are printed as notes). */
export function commandLine(args: string[]): string {
  const shown = args.filter((a, i) => a !== '--note' && args[i - 1] !== '--note');
  return `npm run bench${shown.length ? ` -- ${shown.join(' ')}` : ''}`;
}

/** The chart's data from whichever of latency and burst ran. */
export function chartInput(results: ScenarioResult[]): ChartInput {
  const c: ChartInput = {};
  const lat = results.find((r) => r.name === 'latency' && !r.error);
  if (lat) {
    const s = lat.data.samples as Record<string, number[]>;
    c.latency = {
      series: [
        { name: 'floor (bare rsync)', samples: s.floor ?? [] },
        { name: 'syncward', samples: s.syncward ?? [] },
        { name: 'lsyncd', samples: s.lsyncd ?? [] },
      ],
    };
  }
  const b = results.find((r) => r.name === 'burst' && !r.error);
  if (b) {
    const runs = b.data.runs as BurstRun[];
    c.burst = {
      groups: runs.map((r) => ({
        label: `${r.files >= 1000 ? `${r.files / 1000}k` : r.files} files`,
        bars: [
          { name: 'floor', ms: r.floor.fromFirstMs },
          { name: 'syncward', ms: r.syncward.fromFirstMs },
          { name: 'lsyncd', ms: r.lsyncd?.fromFirstMs ?? null },
        ],
      })),
    };
  }
  return c;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const tools = ensureTools(log);
  const facts = machine();
  const profDir = join(out, 'prof');
  if (o.cpuProf) {
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir);
  }
  const ctx: Context = {
    scale: o.scale,
    lsyncd: tools.lsyncd,
    inotifywait: tools.inotifywait,
    cpuProfDir: o.cpuProf ? profDir : undefined,
    sizes: o.sizes,
    rttMs: o.rttMs,
    log,
    size: (full, quick) => (o.scale === 'full' ? full : quick),
  };
  const chosen = o.names.length ? SCENARIOS.filter((s) => o.names.includes(s.name)) : SCENARIOS;
  const results: ScenarioResult[] = [];
  const date = new Date().toISOString();
  for (const s of chosen) {
    log(`${s.name}: start (load ${loadavg()[0]?.toFixed(2)})`);
    const t0 = performance.now();
    try {
      results.push(await s.run(ctx));
    } catch (e) {
      log(`${s.name}: failed: ${(e as Error).stack}`);
      results.push({
        name: s.name,
        title: s.title,
        params: {},
        data: {},
        tables: [],
        goals: [],
        notes: [],
        error: (e as Error).message,
      });
    }
    log(`${s.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  facts.loadAfter = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  if (o.cpuProf) {
    const tables = profileTables(profDir);
    results.push({
      name: 'profile',
      title: 'CPU profile of syncward (node --cpu-prof)',
      params: {},
      data: {},
      tables,
      goals: [],
      notes: [`Profiles in ${relative(process.cwd(), profDir)}/, one per syncward process.`],
    });
  }
  const command = commandLine(process.argv.slice(2));
  const notes = [...o.notes, ...tools.notes];
  writeFileSync(
    join(out, 'latest.json'),
    `${JSON.stringify({ date, command, scale: o.scale, machine: facts, notes, results }, null, 2)}\n`,
  );
  writeFileSync(
    join(out, 'latest.md'),
    markdownReport({ date, command, scale: o.scale, machine: facts, notes }, results),
  );
  writeFileSync(
    join(out, 'latest.svg'),
    svgChart(chartInput(results), `syncward benchmarks, ${date.slice(0, 10)}, scale ${o.scale}`),
  );
  log(`wrote ${relative(process.cwd(), out)}/latest.{json,md,svg}`);
  process.stdout.write(readFileSync(join(out, 'latest.md'), 'utf8'));
}

if (process.argv[1] && resolve(process.argv[1]) === new URL(import.meta.url).pathname) await main();
