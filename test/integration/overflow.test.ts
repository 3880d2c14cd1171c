import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { canChangeQueue, withSmallQueue } from '../helpers/queue.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir } from '../helpers/tree.js';

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
