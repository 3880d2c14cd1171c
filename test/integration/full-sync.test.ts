import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

test('a periodic full sync (full_sync cron) repairs a target edited by hand', async () => {
  const src = await makeTempDir('syncward-cron-src-');
  const dst = await makeTempDir('syncward-cron-dst-');
  const state = tempStateDir();
  writeFileSync(join(src, 'page.html'), 'original\n');
  const targets: TargetUnderTest[] = [{ name: 'local', url: dst, dir: dst }];
  // croner takes a seconds field: every second
  const d = await startDaemon(
    configYaml({ stateDir: state.dir, source: src, targets, extra: '    full_sync: "* * * * * *"' }),
  );
  let scheduled = 0;
  d.daemon.on('transfer', (r: { kind: string; reason?: string }) => {
    if (r.kind === 'full' && r.reason?.startsWith('scheduled')) scheduled++;
  });
  try {
    await converged(src, targets);
    // no inotify event on the source: only a full sync can notice this
    writeFileSync(join(dst, 'page.html'), 'defaced\n');
    writeFileSync(join(dst, 'extra.php'), '<?php evil();\n');
    await waitFor(
      () => scheduled >= 1 && readFileSync(join(dst, 'page.html'), 'utf8') === 'original\n',
      10_000,
      'scheduled repair',
    );
    await converged(src, targets);
    assert.ok(scheduled >= 1);
  } finally {
    await d.dispose();
    rmSync(src, { recursive: true, force: true });
    rmSync(dst, { recursive: true, force: true });
    state.dispose();
  }
});
