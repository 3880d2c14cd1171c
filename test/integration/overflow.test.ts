import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir } from '../helpers/tree.js';

const QUEUE = '/proc/sys/fs/inotify/max_queued_events';

test('a kernel queue overflow is reported and every target converges anyway', async (t) => {
  let old: string;
  try {
    old = readFileSync(QUEUE, 'utf8').trim();
    writeFileSync(QUEUE, '64');
  } catch (e) {
    t.skip(`cannot change ${QUEUE} (needs root): ${(e as Error).message}`);
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
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    // the kernel reads max_queued_events when the inotify instance is created
    d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
  } finally {
    writeFileSync(QUEUE, old);
  }
  let overflows = 0;
  d.daemon.on('overflow', () => overflows++);
  try {
    await converged(src, targets);
    // A burst far past the 64-event queue, without yielding to the event loop
    // so the reader cannot keep up.
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
