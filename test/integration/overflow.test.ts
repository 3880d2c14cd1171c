import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { canChangeQueue, LOCK, QUEUE, withSmallQueue } from '../helpers/queue.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

test('a kernel queue overflow is reported and every target converges anyway', async (t) => {
  if (!canChangeQueue()) {
    t.skip('cannot change fs.inotify.max_queued_events (needs root)');
    return;
  }
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-overflow-');
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
  try {
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
    assert.ok((d.daemon.status()[0]?.overflows ?? 0) >= 1);
    // events keep flowing after an overflow
    writeFileSync(join(src, 'after-overflow'), 'still watching\n');
    await converged(src, targets);
  } finally {
    await d.dispose();
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    rmSync(local, { recursive: true, force: true });
    state.dispose();
  }
});

test('a test run killed while it has the inotify queue lowered leaves neither the lock nor the lowered value behind', async (t) => {
  if (!canChangeQueue()) {
    t.skip('cannot change fs.inotify.max_queued_events (needs root and flock)');
    return;
  }
  // read under the lock: another test file may have it lowered right now
  const original = spawnSync('flock', ['-x', LOCK, 'cat', QUEUE], { encoding: 'utf8' }).stdout.trim();
  const queueNow = () => readFileSync(QUEUE, 'utf8').trim();
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
