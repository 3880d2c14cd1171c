import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Alert } from '../../src/alerts/index.js';
import { ownFilesystem, testWatcher } from '../helpers/backend.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { canChangeQueue, testQueue, withSmallQueue } from '../helpers/queue.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

// On the backend under test (SYNCWARD_TEST_WATCHER=fanotify: the fanotify suites), with its own queue lowered
const FAN = testWatcher() === 'fanotify';
const queue = testQueue();

test('a kernel queue overflow is one overflow alert, a catch-up full sync, and every target converges', async (t) => {
  if (!canChangeQueue(queue)) {
    t.skip(`cannot change ${queue.sysctl} (needs root and flock)`);
    return;
  }
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  // fanotify's queue takes every change on the filesystem (the targets' too): a tmpfs of its own, or
  // other work on the machine overflows the small queue again after the catch-up
  const own = FAN ? ownFilesystem('syncward-overflow-') : null;
  const src = own?.dir ?? (await makeTempDir('syncward-overflow-'));
  const local = await makeTempDir('syncward-overflow-local-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [
    { name: 'daemon', url: rsyncd.url('m'), dir: rsyncd.modulePath('m'), passwordFile: rsyncd.passwordFile },
    { name: 'local', url: local, dir: local },
  ];
  const d = await withSmallQueue(64, () =>
    startDaemon(configYaml({ stateDir: state.dir, source: src, targets })),
  );
  let overflows = 0;
  d.daemon.on('overflow', () => overflows++);
  const alerts: Alert[] = [];
  d.daemon.on('alert', (a: Alert) => alerts.push(a));
  try {
    assert.equal(d.daemon.status()[0]?.watcher, FAN ? 'fanotify' : 'inotify', 'the backend under test');
    await converged(src, targets);
    // A burst far past the 64-event queue, without yielding to the event loop
    // so the reader cannot keep up: files in the watched root (3 events each),
    // and new directories whose watches cannot be added until the loop runs.
    for (let j = 0; j < 1000; j++) writeFileSync(join(src, `top${j}`), `${j}\n`);
    for (let i = 0; i < 20; i++) {
      mkdirSync(join(src, `burst${i}`));
      for (let j = 0; j < 100; j++) writeFileSync(join(src, `burst${i}`, `f${j}`), `${i}/${j}\n`);
    }
    await converged(src, targets, 60_000, 'targets converge after the overflow');
    assert.ok(overflows >= 1, 'the overflow was reported');
    // the catch-up: a full sync of every target that started after the last overflow
    await waitFor(() => d.daemon.status()[0]?.overflowSpell === null, 60_000, 'the catch-up full syncs');
    const s = d.daemon.status()[0];
    assert.ok((s?.overflows ?? 0) >= 1);
    for (const tg of s?.targets ?? [])
      assert.ok(
        tg.lastFullSyncAt !== null && s?.lastOverflowAt != null && tg.lastFullSyncAt > s.lastOverflowAt,
        `${tg.target} had its catch-up full sync`,
      );
    const raised = alerts.filter((a) => a.kind === 'overflow');
    assert.equal(raised.length, 1, `one overflow alert for ${overflows} overflow(s)`);
    assert.ok(
      raised[0]?.message.includes(queue.sysctl),
      `the alert names ${queue.sysctl}: ${raised[0]?.message}`,
    );
    // events keep flowing after an overflow
    writeFileSync(join(src, 'after-overflow'), 'still watching\n');
    // (a fresh-clone run at load 12, on fanotify, had it on the daemon target 30-31 s after the write)
    await converged(src, targets, 60_000, 'the write after the overflow arrives');
    assert.equal(alerts.filter((a) => a.kind === 'overflow').length, 1, 'no further overflow alert');
  } finally {
    await d.dispose();
    await rsyncd.dispose();
    if (own) own.dispose();
    else rmSync(src, { recursive: true, force: true });
    rmSync(local, { recursive: true, force: true });
    state.dispose();
  }
});

test(`a test run killed while it has the ${FAN ? 'fanotify' : 'inotify'} queue lowered leaves neither the lock nor the lowered value behind`, async (t) => {
  if (!canChangeQueue(queue)) {
    t.skip(`cannot change ${queue.sysctl} (needs root and flock)`);
    return;
  }
  // read under the lock: another test file may have it lowered right now
  const original = spawnSync('flock', ['-x', queue.lock, 'cat', queue.file], {
    encoding: 'utf8',
  }).stdout.trim();
  const queueNow = () => readFileSync(queue.file, 'utf8').trim();
  const helper = new URL('../helpers/queue.js', import.meta.url).href;
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { withSmallQueue } from ${JSON.stringify(helper)};
       await withSmallQueue(33, () => { console.log('lowered'); return new Promise(() => {}); });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitFor(() => out.includes('lowered'), 60_000, 'the child to lower the queue');
    assert.equal(queueNow(), '33');
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  // the lock is free again and the value is back: the next run lowers and restores as usual
  await withSmallQueue(44, async () => assert.equal(queueNow(), '44'));
  await waitFor(() => queueNow() === original, 10_000, `max_queued_events back to ${original}`);
});
