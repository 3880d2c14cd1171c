import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RefusedEvent } from '../../src/daemon/index.js';
import { isWatching, sighup, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

test('a target down for a long burst holds at most full_sync_threshold changes in memory, then catches up with one full sync', async () => {
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-bounds-src-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [
    { name: 'daemon', url: rsyncd.url('m'), dir: rsyncd.modulePath('m'), passwordFile: rsyncd.passwordFile },
  ];
  const d = await startDaemon(
    configYaml({ stateDir: state.dir, source: src, targets, extra: '    full_sync_threshold: 500' }),
  );
  const fullReasons: string[] = [];
  d.daemon.on('transfer', (r: { kind: string; reason?: string; result: string }) => {
    if (r.kind === 'full' && r.result === 'ok') fullReasons.push(r.reason ?? '');
    if (process.env.DEBUG_BOUNDS) console.log(JSON.stringify(r).slice(0, 300));
  });
  try {
    await converged(src, targets, 20_000, 'initial sync');
    await waitFor(() => d.daemon.isIdle(), 20_000, 'the startup full sync finished');
    await rsyncd.stop();
    let maxPending = 0;
    // files in watched directories: one change each
    for (let i = 0; i < 30; i++) {
      for (let j = 0; j < 100; j++) writeFileSync(join(src, `f${i}-${j}`), `${i}/${j}\n`);
      await sleep(20);
      maxPending = Math.max(maxPending, d.daemon.status()[0]?.targets[0]?.pending ?? 0);
    }
    await waitFor(() => d.daemon.status()[0]?.targets[0]?.state === 'down', 20_000, 'the target is down');
    // 3,000 files written while down: the queue never held more than the threshold (plus one event batch)
    assert.ok(maxPending <= 500 + 200, `pending peaked at ${maxPending}`);
    await rsyncd.restart();
    await converged(src, targets, 90_000, 'the target catches up after the outage');
    assert.ok(
      fullReasons.some((r) => /full_sync_threshold/.test(r)),
      `a full sync replaced the giant batch: ${JSON.stringify(fullReasons)}`,
    );
  } finally {
    await d.dispose();
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    state.dispose();
  }
});

test('a source root that is unmounted holds every target and deletes nothing on them', async (t) => {
  const src = await makeTempDir('syncward-unmount-src-');
  const dst = await makeTempDir('syncward-unmount-dst-');
  const state = tempStateDir();
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', src]).status !== 0) {
    t.skip('cannot mount a tmpfs here (needs root)');
    return;
  }
  let mounted = true;
  const targets: TargetUnderTest[] = [{ name: 'local', url: dst, dir: dst }];
  const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
  const states: string[] = [];
  const alerts: string[] = [];
  d.daemon.on('state', (_s: string, _t: string, st: string) => states.push(st));
  d.daemon.on('alert', (a: { kind: string }) => alerts.push(a.kind));
  try {
    for (let i = 0; i < 20; i++) writeFileSync(join(src, `page${i}.html`), `page ${i}\n`);
    await converged(src, targets, 20_000, 'mirrored');
    assert.equal(spawnSync('umount', ['-l', src]).status, 0, 'umount');
    mounted = false;
    await waitFor(() => states.includes('held'), 20_000, 'the target is held');
    assert.ok(alerts.includes('rootGone'), `alerts: ${alerts}`);
    // the empty directory under the mount point must not be mirrored: a full sync is refused, and says so
    const refused = new Promise<RefusedEvent>((resolve) => d.daemon.once('refused', resolve));
    assert.equal(d.daemon.fullSync('src', 'test'), false, 'the full sync is refused');
    assert.match((await refused).why, /vanished, was unmounted or replaced/);
    assert.equal(d.daemon.status()[0]?.targets[0]?.state, 'held', 'the target is still held');
    assert.equal(readdirSync(dst).length, 20, 'nothing was deleted on the target');
    assert.ok(existsSync(join(dst, 'page0.html')));
  } finally {
    await d.dispose();
    if (mounted) spawnSync('umount', [src]);
    rmSync(src, { recursive: true, force: true });
    rmSync(dst, { recursive: true, force: true });
    state.dispose();
  }
});

test('a source unmounted while a batch is in flight (held at the target daemon before its file list): the batch deletes nothing', async (t) => {
  const rsyncd = await startRsyncDaemon({ modules: ['u'] });
  const src = await makeTempDir('syncward-umount-inflight-src-');
  const parent = await makeTempDir('syncward-umount-inflight-gate-');
  const state = tempStateDir();
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', src]).status !== 0) {
    t.skip('cannot mount a tmpfs here (needs root)');
    await rsyncd.dispose();
    return;
  }
  let mounted = true;
  const target: TargetUnderTest = {
    name: 'daemon',
    url: rsyncd.url('u'),
    dir: rsyncd.modulePath('u'),
    passwordFile: rsyncd.passwordFile,
  };
  const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets: [target] }));
  const transfers: { kind: string }[] = [];
  d.daemon.on('transfer', (r: { kind: string }) => transfers.push(r));
  const entered = join(parent, 'entered');
  const gate = join(parent, 'gate');
  try {
    for (let i = 0; i < 20; i++) writeFileSync(join(src, `page${i}.html`), `page ${i}\n`);
    await converged(src, [target], 20_000, 'mirrored');
    await waitFor(() => d.daemon.isIdle(), 20_000, 'idle');
    // rsyncd runs pre-xfer exec, and waits for it, before the client sends its file list
    writeFileSync(gate, '');
    await rsyncd.setModuleOptions('u', [
      `pre-xfer exec = touch ${entered}; while [ -e ${gate} ]; do sleep 0.05; done`,
    ]);
    const mark = transfers.length;
    // every page in one batch of upserts (IN_ATTRIB), which waits at the gate
    for (let i = 0; i < 20; i++) spawnSync('touch', [join(src, `page${i}.html`)]);
    await waitFor(() => existsSync(entered), 20_000, 'the batch in flight, waiting at the gate');
    assert.equal(spawnSync('umount', ['-l', src]).status, 0, 'umount');
    mounted = false;
    rmSync(gate);
    await waitFor(() => transfers.length > mark, 30_000, 'the batch in flight to end');
    assert.equal(readdirSync(target.dir).length, 20, 'the in-flight batch deleted nothing on the target');
  } finally {
    rmSync(gate, { force: true });
    await rsyncd.setModuleOptions('u', []);
    await d.dispose();
    if (mounted) spawnSync('umount', [src]);
    await rsyncd.dispose();
    for (const p of [src, parent]) rmSync(p, { recursive: true, force: true });
    state.dispose();
  }
});

test('a source root moved away holds its targets; restored and reloaded (a real SIGHUP), it mirrors again', async () => {
  const src = await makeTempDir('syncward-restore-src-');
  const dst = await makeTempDir('syncward-restore-dst-');
  const dir = await makeTempDir('syncward-restore-cfg-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [{ name: 'local', url: dst, dir: dst }];
  const cfg = join(dir, 'syncward.yaml');
  writeFileSync(cfg, configYaml({ stateDir: state.dir, source: src, targets }));
  const daemon = spawnSyncward(['start', '-c', cfg]);
  try {
    await daemon.waitForLine(isWatching, 20_000, 'watching');
    writeFileSync(join(src, 'a'), 'a\n');
    await converged(src, targets, 20_000, 'mirrored');
    const mark = daemon.lines.length;
    renameSync(src, `${src}-away`);
    await daemon.waitForLine(
      (l) => l.target === 'local' && l.state === 'held',
      20_000,
      'the target held',
      mark,
    );
    renameSync(`${src}-away`, src);
    const reloaded = await sighup(daemon, 'with the root restored');
    assert.deepEqual(reloaded.changed, ['src'], 'the source whose root vanished is started again');
    await daemon.waitForLine(isWatching, 20_000, 'the source watched again', mark);
    writeFileSync(join(src, 'b'), 'b\n');
    await converged(src, targets, 20_000, 'mirroring again after the reload');
    await daemon.stop();
    assert.equal((await daemon.exited).code, 0, daemon.stderr());
  } finally {
    await daemon.stop();
    for (const p of [`${src}-away`, src, dst, dir]) rmSync(p, { recursive: true, force: true });
    state.dispose();
  }
});
