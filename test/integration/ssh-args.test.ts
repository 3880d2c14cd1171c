import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bin, isWatching, spawnSyncward } from '../helpers/cli-daemon.js';
import { startSshd } from '../helpers/sshd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

test('an ssh target path with spaces and $(...) is created literally and nothing runs, even with RSYNC_OLD_ARGS=1', async () => {
  const sshd = await startSshd();
  const base = await makeTempDir('syncward-ssh-args-');
  // what the remote shell would create if it ever saw the path as shell words
  const marker = join(tmpdir(), `syncward-ssh-args-ran-${process.pid}-${Date.now()}`);
  try {
    const source = join(base, 'src');
    mkdirSync(join(source, 'sub'), { recursive: true });
    writeFileSync(join(source, 'f.txt'), 'hello');
    writeFileSync(join(source, 'sub', 'g'), 'deep');
    const dir = await sshd.targetDir();
    const weird = join(dir, `a  b $(touch ${marker}) 'c' "d"`);
    const file = join(base, 'syncward.yaml');
    const config = {
      state_dir: join(base, 'state'),
      api: { listen: 'off' },
      sources: [
        {
          name: 'www',
          path: source,
          targets: [
            {
              name: 'web',
              url: sshd.url(weird),
              identity_file: sshd.identityFile,
              ssh_options: sshd.sshOptions,
            },
          ],
        },
      ],
    };
    writeFileSync(file, JSON.stringify(config, null, 2));

    // RSYNC_OLD_ARGS=1 tells rsync to let the remote shell split and expand its arguments
    const env = { ...process.env, RSYNC_OLD_ARGS: '1', RSYNC_PROTECT_ARGS: '0' };
    const r = spawnSync(process.execPath, [bin, 'sync', '-c', file], {
      encoding: 'utf8',
      timeout: 120_000,
      env,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(readFileSync(join(weird, 'f.txt'), 'utf8'), 'hello');
    assert.equal(readFileSync(join(weird, 'sub', 'g'), 'utf8'), 'deep');

    // the daemon's batches (--files-from on stdin) take the same path
    const d = spawnSyncward(['start', '-c', file], { env });
    try {
      await d.waitForLine(isWatching, 30_000, 'the source to be watched');
      writeFileSync(join(source, 'live.txt'), 'live');
      await waitFor(() => existsSync(join(weird, 'live.txt')), 60_000, 'live.txt at the literal target path');
    } finally {
      await d.stop();
    }
    assert.equal(readFileSync(join(weird, 'live.txt'), 'utf8'), 'live');
    assert.ok(!existsSync(marker), `the remote shell ran $(touch ${marker})`);
  } finally {
    rmSync(marker, { force: true });
    rmSync(base, { recursive: true, force: true });
    await sshd.dispose();
  }
});
