import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Daemon, RefusedEvent } from '../../src/daemon/index.js';
import { isWatching, runSyncward, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { compareTrees, makeTempDir, waitFor } from '../helpers/tree.js';

const FILES = 50;

/** FILES files under data/ in a few directories, and one file beside it that stays */
function populate(src: string): void {
  writeFileSync(join(src, 'keep'), 'stays in the source\n');
  for (let i = 0; i < FILES; i++) {
    const dir = join(src, 'data', `d${i % 5}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}`), `file ${i}\n`);
  }
}

/** Every file and directory under `root`, relative, sorted. */
function listing(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).sort();
}

interface Recorder {
  states: { target: string; state: string; reason: string }[];
  alerts: { kind: string; source: string; target?: string; message: string }[];
}

function record(daemon: Daemon): Recorder {
  const r: Recorder = { states: [], alerts: [] };
  daemon.on('state', (_s: string, target: string, state: string, reason: string) =>
    r.states.push({ target, state, reason }),
  );
  daemon.on('alert', (a: Recorder['alerts'][number]) => r.alerts.push(a));
  return r;
}

/** The daemon's next 'refused' event: a full sync it would not start. */
function nextRefusal(daemon: Daemon): Promise<RefusedEvent> {
  return new Promise((resolve) => daemon.once('refused', resolve));
}

function targetStatus(daemon: Daemon, name: string) {
  const t = daemon.status()[0]?.targets.find((x) => x.target === name);
  assert.ok(t, `status lists target ${name}`);
  return t;
}

/** Waits until `name` is held, by state event, alert and status. */
async function heldEverywhere(daemon: Daemon, rec: Recorder, name: string, alertKinds: string[]) {
  await waitFor(
    () => rec.states.some((e) => e.target === name && e.state === 'held'),
    30_000,
    `a 'held' state event for ${name}`,
  );
  await waitFor(
    () => rec.alerts.some((a) => a.target === name && alertKinds.includes(a.kind)),
    10_000,
    `an alert (${alertKinds.join(' or ')}) for ${name}; alerts so far: ${JSON.stringify(rec.alerts)}`,
  );
  const st = targetStatus(daemon, name);
  assert.equal(st.state, 'held', `${name} is held in status()`);
  assert.equal(typeof st.holdReason, 'string', `status says why ${name} is held`);
}

describe('safety holds: nothing is deleted on a target until an operator resumes it', () => {
  let rsyncd: RsyncDaemon;
  before(async () => {
    rsyncd = await startRsyncDaemon({ modules: ['a', 'b', 'c'] });
  });
  after(async () => {
    await rsyncd?.dispose();
  });

  test('rm -rf of 50 files with max_delete 10 holds both targets, deletes nothing, and resume lets the deletes through one target at a time', async () => {
    const src = await makeTempDir('syncward-hold-src-');
    const local = await makeTempDir('syncward-hold-local-');
    const state = tempStateDir();
    const daemonTarget: TargetUnderTest = {
      name: 'daemon',
      url: rsyncd.url('a'),
      dir: rsyncd.modulePath('a'),
      passwordFile: rsyncd.passwordFile,
    };
    const localTarget: TargetUnderTest = { name: 'local', url: local, dir: local };
    const targets = [daemonTarget, localTarget];
    populate(src);
    const d = await startDaemon(
      configYaml({ stateDir: state.dir, source: src, targets, extra: '    max_delete: 10' }),
    );
    const rec = record(d.daemon);
    try {
      await converged(src, targets, 30_000, 'initial sync');
      const before = listing(local);
      assert.equal(before.filter((p) => /f\d+$/.test(p)).length, FILES);

      rmSync(join(src, 'data'), { recursive: true });
      await heldEverywhere(d.daemon, rec, 'local', ['held']);
      await heldEverywhere(d.daemon, rec, 'daemon', ['held']);
      // a hold is not a delay: the deletes were counted and wait in the queue, none ran
      for (const t of ['local', 'daemon'])
        assert.ok(targetStatus(d.daemon, t).pending > 0, `the deletes wait for ${t}`);
      assert.deepEqual(listing(local), before, 'the local target lost nothing while held');
      assert.deepEqual(listing(daemonTarget.dir), before, 'the daemon target lost nothing while held');

      assert.equal(d.daemon.resume('local'), 1, 'resume(local) resumes one target');
      await converged(src, [localTarget], 30_000, 'the resumed target gets the deletes');
      assert.deepEqual(listing(local), ['keep']);
      assert.equal(targetStatus(d.daemon, 'daemon').state, 'held', 'the other target is still held');
      assert.deepEqual(listing(daemonTarget.dir), before, 'the other target still has every file');
      await waitFor(() => targetStatus(d.daemon, 'local').state === 'idle', 10_000, 'local idle again');
      assert.equal(targetStatus(d.daemon, 'local').holdReason, null);

      assert.equal(d.daemon.resume('src/daemon'), 1, 'resume by source/target');
      await converged(src, targets, 30_000, 'both targets match after both resumes');
      assert.equal(d.daemon.resume('local'), 0, 'a target that is not held is not resumed');
    } finally {
      await d.dispose();
      rmSync(src, { recursive: true, force: true });
      rmSync(local, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('the same hold from the command line: syncward resume exits 0 for a held target, 1 for one that is not held, 2 with no daemon', async () => {
    const src = await makeTempDir('syncward-hold-cli-src-');
    const one = await makeTempDir('syncward-hold-cli-one-');
    const two = await makeTempDir('syncward-hold-cli-two-');
    const dir = await makeTempDir('syncward-hold-cli-cfg-');
    const state = tempStateDir();
    const targets: TargetUnderTest[] = [
      { name: 'one', url: one, dir: one },
      { name: 'two', url: two, dir: two },
    ];
    const cfg = join(dir, 'syncward.yaml');
    writeFileSync(
      cfg,
      configYaml({ stateDir: state.dir, source: src, targets, extra: '    max_delete: 10' }),
    );
    populate(src);
    const daemon = spawnSyncward(['start', '-c', cfg]);
    try {
      await daemon.waitForLine(isWatching, 20_000, 'watching');
      await converged(src, targets, 30_000, 'initial sync');
      const before = listing(one);
      const mark = daemon.lines.length;
      // moved out of the tree in one step: one unpaired IN_MOVED_FROM, a delete of 51 entries
      renameSync(join(src, 'data'), join(dir, 'data-moved-away'));
      for (const t of ['one', 'two'])
        await daemon.waitForLine((l) => l.target === t && l.state === 'held', 30_000, `${t} held`, mark);
      // held after counting the deletes; that two keeps every file while one takes them is checked below
      assert.deepEqual(listing(one), before);
      assert.deepEqual(listing(two), before);

      const r1 = runSyncward(['resume', '-c', cfg, 'one']);
      assert.equal(r1.code, 0, `resume one: ${r1.err}${r1.out}`);
      await converged(src, [targets[0] as TargetUnderTest], 30_000, 'one gets the deletes after resume');
      assert.deepEqual(listing(two), before, 'two is still held');

      const again = runSyncward(['resume', '-c', cfg, 'one']);
      assert.equal(again.code, 1, `resume of a target that is not held: ${again.err}${again.out}`);
      assert.match(again.err + again.out, /not (on )?hold|not held/i);
      const unknown = runSyncward(['resume', '-c', cfg, 'no-such-target']);
      assert.equal(unknown.code, 1, `resume of an unknown target: ${unknown.err}${unknown.out}`);

      const r2 = runSyncward(['resume', '-c', cfg, 'src/two']);
      assert.equal(r2.code, 0, `resume src/two: ${r2.err}${r2.out}`);
      await converged(src, targets, 30_000, 'both targets match after both resumes');

      await daemon.stop();
      assert.equal((await daemon.exited).code, 0, daemon.stderr());
      const none = runSyncward(['resume', '-c', cfg, 'one']);
      assert.equal(none.code, 2, `resume with no daemon running: ${none.err}${none.out}`);
      assert.match(none.err, new RegExp(state.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    } finally {
      await daemon.stop();
      for (const p of [src, one, two, dir]) rmSync(p, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('a source root removed entirely holds every target and deletes nothing on them', async () => {
    const parent = await makeTempDir('syncward-hold-root-');
    const src = join(parent, 'www');
    mkdirSync(src);
    const local = await makeTempDir('syncward-hold-root-local-');
    const state = tempStateDir();
    const daemonTarget: TargetUnderTest = {
      name: 'daemon',
      url: rsyncd.url('b'),
      dir: rsyncd.modulePath('b'),
      passwordFile: rsyncd.passwordFile,
    };
    const localTarget: TargetUnderTest = { name: 'local', url: local, dir: local };
    const targets = [daemonTarget, localTarget];
    populate(src);
    // the limit alone would not stop this: the vanished root is its own reason to hold
    const d = await startDaemon(
      configYaml({ stateDir: state.dir, source: src, targets, extra: '    max_delete: 1000' }),
    );
    const rec = record(d.daemon);
    try {
      await converged(src, targets, 30_000, 'initial sync');
      const before = listing(local);
      rmSync(src, { recursive: true });
      await heldEverywhere(d.daemon, rec, 'local', ['held', 'rootGone']);
      await heldEverywhere(d.daemon, rec, 'daemon', ['held', 'rootGone']);
      assert.deepEqual(listing(local), before, 'the local target lost nothing');
      assert.deepEqual(listing(daemonTarget.dir), before, 'the daemon target lost nothing');
      // the targets may be held by the delete guard (root missing) before the watcher
      // reports the root itself gone: the source's refusal below needs the latter
      await waitFor(() => rec.alerts.some((a) => a.kind === 'rootGone'), 10_000, 'the source rootGone');
      // even a full sync asked for now must not empty the targets: it is refused, and says so
      const refused = nextRefusal(d.daemon);
      assert.equal(d.daemon.fullSync('src', 'test'), false, 'the full sync is refused');
      assert.match((await refused).why, /vanished, was unmounted or replaced/);
      for (const name of ['local', 'daemon'])
        assert.equal(targetStatus(d.daemon, name).state, 'held', `${name} is still held`);
      assert.deepEqual(listing(local), before, 'a full sync did not empty the local target');
      assert.deepEqual(listing(daemonTarget.dir), before, 'a full sync did not empty the daemon target');
    } finally {
      await d.dispose();
      rmSync(parent, { recursive: true, force: true });
      rmSync(local, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('a hold that comes while a transfer is in flight is still a hold when that transfer ends', async () => {
    const parent = await makeTempDir('syncward-hold-inflight-');
    const src = join(parent, 'www');
    mkdirSync(src);
    const state = tempStateDir();
    const target: TargetUnderTest = {
      name: 'daemon',
      url: rsyncd.url('c'),
      dir: rsyncd.modulePath('c'),
      passwordFile: rsyncd.passwordFile,
    };
    populate(src);
    const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets: [target] }));
    const rec = record(d.daemon);
    const transfers: { target: string; kind: string; result: string }[] = [];
    d.daemon.on('transfer', (r: { target: string; kind: string; result: string }) => transfers.push(r));
    // rsyncd runs pre-xfer exec before each transfer and waits for it: a gate the test opens
    const entered = join(parent, 'entered');
    const gate = join(parent, 'gate');
    try {
      await converged(src, [target], 30_000, 'initial sync');
      await waitFor(() => d.daemon.isIdle(), 30_000, 'the startup full sync finished');
      writeFileSync(gate, '');
      await rsyncd.setModuleOptions('c', [
        `pre-xfer exec = touch ${entered}; while [ -e ${gate} ]; do sleep 0.05; done`,
      ]);
      const mark = transfers.length;
      writeFileSync(join(src, 'keep'), 'changed\n');
      await waitFor(() => existsSync(entered), 30_000, 'a transfer in flight, waiting at the gate');
      rmSync(src, { recursive: true });
      await heldEverywhere(d.daemon, rec, 'daemon', ['held', 'rootGone']);
      rmSync(gate);
      await waitFor(
        () => transfers.slice(mark).some((t) => t.target === 'daemon' && t.kind === 'batch'),
        30_000,
        'the transfer that was in flight to end',
      );
      const st = targetStatus(d.daemon, 'daemon');
      assert.equal(st.state, 'held', `still held after the transfer ended (${st.stateReason})`);
      assert.match(st.holdReason ?? '', /source root .* was (removed|deleted)/);
      assert.ok(
        !rec.alerts.some((a) => a.kind === 'down'),
        `the held target raised no other alert: ${JSON.stringify(rec.alerts)}`,
      );
    } finally {
      rmSync(gate, { force: true });
      await rsyncd.setModuleOptions('c', []);
      await d.dispose();
      rmSync(parent, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('a source root emptied while its targets are not holds every target, even under max_delete', async () => {
    const src = await makeTempDir('syncward-hold-empty-src-');
    const local = await makeTempDir('syncward-hold-empty-local-');
    const state = tempStateDir();
    const targets: TargetUnderTest[] = [{ name: 'local', url: local, dir: local }];
    for (let i = 0; i < 5; i++) writeFileSync(join(src, `page${i}.html`), `page ${i}\n`);
    const d = await startDaemon(
      configYaml({ stateDir: state.dir, source: src, targets, extra: '    max_delete: 1000' }),
    );
    const rec = record(d.daemon);
    try {
      await converged(src, targets, 30_000, 'initial sync');
      const before = listing(local);
      for (const f of readdirSync(src)) rmSync(join(src, f));
      await heldEverywhere(d.daemon, rec, 'local', ['held', 'rootGone']);
      assert.deepEqual(listing(local), before, 'the target lost nothing');
      assert.equal(d.daemon.resume('local'), 1);
      await converged(src, targets, 30_000, 'after resume the target is emptied too');
      assert.deepEqual(await compareTrees(src, local), []);
    } finally {
      await d.dispose();
      rmSync(src, { recursive: true, force: true });
      rmSync(local, { recursive: true, force: true });
      state.dispose();
    }
  });
});
