import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWatching, runSyncward, sighup, spawnSyncward } from '../helpers/cli-daemon.js';
import {
  converged,
  type SourceUnderTest,
  sourcesYaml,
  type TargetUnderTest,
  tempStateDir,
} from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const arrived = (dir: string, name: string, content: string) =>
  existsSync(join(dir, name)) && readFileSync(join(dir, name), 'utf8') === content;

/** The names of the sources the running daemon reports (`syncward status --json`, through its API). */
function statusSources(cfg: string): string[] {
  const r = runSyncward(['status', '-c', cfg, '--json']);
  assert.ok(r.code !== null && r.code <= 1, `syncward status: ${r.code} ${r.err}${r.out}`);
  return (JSON.parse(r.out) as { sources: { name: string }[] }).sources.map((s) => s.name);
}

test('SIGHUP to a running syncward adds a source (full sync, then real time), applies a changed source (its new exclude), and removes a source (nothing more is sent for it)', async () => {
  const s1 = await makeTempDir('syncward-reload-s1-');
  const s2 = await makeTempDir('syncward-reload-s2-');
  const d1 = await makeTempDir('syncward-reload-d1-');
  const d2 = await makeTempDir('syncward-reload-d2-');
  const dir = await makeTempDir('syncward-reload-cfg-');
  const state = tempStateDir();
  const t1: TargetUnderTest = { name: 't1', url: d1, dir: d1 };
  const t2: TargetUnderTest = { name: 't2', url: d2, dir: d2 };
  const one: SourceUnderTest = { name: 'one', path: s1, targets: [t1] };
  const two: SourceUnderTest = { name: 'two', path: s2, targets: [t2] };
  const cfg = join(dir, 'syncward.yaml');
  const configure = (sources: SourceUnderTest[]) =>
    writeFileSync(cfg, sourcesYaml({ stateDir: state.dir, sources }));
  configure([one]);
  for (let i = 0; i < 5; i++) writeFileSync(join(s2, `early${i}`), `there before two was added ${i}\n`);
  const daemon = spawnSyncward(['start', '-c', cfg]);
  try {
    await daemon.waitForLine(isWatching, 20_000, 'watching');
    writeFileSync(join(s1, 'first'), 'first\n');
    await converged(s1, [t1], 30_000, 'one mirrored');
    assert.ok(!existsSync(join(d2, 'early0')), 'two is not mirrored before it is configured');

    // added: its full sync brings what was there, real time the rest
    configure([one, two]);
    const added = await sighup(daemon, 'adding two');
    assert.deepEqual([added.added, added.changed, added.removed], [['two'], [], []]);
    await converged(s2, [t2], 30_000, 'two gets a full sync after SIGHUP');
    writeFileSync(join(s2, 'live'), 'written after two was added\n');
    await waitFor(() => arrived(d2, 'live', 'written after two was added\n'), 30_000, 'real time on two');
    assert.deepEqual(statusSources(cfg).sort(), ['one', 'two']);

    // changed: one's new exclude applies to what is written from now on
    configure([{ ...one, exclude: ['*.tmp'] }, two]);
    const changed = await sighup(daemon, 'changing one');
    assert.deepEqual([changed.added, changed.changed, changed.removed], [[], ['one'], []]);
    writeFileSync(join(s1, 'scratch.tmp'), 'excluded now\n');
    writeFileSync(join(s1, 'kept.txt'), 'still sent\n');
    // both writes are considered in order: once kept.txt is there, scratch.tmp was filtered
    await waitFor(() => arrived(d1, 'kept.txt', 'still sent\n'), 30_000, 'kept.txt on t1');
    assert.ok(!existsSync(join(d1, 'scratch.tmp')), 'the changed exclude keeps scratch.tmp from t1');

    // removed: two is no longer watched, its writes go nowhere; one goes on
    configure([{ ...one, exclude: ['*.tmp'] }]);
    const removed = await sighup(daemon, 'removing two');
    assert.deepEqual([removed.added, removed.changed, removed.removed], [[], [], ['two']]);
    assert.deepEqual(statusSources(cfg), ['one'], 'the daemon reports one source');
    const mark = daemon.lines.length;
    writeFileSync(join(s2, 'after-removal'), 'nobody sends this\n');
    writeFileSync(join(s1, 'probe'), 'one still mirrors\n');
    await waitFor(() => arrived(d1, 'probe', 'one still mirrors\n'), 30_000, 'the probe on t1');
    assert.ok(!existsSync(join(d2, 'after-removal')), 'the removed source sent nothing');
    const aboutTwo = daemon.lines.slice(mark).filter((l) => l.source === 'two' || l.target === 't2');
    assert.deepEqual(aboutTwo, [], 'nothing ran for the removed source after the reload');

    await daemon.stop();
    assert.equal((await daemon.exited).code, 0, daemon.stderr());
  } finally {
    await daemon.stop();
    for (const p of [s1, s2, d1, d2, dir]) rmSync(p, { recursive: true, force: true });
    state.dispose();
  }
});

test('SIGHUP that adds, changes or removes a target starts only that target, with its own full sync; the other targets keep running without one', async () => {
  const src = await makeTempDir('syncward-retarget-src-');
  const dirs = await Promise.all(['t1', 't2', 't3'].map((n) => makeTempDir(`syncward-retarget-${n}-`)));
  const [t1, t2, t3] = ['t1', 't2', 't3'].map(
    (name, i): TargetUnderTest => ({ name, url: dirs[i] as string, dir: dirs[i] as string }),
  ) as [TargetUnderTest, TargetUnderTest, TargetUnderTest];
  const dir = await makeTempDir('syncward-retarget-cfg-');
  const state = tempStateDir();
  const cfg = join(dir, 'syncward.yaml');
  const configure = (targets: TargetUnderTest[]) =>
    writeFileSync(cfg, sourcesYaml({ stateDir: state.dir, sources: [{ name: 'one', path: src, targets }] }));
  for (let i = 0; i < 5; i++) writeFileSync(join(src, `early${i}`), `there from the start ${i}\n`);
  configure([t1, t2]);
  const daemon = spawnSyncward(['start', '-c', cfg]);
  /** full syncs per target logged since line `mark` (done or failed: each transfer report has its kind) */
  const fullSyncs = (mark: number) => {
    const n: Record<string, number> = {};
    for (const l of daemon.lines.slice(mark))
      if (l.kind === 'full' && typeof l.target === 'string') n[l.target] = (n[l.target] ?? 0) + 1;
    return n;
  };
  /** a new file reaches every target given: each worker that should run does */
  const flows = async (name: string, targets: TargetUnderTest[]) => {
    writeFileSync(join(src, name), `${name}\n`);
    for (const t of targets)
      await waitFor(() => arrived(t.dir, name, `${name}\n`), 30_000, `${name} on ${t.name}`);
  };
  try {
    await daemon.waitForLine(isWatching, 20_000, 'watching');
    await converged(src, [t1, t2], 30_000, 'initial sync');
    await waitFor(() => fullSyncs(0).t1 === 1 && fullSyncs(0).t2 === 1, 30_000, 'the startup full syncs');

    // added: t3 alone gets a full sync, then real time with the others
    let mark = daemon.lines.length;
    configure([t1, t2, t3]);
    const added = await sighup(daemon, 'adding t3');
    assert.deepEqual(added.targets, { one: { added: ['t3'], changed: [], removed: [] } });
    await converged(src, [t3], 30_000, 't3 gets the tree');
    await flows('after-add', [t1, t2, t3]);
    assert.deepEqual(fullSyncs(mark), { t3: 1 }, 'only the added target had a full sync');

    // changed: t2's new settings restart t2 alone
    mark = daemon.lines.length;
    configure([t1, { ...t2, timeoutS: 25 }, t3]);
    const changed = await sighup(daemon, 'changing t2');
    assert.deepEqual(changed.targets, { one: { added: [], changed: ['t2'], removed: [] } });
    await flows('after-change', [t1, t2, t3]);
    await waitFor(() => fullSyncs(mark).t2 === 1, 30_000, "t2's full sync after its change");
    assert.deepEqual(fullSyncs(mark), { t2: 1 }, 'only the changed target had a full sync');

    // removed: t1 gets nothing more, the others no full sync
    mark = daemon.lines.length;
    configure([{ ...t2, timeoutS: 25 }, t3]);
    const removed = await sighup(daemon, 'removing t1');
    assert.deepEqual(removed.targets, { one: { added: [], changed: [], removed: ['t1'] } });
    await flows('after-remove', [t2, t3]);
    assert.ok(!existsSync(join(t1.dir, 'after-remove')), 'the removed target gets nothing more');
    assert.deepEqual(fullSyncs(mark), {}, 'no full sync after removing a target');
    const st = JSON.parse(runSyncward(['status', '-c', cfg, '--json']).out) as {
      sources: { targets: { target: string }[] }[];
    };
    assert.deepEqual(
      st.sources[0]?.targets.map((t) => t.target),
      ['t2', 't3'],
    );

    await daemon.stop();
    assert.equal((await daemon.exited).code, 0, daemon.stderr());
  } finally {
    await daemon.stop();
    for (const p of [src, dir, ...dirs]) rmSync(p, { recursive: true, force: true });
    state.dispose();
  }
});
