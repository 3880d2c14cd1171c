import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseOpenFilesLimit } from '../../src/native/index.js';
import { msg, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir } from '../helpers/tree.js';

const cleanup: string[] = [];
after(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

/** `syncward start` under `prlimit --nofile=SOFT:HARD`: its open files log line and its limits as the kernel has them. */
async function startWithLimit(soft: number, hard: number) {
  const src = await makeTempDir('syncward-nofile-src-');
  const dst = await makeTempDir('syncward-nofile-dst-');
  const dir = await makeTempDir('syncward-nofile-cfg-');
  const state = tempStateDir();
  cleanup.push(src, dst, dir, state.dir);
  const cfg = join(dir, 'syncward.yaml');
  writeFileSync(
    cfg,
    configYaml({ stateDir: state.dir, source: src, targets: [{ name: 'local', url: dst, dir: dst }] }),
  );
  const daemon = spawnSyncward(['start', '-c', cfg], { wrap: ['prlimit', `--nofile=${soft}:${hard}`, '--'] });
  try {
    const line = await daemon.waitForLine(
      (l) => /^open files limit/.test(msg(l)),
      20_000,
      'the open files line',
    );
    const kernel = parseOpenFilesLimit(readFileSync(`/proc/${daemon.pid}/limits`, 'utf8'));
    return { line, kernel };
  } finally {
    await daemon.stop();
  }
}

test('a daemon started with a soft open files limit below the hard one runs with the hard one, and says so', async () => {
  const { line, kernel } = await startWithLimit(256, 8192);
  assert.deepEqual(kernel, { soft: 8192, hard: 8192 });
  assert.equal(line.openFiles, 8192);
  assert.equal(line.openFilesHard, 8192);
  assert.equal(line.level, 30, 'info: 8192 is enough');
  assert.match(msg(line), /^open files limit \(RLIMIT_NOFILE\): 8192 \(hard 8192\)/);
});

test('a daemon whose hard open files limit is low warns how to raise it', async () => {
  const { line, kernel } = await startWithLimit(1024, 1024);
  assert.deepEqual(kernel, { soft: 1024, hard: 1024 });
  assert.equal(line.level, 40, 'warn');
  assert.match(
    msg(line),
    /open files limit \(RLIMIT_NOFILE\): 1024 \(hard 1024\); that is low: .*LimitNOFILE=65536/,
  );
});
