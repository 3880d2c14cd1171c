import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const bin = new URL('../../../bin/syncward', import.meta.url).pathname;

test('syncward start --source --target runs as a process, logs JSON lines, and stops cleanly on SIGTERM', async () => {
  const src = await makeTempDir('syncward-cli-src-');
  const dst = await makeTempDir('syncward-cli-dst-');
  const state = tempStateDir();
  writeFileSync(join(src, 'early'), 'early\n');
  const child = spawn(
    process.execPath,
    [bin, 'start', '--source', src, '--target', dst, '--state-dir', state.dir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (b) => {
    stderr += b;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor(() => existsSync(join(dst, 'early')), 20_000, 'initial sync');
    writeFileSync(join(src, 'later'), 'later\n');
    await waitFor(
      () => existsSync(join(dst, 'later')) && readFileSync(join(dst, 'later'), 'utf8') === 'later\n',
      20_000,
      'real-time sync',
    );
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
    assert.equal(code, 0, `exit code; stderr:\n${stderr}`);
    const lines = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    assert.ok(
      lines.some((l) => /watching \d+ directories/.test(l.msg)),
      'says what it watches',
    );
    assert.ok(
      lines.some((l) => /sent 1 change\(s\) .* -> t1/.test(l.msg)),
      'says what was sent where',
    );
    assert.ok(lines.some((l) => /stopped/.test(l.msg)));
  } finally {
    child.kill('SIGKILL');
    rmSync(src, { recursive: true, force: true });
    rmSync(dst, { recursive: true, force: true });
    state.dispose();
  }
});
