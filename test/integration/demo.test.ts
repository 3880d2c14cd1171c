import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const root = new URL('../../../', import.meta.url).pathname;

/** Runs one printed line with bash in `cwd`, as an operator pasting it would. */
function paste(line: string, cwd: string) {
  const r = spawnSync('bash', ['-c', line], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('the commands the demo prints work as printed from another directory', async () => {
  const demoDir = await makeTempDir('syncward-demo-');
  const elsewhere = await makeTempDir('syncward-demo-cwd-');
  // its own process group: Ctrl-C reaches the demo, its rsync daemon and syncward at once
  const demo = spawn('bash', [join(root, 'scripts', 'demo.sh')], {
    cwd: elsewhere,
    detached: true,
    env: { ...process.env, SYNCWARD_DEMO_DIR: join(demoDir, 'demo') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  demo.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  demo.stderr.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<void>((r) => demo.on('exit', () => r()));
  try {
    await waitFor(() => out.includes('Ctrl-C stops') || demo.exitCode !== null, 60_000, 'the demo banner');
    const lines = out.split('\n').map((l) => l.trim());
    const from = (heading: string, count: number) => {
      const i = lines.findIndex((l) => l.startsWith(heading));
      assert.ok(i >= 0, `the demo printed no "${heading}":\n${out}`);
      return lines.slice(i + 1, i + 1 + count);
    };
    const [cd, create, move, list, compare] = from('In another terminal', 5) as [
      string,
      string,
      string,
      string,
      string,
    ];
    assert.match(cd, /^cd \//, 'an absolute directory');
    const [, status, audit, doctor] = from('Watch it and ask it questions', 4) as [
      string,
      string,
      string,
      string,
    ];
    for (const l of [status, audit, doctor])
      assert.match(l, /^\/\S*\/bin\/syncward (status|audit|doctor) +-c \//);

    // the daemon answers once it is up
    await waitFor(() => paste(status, elsewhere).status === 0, 60_000, `${status} exiting 0\n${out}`);
    const changes = paste([cd, create, move].join('\n'), elsewhere);
    assert.equal(changes.status, 0, changes.out);
    const cmp = [cd, compare].join('\n');
    await waitFor(
      () => paste(cmp, elsewhere).out.includes('identical'),
      60_000,
      `the mirrors to follow\n${out}`,
    );
    const listed = paste([cd, list].join('\n'), elsewhere);
    assert.equal(listed.status, 0, listed.out);
    assert.match(listed.out, /renamed/);

    for (const [line, codes] of [
      [status, [0]],
      [audit, [0]],
      // doctor may warn about this machine (inotify limits): 1; never a crash or a usage error
      [doctor, [0, 1]],
    ] as const) {
      const r = paste(line, elsewhere);
      assert.ok(
        (codes as readonly number[]).includes(r.status ?? -1),
        `${line} exited ${r.status}:\n${r.out}`,
      );
      assert.doesNotMatch(r.out, /MODULE_NOT_FOUND|Cannot find module|^\s+at /m, line);
    }
  } finally {
    if (demo.exitCode === null && demo.pid) {
      process.kill(-demo.pid, 'SIGINT');
      const stopped = await Promise.race([exited.then(() => true), delay(30_000, false)]);
      if (!stopped) process.kill(-demo.pid, 'SIGKILL');
    }
    rmSync(demoDir, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
