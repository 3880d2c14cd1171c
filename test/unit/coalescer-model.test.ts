/**
 * Randomized check of the Coalescer against a model: a simulated source
 * tree changed by random operations (with the events the watcher would
 * report), and a simulated target that receives the taken batches the way
 * rsync would apply them — including batches that fail half-way and are put
 * back with addChange, and rsync reading the source while it changes.
 * Properties: once everything is taken, the target equals the source; no
 * event waits longer than maxWaitMs for a take willing to hand it out; a file
 * still being written is not handed out before maxWaitMs (unless a retry or
 * an older change owed at that path makes it urgent); a batch is sorted and
 * names a path once; hasReady, nextReadyAt and size agree.
 *
 * Each run starts from a new random seed, printed; a failure names its seed.
 *   SEED=123 node --test dist/test/unit/coalescer-model.test.js   (that one sequence)
 *   COUNT=5000 node --test ...                                    (more sequences)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Change } from '../../src/change/index.js';
import { Coalescer, changesOf } from '../../src/coalesce/index.js';
import type { FsEvent } from '../../src/watch/types.js';
import { rng as prng } from '../helpers/rng.js';

interface Entry {
  dir: boolean;
  /** content and metadata version */
  v: number;
}
/** path -> entry; '' is the root directory and always exists */
type Tree = Map<string, Entry>;

const NAMES = ['a', 'b', '\xe9']; // one non-UTF-8 byte, as a byte string
const UNIVERSE: string[] = [];
for (const x of NAMES) {
  UNIVERSE.push(x);
  for (const y of NAMES) {
    UNIVERSE.push(`${x}/${y}`);
    for (const z of NAMES) UNIVERSE.push(`${x}/${y}/${z}`);
  }
}

const parentOf = (p: string) => {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
};
const within = (p: string, d: string) => p === d || d === '' || p.startsWith(`${d}/`);
const depth = (p: string) => (p === '' ? 0 : p.split('/').length);

function removeSubtree(t: Tree, d: string): void {
  for (const k of [...t.keys()]) if (within(k, d) && k !== '') t.delete(k);
}
function copySubtree(from: Tree, to: Tree, d: string): void {
  for (const [k, e] of from) if (within(k, d)) to.set(k, { ...e });
}
function clone(t: Tree): Tree {
  return new Map([...t].map(([k, e]) => [k, { ...e }]));
}
function dump(t: Tree): string[] {
  return [...t].map(([k, e]) => `${JSON.stringify(k)} ${e.dir ? 'dir' : 'file'} v${e.v}`).sort();
}

/**
 * rsync applying one change to the target, reading `src`. Where transports
 * may differ (a delete of a path that exists again, an upsert of a path that
 * vanished), `pick` chooses one of the plausible behaviours: syncward must
 * converge whichever its transport does.
 */
function rsyncApply(target: Tree, src: Tree, c: Change, pick: () => number): void {
  const s = src.get(c.path);
  const ensureParents = () => {
    const chain: string[] = [];
    for (let a = parentOf(c.path); a !== ''; a = parentOf(a)) chain.unshift(a);
    for (const a of chain) {
      if (target.get(a)?.dir === true) continue;
      removeSubtree(target, a); // a file in the way
      target.set(a, { ...(src.get(a) as Entry) }); // implied directory, with its attributes (-R)
    }
  };
  const sendEntry = (e: Entry) => {
    ensureParents();
    if (!e.dir) removeSubtree(target, c.path); // a directory in the way
    target.set(c.path, { ...e });
  };
  const sendTree = () => {
    ensureParents();
    removeSubtree(target, c.path);
    copySubtree(src, target, c.path);
  };
  if (s === undefined) {
    // vanished: rsync skips it (exit 24), or deletes it (--delete-missing-args)
    if (c.op === 'delete' || pick() < 0.5) removeSubtree(target, c.path);
    return;
  }
  if (c.op === 'upsert') sendEntry(s);
  else if (c.op === 'upsertTree') sendTree();
  else {
    // a delete of a path that exists (again) by the time rsync reads it
    const r = pick();
    if (r < 1 / 3) removeSubtree(target, c.path);
    else if (r < 2 / 3) sendEntry(s);
    else sendTree();
  }
}

/** What a naive dispatcher would send: every event as it came. */
function naiveChanges(ev: FsEvent): Change[] {
  switch (ev.kind) {
    case 'move':
      return [
        { path: ev.from as string, op: 'delete' },
        { path: ev.path, op: ev.isDir ? 'upsertTree' : 'upsert' },
      ];
    case 'write':
      return [{ path: ev.path, op: 'upsert' }];
    default:
      return [{ path: ev.path, op: ev.kind }];
  }
}

function runSequence(seed: number, steps: number): void {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const choose = <T>(xs: readonly T[]): T | undefined => (xs.length === 0 ? undefined : xs[int(xs.length)]);
  // Half the time, act on a path touched recently: merges happen per path, so
  // that is where the interesting sequences are.
  const recent: string[] = [];
  const pickPath = (xs: readonly string[]): string | undefined => {
    if (rnd() < 0.5) {
      const hot = xs.filter((x) => recent.includes(x));
      if (hot.length > 0) return choose(hot);
    }
    return choose(xs);
  };
  const delayMs = choose([0, 0, 20, 200]) as number;
  const maxWaitMs = choose([50, 100, 1_000]) as number;
  const c = new Coalescer({ delayMs, maxWaitMs });

  const src: Tree = new Map([['', { dir: true, v: 0 }]]);
  let target = clone(src);
  const initial = clone(src);
  const open = new Set<string>(); // files written without a close yet
  const log: string[] = [`delayMs=${delayMs} maxWaitMs=${maxWaitMs}`];
  const events: FsEvent[] = [];
  let version = 0;
  let now = 0;
  let inFlight: { changes: Change[]; snapshot: Tree } | null = null;
  // events not yet handed out by a take, for the maxWait bound
  let pendingEvents: { t: number; paths: string[] }[] = [];
  // the last event naming each path: 'write' means "being written" to the watcher
  const lastKind = new Map<string, FsEvent['kind']>();
  // paths put back with addChange since their last take (ready at once, even mid-write)
  const retried = new Set<string>();

  const emit = (ev: FsEvent) => {
    events.push(ev);
    recent.push(ev.path);
    if (ev.from !== undefined) recent.push(ev.from);
    if (recent.length > 6) recent.splice(0, recent.length - 6);
    log.push(
      `t=${now} ${ev.kind} ${JSON.stringify(ev.path)}${ev.from !== undefined ? ` from ${JSON.stringify(ev.from)}` : ''}${ev.isDir ? ' dir' : ''}`,
    );
    for (const change of changesOf([ev])) c.add(change, now);
    pendingEvents.push({ t: now, paths: ev.from !== undefined ? [ev.from, ev.path] : [ev.path] });
    lastKind.set(ev.path, ev.kind);
    if (ev.from !== undefined) lastKind.set(ev.from, 'delete');
  };
  const existing = (withRoot: boolean) => [...src.keys()].filter((k) => withRoot || k !== '');
  const files = () => [...src].filter(([k, e]) => !e.dir && k !== '').map(([k]) => k);
  const free = () => UNIVERSE.filter((p) => !src.has(p) && src.get(parentOf(p))?.dir === true);
  /** fills a new directory the way `mkdir -p` + writes before the watch would */
  const fill = (d: string): string[] => {
    const made: string[] = [];
    for (const p of UNIVERSE) {
      if (!within(p, d) || p === d || src.has(p) || src.get(parentOf(p))?.dir !== true || rnd() < 0.5)
        continue;
      src.set(p, { dir: depth(p) < 3 && rnd() < 0.5, v: ++version });
      made.push(p);
    }
    return made;
  };
  const takeBatch = (at: number): Change[] => {
    const out = c.take(at);
    const paths = out.map((x) => x.path);
    assert.equal(new Set(paths).size, paths.length, 'a path twice in one batch');
    assert.deepEqual(paths, [...paths].sort(), 'batch not sorted');
    log.push(`t=${at} take ${out.map((x) => `${x.op} ${JSON.stringify(x.path)}`).join(', ')}`);
    assert.equal(c.hasReady(at), false, 'something ready was left behind by take');
    // a file still being written goes out only once maxWait is up (or as a retry)
    for (const ch of out) {
      if (ch.op !== 'upsert' || lastKind.get(ch.path) !== 'write') continue;
      if ([...retried].some((p) => within(p, ch.path))) continue;
      // (what it replaced counts: a directory deleted there long ago is owed since then)
      const oldest = Math.min(
        ...pendingEvents.filter((e) => e.paths.some((p) => within(p, ch.path))).map((e) => e.t),
      );
      assert.ok(
        oldest + maxWaitMs <= at,
        `${JSON.stringify(ch.path)} sent while being written, before maxWait\n${log.join('\n')}`,
      );
    }
    // what this batch covers: the path itself, and what is beneath a tree
    // transfer, a delete, or a file sent where a directory was deleted
    const covered = (p: string) =>
      out.some(
        (ch) =>
          ch.path === p || (within(p, ch.path) && (ch.op !== 'upsert' || src.get(ch.path)?.dir !== true)),
      );
    for (const e of pendingEvents) e.paths = e.paths.filter((p) => !covered(p));
    pendingEvents = pendingEvents.filter((e) => e.paths.length > 0);
    for (const p of [...retried]) if (covered(p)) retried.delete(p);
    return out;
  };
  const finish = (ok: boolean) => {
    if (inFlight === null) return;
    const { changes, snapshot } = inFlight;
    inFlight = null;
    // rsync reads each path at some moment during the transfer: before or after what happened meanwhile
    const applied = ok ? changes : changes.filter(() => rnd() < 0.5);
    for (const ch of applied) rsyncApply(target, rnd() < 0.5 ? snapshot : src, ch, rnd);
    log.push(`t=${now} transfer ${ok ? 'ok' : `failed after ${applied.length}/${changes.length}`}`);
    if (!ok) {
      for (const ch of changes) {
        c.addChange(ch, now);
        retried.add(ch.path);
      }
    }
  };

  for (let step = 0; step < steps; step++) {
    const r = rnd() * 100;
    if (r < 22) {
      // write and close a file (new or existing), maybe with IN_MODIFYs first
      const p = rnd() < 0.6 ? (pickPath(files()) ?? pickPath(free())) : pickPath(free());
      if (p !== undefined && src.get(p)?.dir !== true) {
        src.set(p, { dir: false, v: ++version });
        for (let k = int(3); k > 0; k--) emit({ kind: 'write', path: p, isDir: false });
        emit({ kind: 'upsert', path: p, isDir: false });
        open.delete(p);
      }
    } else if (r < 32) {
      // write without closing (yet)
      const p = rnd() < 0.5 ? (pickPath([...open]) ?? pickPath(free())) : pickPath(free());
      if (p !== undefined && src.get(p)?.dir !== true) {
        src.set(p, { dir: false, v: ++version });
        emit({ kind: 'write', path: p, isDir: false });
        open.add(p);
      }
    } else if (r < 38) {
      const p = pickPath([...open]);
      if (p !== undefined) {
        open.delete(p);
        emit({ kind: 'upsert', path: p, isDir: false });
      }
    } else if (r < 46) {
      // chmod, the root included
      const p = pickPath(existing(true)) as string;
      const e = src.get(p) as Entry;
      src.set(p, { dir: e.dir, v: ++version });
      emit({ kind: 'upsert', path: p, isDir: e.dir });
    } else if (r < 56) {
      // mkdir (-p), with whatever was written inside before the watch existed
      const p = pickPath(free());
      if (p !== undefined) {
        src.set(p, { dir: true, v: ++version });
        const made = fill(p);
        emit({ kind: 'upsertTree', path: p, isDir: true });
        // the watcher catching up on some of it
        for (const q of made) {
          if (rnd() < 0.3) {
            const e = src.get(q) as Entry;
            emit({ kind: e.dir ? 'upsertTree' : 'upsert', path: q, isDir: e.dir });
          }
        }
      }
    } else if (r < 68) {
      // rm -r: some deletes from inside first (deepest first), then the path
      const p = pickPath(existing(false));
      if (p !== undefined) {
        const e = src.get(p) as Entry;
        if (e.dir) {
          const inside = [...src.keys()]
            .filter((k) => within(k, p) && k !== p)
            .sort((x, y) => depth(y) - depth(x));
          for (const q of inside)
            if (rnd() < 0.5) emit({ kind: 'delete', path: q, isDir: (src.get(q) as Entry).dir });
        }
        removeSubtree(src, p);
        for (const q of [...open]) if (within(q, p)) open.delete(q);
        emit({ kind: 'delete', path: p, isDir: e.dir });
      }
    } else if (r < 82) {
      // mv inside the tree, onto a free name or over a file
      const from = pickPath(existing(false));
      if (from !== undefined) {
        const e = src.get(from) as Entry;
        const targets = free().filter((q) => !within(q, from));
        if (!e.dir) targets.push(...files().filter((q) => q !== from));
        const to = pickPath(targets);
        if (to !== undefined) {
          if (src.has(to)) removeSubtree(src, to);
          open.delete(to);
          for (const [k, v] of [...src]) {
            if (!within(k, from)) continue;
            src.delete(k);
            src.set(to + k.slice(from.length), v);
          }
          for (const q of [...open]) {
            if (within(q, from)) {
              open.delete(q);
              open.add(to + q.slice(from.length));
            }
          }
          emit({ kind: 'move', from, path: to, isDir: e.dir, cookie: step });
        }
      }
    } else if (r < 88) {
      // moved out of the tree
      const p = pickPath(existing(false));
      if (p !== undefined) {
        const e = src.get(p) as Entry;
        removeSubtree(src, p);
        for (const q of [...open]) if (within(q, p)) open.delete(q);
        emit({ kind: 'delete', path: p, isDir: e.dir });
      }
    } else if (r < 94) {
      // moved into the tree from outside
      const p = pickPath(free());
      if (p !== undefined) {
        const dir = depth(p) < 3 && rnd() < 0.5;
        src.set(p, { dir, v: ++version });
        if (dir) fill(p);
        emit({ kind: dir ? 'upsertTree' : 'upsert', path: p, isDir: dir });
      }
    } else if (r < 95 && inFlight === null) {
      // a full sync covers everything pending
      c.clear();
      pendingEvents = [];
      retried.clear();
      target = clone(src);
      log.push(`t=${now} full sync`);
    }

    now += Math.floor(rnd() * rnd() * maxWaitMs * 1.5);

    // the dispatcher: one transfer in flight at a time
    if (rnd() < 0.35) {
      if (inFlight === null) {
        if (c.hasReady(now)) {
          const changes = takeBatch(now);
          assert.ok(changes.length > 0, 'hasReady but take returned nothing');
          inFlight = { changes, snapshot: clone(src) };
        }
      } else if (rnd() < 0.6) {
        finish(rnd() < 0.7);
      }
    }

    const next = c.nextReadyAt();
    assert.equal(next !== undefined, c.size > 0, 'nextReadyAt is defined exactly when something is pending');
    assert.equal(c.hasReady(now), next !== undefined && next <= now, 'hasReady agrees with nextReadyAt');
    if (next !== undefined) assert.ok(c.hasReady(next), 'ready at nextReadyAt');
    // no event waits longer than maxWait for a take willing to hand it out
    if (pendingEvents.length > 0) {
      const bound = (pendingEvents[0] as { t: number }).t + maxWaitMs;
      assert.ok(
        next !== undefined && next <= bound,
        `nextReadyAt ${next} is past the maxWait bound ${bound} of ${JSON.stringify(pendingEvents[0])}\n${log.join('\n')}`,
      );
    }
  }

  finish(true);
  const far = now + 10 * (delayMs + maxWaitMs) + 1;
  const rest = takeBatch(far);
  for (const ch of rest) rsyncApply(target, src, ch, rnd);
  assert.equal(c.size, 0, 'everything was taken');
  assert.deepEqual(dump(target), dump(src), `target differs from source\n${log.join('\n')}`);

  // the naive reference, every event sent by itself, reaches the same tree
  const naive = clone(initial);
  for (const ev of events) for (const ch of naiveChanges(ev)) rsyncApply(naive, src, ch, () => 0);
  assert.deepEqual(dump(naive), dump(src), 'the naive reference disagrees (the model itself is off)');
}

test('random event sequences leave the target equal to the source, each change sent within maxWait', () => {
  const fixed = process.env.SEED;
  const count = fixed !== undefined ? 1 : Number(process.env.COUNT ?? 500);
  const first = fixed !== undefined ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
  console.log(`coalescer model: seeds ${first}..${first + count - 1} (SEED=n reruns one)`);
  for (let seed = first; seed < first + count; seed++) {
    try {
      runSequence(seed, 150);
    } catch (e) {
      (e as Error).message = `seed ${seed} (rerun with SEED=${seed}): ${(e as Error).message}`;
      throw e;
    }
  }
});
