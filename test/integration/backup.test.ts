import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { backupDay } from '../../src/transport/index.js';
import { configYaml, startDaemon, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

test('backup keeps overwritten and deleted files under a dated directory, survives --delete, and old days are pruned', async () => {
  const src = await makeTempDir('syncward-backup-src-');
  const dst = await makeTempDir('syncward-backup-dst-');
  const state = tempStateDir();
  writeFileSync(join(src, 'page'), 'version 1\n');
  writeFileSync(join(src, 'gone'), 'about to be deleted\n');
  // a day long past, left on the target: the next full sync prunes it
  mkdirSync(join(dst, '.bk', '2000-01-01'), { recursive: true });
  writeFileSync(join(dst, '.bk', '2000-01-01', 'ancient'), 'x');
  const yaml = configYaml({
    stateDir: state.dir,
    source: src,
    targets: [{ name: 'local', url: dst, dir: dst }],
  }).replace('        timeout_s: 20', '        timeout_s: 20\n        backup: { dir: .bk, keep_days: 3 }');
  const d = await startDaemon(yaml);
  const today = join(dst, '.bk', backupDay(new Date()));
  try {
    await waitFor(() => existsSync(join(dst, 'page')), 20_000, 'initial sync');
    await waitFor(
      () => !existsSync(join(dst, '.bk', '2000-01-01')),
      20_000,
      'the old day pruned after the full sync',
    );
    writeFileSync(join(src, 'page'), 'version 2\n');
    unlinkSync(join(src, 'gone'));
    await waitFor(
      () =>
        existsSync(join(today, 'gone')) && existsSync(join(today, 'page')) && !existsSync(join(dst, 'gone')),
      20_000,
      'backups of the overwritten and the deleted file',
    );
    assert.equal(readFileSync(join(today, 'page'), 'utf8'), 'version 1\n');
    assert.equal(readFileSync(join(today, 'gone'), 'utf8'), 'about to be deleted\n');
    assert.equal(readFileSync(join(dst, 'page'), 'utf8'), 'version 2\n');
    // a full sync with --delete leaves the backups alone
    d.daemon.fullSync('src', 'test');
    await waitFor(() => d.daemon.isIdle(), 20_000, 'full sync done');
    assert.ok(existsSync(join(today, 'gone')), "today's backups survive a full sync");
  } finally {
    await d.dispose();
    rmSync(src, { recursive: true, force: true });
    rmSync(dst, { recursive: true, force: true });
    state.dispose();
  }
});
