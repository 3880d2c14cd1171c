/**
 * Coalescer micro-benchmark: 1M watcher events over 100k distinct paths of
 * realistic depth (2–8 components, ~10 files per directory), in two shapes:
 *
 * - burst:  everything pending at once (delayMs 1 s, nothing taken until the
 *           end) — the cost of add() with 100k entries in the trie, and the
 *           heap that 100k pending paths hold;
 * - steady: the dispatcher's loop (delayMs 0, a take() every 1,000 events),
 *           so entries come and go and the trie is pruned as it runs.
 *
 *   node dist/bench/coalescer.js [--events 1000000] [--paths 100000] [--seed 1]
 *
 * Paths and events are generated before timing starts.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as turn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Change } from '../src/change/index.js';
import { Coalescer, changesOf } from '../src/coalesce/index.js';
import type { FsEvent } from '../src/watch/types.js';
import { rng as prng } from '../test/helpers/rng.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const EVENTS = arg('events', 1_000_000);
const PATHS = arg('paths', 100_000);
const SEED = arg('seed', 1);

// a real gc() for honest heap numbers, without asking for --expose-gc
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// time spent in garbage collection; gc entries arrive a turn of the event loop later
const gcLog = new PerformanceObserver(() => {});
gcLog.observe({ entryTypes: ['gc'] });
async function gcMsSinceLastCall(): Promise<number> {
  await turn();
  return gcLog.takeRecords().reduce((ms, e) => ms + e.duration, 0);
}

const rnd = prng(SEED);
const int = (n: number) => Math.floor(rnd() * n);

/**
 * A tree like /var/www: 8 top dirs, then directories grown by adding a child
 * to a random existing one (so some are bushy, most are small), ~10 files per
 * directory on average, files at depth 2–8.
 */
function makePaths(n: number): { files: string[]; dirs: string[] } {
  const dirs = ['assets', 'uploads', 'cache', 'vendor', 'app', 'public', 'var', 'static'];
  const depthOf = (p: string) => p.split('/').length;
  while (dirs.length < n / 10) {
    const parent = dirs[int(dirs.length)] as string;
    if (depthOf(parent) < 7) dirs.push(`${parent}/d${dirs.length}`);
  }
  const files = new Set<string>();
  while (files.size < n) {
    const dir = dirs[int(dirs.length)] as string;
    files.add(`${dir}/file-${int(40)}.${['php', 'js', 'css', 'jpg', 'html'][int(5)]}`);
  }
  return { files: [...files], dirs };
}

/**
 * The mix an editor, a deploy and an upload area produce: mostly writes and
 * closes, some chmods, deletes and renames, a few new directories.
 * Hot paths: 80% of events go to 20% of the paths.
 */
function makeEvents(files: string[], dirs: string[], n: number): FsEvent[] {
  const hot = files.slice(0, Math.max(1, files.length / 5));
  const pick = () => (rnd() < 0.8 ? (hot[int(hot.length)] as string) : (files[int(files.length)] as string));
  const out: FsEvent[] = [];
  // every path at least once, so all of them are distinct entries
  for (const f of files) out.push({ kind: 'upsert', path: f, isDir: false });
  while (out.length < n) {
    const r = rnd();
    if (r < 0.45) out.push({ kind: 'write', path: pick(), isDir: false });
    else if (r < 0.8) out.push({ kind: 'upsert', path: pick(), isDir: false });
    else if (r < 0.88) out.push({ kind: 'delete', path: pick(), isDir: false });
    else if (r < 0.95)
      out.push({ kind: 'move', from: pick(), path: pick(), isDir: false, cookie: out.length });
    else if (r < 0.999) out.push({ kind: 'upsert', path: dirs[int(dirs.length)] as string, isDir: true });
    else out.push({ kind: 'upsertTree', path: `${dirs[int(dirs.length)]}/new${int(1000)}`, isDir: true });
  }
  // shuffle the first pass in, so it is not one long sequential run
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [out[i], out[j]] = [out[j] as FsEvent, out[i] as FsEvent];
  }
  return out;
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Each event's changes, made before the clock starts: the source makes them once, before any coalescer. */
const changesPerEvent = (events: readonly FsEvent[]): Change[][] => events.map((ev) => changesOf([ev]));

async function burst(events: FsEvent[]): Promise<void> {
  const c = new Coalescer({ delayMs: 1_000, maxWaitMs: 60_000 });
  const perEvent = changesPerEvent(events);
  const base = heap();
  await gcMsSinceLastCall();
  const t0 = process.hrtime.bigint();
  // ~1 ms per 1,024 events
  for (let i = 0; i < perEvent.length; i++) for (const ch of perEvent[i] as Change[]) c.add(ch, i >> 10);
  const t1 = process.hrtime.bigint();
  const gcMs = await gcMsSinceLastCall();
  const pending = c.size;
  const held = heap() - base;
  const t2 = process.hrtime.bigint();
  const taken = c.take(1e9).length;
  const t3 = process.hrtime.bigint();
  const addNs = Number(t1 - t0);
  console.log('burst (nothing taken until the end, delayMs 1000):');
  console.log(`  add:  ${fmt(events.length, addNs)}, of which GC ${gcMs.toFixed(0)} ms`);
  console.log(
    `  pending after ${events.length.toLocaleString()} events: ${pending.toLocaleString()} entries, heap held ${mb(held)} (${Math.round(held / pending)} B/entry)`,
  );
  console.log(
    `  take of all ${taken.toLocaleString()}: ${(Number(t3 - t2) / 1e6).toFixed(1)} ms; left pending: ${c.size}`,
  );
}

async function steady(events: FsEvent[]): Promise<void> {
  const c = new Coalescer({ delayMs: 0, maxWaitMs: 10_000 });
  const perEvent = changesPerEvent(events);
  let batches = 0;
  let changes = 0;
  let maxPending = 0;
  await gcMsSinceLastCall();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < events.length; i++) {
    const now = i >> 10;
    for (const ch of perEvent[i] as Change[]) c.add(ch, now);
    if ((i & 1023) === 1023) {
      if (c.size > maxPending) maxPending = c.size;
      if (c.hasReady(now)) {
        changes += c.take(now).length;
        batches++;
      }
    }
  }
  changes += c.take(1e9).length;
  const ns = Number(process.hrtime.bigint() - t0);
  const gcMs = await gcMsSinceLastCall();
  console.log('steady (delayMs 0, a take every 1,024 events):');
  console.log(`  add + take: ${fmt(events.length, ns)}, of which GC ${gcMs.toFixed(0)} ms`);
  console.log(
    `  ${batches.toLocaleString()} batches, ${changes.toLocaleString()} changes sent (${(events.length / changes).toFixed(1)} events per change), at most ${maxPending.toLocaleString()} pending; heap after: ${mb(heap())}`,
  );
}

function fmt(n: number, ns: number): string {
  return `${Math.round(n / (ns / 1e9)).toLocaleString()} events/s, ${(ns / 1e3 / n).toFixed(3)} µs/event (${(ns / 1e6).toFixed(0)} ms for ${n.toLocaleString()})`;
}

const { files, dirs } = makePaths(PATHS);
const events = makeEvents(files, dirs, EVENTS);
const depths = files.map((f) => f.split('/').length);
console.log(
  `coalescer bench: ${events.length.toLocaleString()} events, ${files.length.toLocaleString()} distinct files in ${dirs.length.toLocaleString()} dirs, depth ${depths.reduce((a, b) => Math.min(a, b))}–${depths.reduce((a, b) => Math.max(a, b))} (mean ${(depths.reduce((a, b) => a + b, 0) / depths.length).toFixed(1)}), node ${process.version}, seed ${SEED}`,
);
// one warm-up round so the JIT has seen the code, then the measured rounds
await burst(events.slice(0, 100_000));
console.log('--- measured ---');
await burst(events);
await steady(events);
console.log(`heap used at exit: ${mb(heap())}`);
