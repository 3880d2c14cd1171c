import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { isWatching, msg, runSyncward, spawnSyncward } from '../helpers/cli-daemon.js';
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

test('two start --source daemons on one host both run, each reachable by status and resume through its --state-dir', async () => {
  const src = await makeTempDir('syncward-cli-two-src-');
  const dsts = [await makeTempDir('syncward-cli-two-a-'), await makeTempDir('syncward-cli-two-b-')];
  const states = [tempStateDir(), tempStateDir()];
  writeFileSync(join(src, 'f'), 'f\n');
  // no --api: each picks a free port, so neither wants the other's
  const daemons = dsts.map((dst, i) =>
    spawnSyncward([
      'start',
      '--source',
      src,
      '--target',
      dst,
      '--state-dir',
      (states[i] as { dir: string }).dir,
    ]),
  );
  try {
    for (const d of daemons) await d.waitForLine(isWatching, 20_000, 'watching');
    for (const [i, d] of daemons.entries()) {
      const dir = (states[i] as { dir: string }).dir;
      const start = await d.waitForLine((l) => /^syncward starting/.test(msg(l)), 5_000, 'the start line');
      // the start line says how to look at this daemon; that command runs as printed
      const printed = /`(syncward status [^`]+)`/.exec(msg(start))?.[1];
      assert.equal(printed, `syncward status --state-dir ${dir}`);
      await waitFor(() => existsSync(join(dsts[i] as string, 'f')), 20_000, 'initial sync');
      const r = runSyncward(['status', '--state-dir', dir]);
      assert.equal(r.code, 0, `status of daemon ${i}: ${r.err}${r.out}`);
      assert.match(r.out, new RegExp(`${basename(src)} +t1 +idle`));
      const json = JSON.parse(runSyncward(['status', '--state-dir', dir, '--json']).out) as { pid: number };
      assert.equal(json.pid, d.pid, 'the state_dir leads to its own daemon');
      const resume = runSyncward(['resume', '--state-dir', dir, `${basename(src)}/t1`]);
      assert.equal(resume.code, 1, 'reached, and it says the target is not on hold');
      assert.match(resume.err, /is not on hold/);
    }
    const none = runSyncward(['status', '--state-dir', join(src, 'nothing-here')]);
    assert.equal(none.code, 2);
    assert.match(none.err, /no syncward daemon answers on state_dir .*nothing-here/);
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    for (const d of [src, ...dsts]) rmSync(d, { recursive: true, force: true });
    for (const s of states) s.dispose();
  }
});

test('a missing required option, or a missing -c/--state-dir, is a usage error: exit 2 (status reads CRITICAL, not WARNING)', () => {
  for (const args of [
    ['status'],
    ['resume', 'web1'],
    ['audit'],
    ['sync'],
    ['rsyncd-config'],
    ['rsyncd-config', '--module', 'm'],
  ]) {
    const r = runSyncward(args);
    assert.equal(r.code, 2, `syncward ${args.join(' ')}: ${r.err}`);
    assert.match(
      r.err,
      /error: (required option|missing)/,
      `syncward ${args.join(' ')} says what is missing`,
    );
  }
  const both = runSyncward(['status', '-c', '/etc/none.yaml', '--state-dir', '/tmp']);
  assert.equal(both.code, 2);
  assert.match(both.err, /either -c FILE or --state-dir DIR, not both/);
  const api = runSyncward(['start', '-c', '/etc/none.yaml', '--api', '127.0.0.1:0']);
  assert.equal(api.code, 2);
  assert.match(api.err, /--api is for --source\/--target; with -c, set api.listen/);
});
