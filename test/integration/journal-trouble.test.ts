import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWatching, msg, runSyncward, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

async function setup(stateDir: string) {
  const src = await makeTempDir('syncward-jt-src-');
  const dst = await makeTempDir('syncward-jt-dst-');
  const cfgDir = await makeTempDir('syncward-jt-cfg-');
  const cfg = join(cfgDir, 'syncward.yaml');
  writeFileSync(cfg, configYaml({ stateDir, source: src, targets: [{ name: 't', url: dst, dir: dst }] }));
  const dispose = () => {
    for (const d of [src, dst, cfgDir]) rmSync(d, { recursive: true, force: true });
  };
  return { src, dst, cfg, dispose };
}

/** Starts syncward, waits until a file written while it was down reached the target, stops it. */
async function startsAndCatchesUp(cfg: string, src: string, dst: string, name: string): Promise<void> {
  writeFileSync(join(src, name), `${name}\n`);
  const d = spawnSyncward(['start', '-c', cfg]);
  try {
    await d.waitForLine(isWatching, 20_000, 'watching');
    await waitFor(() => existsSync(join(dst, name)), 20_000, `${name} sent by the startup full sync`);
    await d.stop();
    assert.equal((await d.exited).code, 0, d.stderr());
  } finally {
    await d.stop();
  }
}

test('a journal full of garbage: start exits 1 saying it is damaged, to move it aside, and that nothing is lost; doing so works', async () => {
  const state = tempStateDir();
  const s = await setup(state.dir);
  const journal = join(state.dir, 'journal.db');
  try {
    await startsAndCatchesUp(s.cfg, s.src, s.dst, 'first');
    writeFileSync(journal, randomBytes(64 * 1024));
    const r = runSyncward(['start', '-c', s.cfg], 20_000);
    assert.equal(r.code, 1, r.err);
    const line = r.err.split('\n').find((l) => l.includes('damaged')) ?? '';
    assert.ok(line.includes(`the journal ${journal} is damaged (SQLite: file is not a database)`), r.err);
    assert.ok(line.includes(`mv ${journal} ${journal}.broken`), 'what to do');
    assert.ok(line.includes('Nothing in the source or on the targets is lost'), 'what is lost');
    assert.ok(line.includes('the full sync at start resends every difference'), 'how it catches up');
    assert.ok(!existsSync(join(state.dir, 'syncward.pid')), 'the lock is released');
    // what the message says to do
    renameSync(journal, `${journal}.broken`);
    rmSync(`${journal}-wal`, { force: true });
    rmSync(`${journal}-shm`, { force: true });
    await startsAndCatchesUp(s.cfg, s.src, s.dst, 'written-while-down');
  } finally {
    s.dispose();
    state.dispose();
  }
});

test('a full disk under state_dir at start: exits 1 saying so, to free space, that nothing is lost; once freed it starts', async (t) => {
  const state = tempStateDir();
  const mnt = join(state.dir, 'small');
  mkdirSync(mnt);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=700', 'tmpfs', mnt], {
    encoding: 'utf8',
  });
  if (mounted.status !== 0) {
    state.dispose();
    t.skip(`cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): ${mounted.stderr.trim()}`);
    return;
  }
  const stateDir = join(mnt, 'state');
  const s = await setup(stateDir);
  try {
    mkdirSync(stateDir, { mode: 0o700 });
    // fill it to the last byte, keeping one page in reserve to give back later
    const reserve = join(mnt, 'reserve');
    writeFileSync(reserve, Buffer.alloc(4096));
    const filler = join(mnt, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(1024 * 1024));
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    // no page left: the lock file cannot be written (ENOSPC); one page: SQLite cannot write (SQLITE_FULL)
    for (const [what, why] of [
      ['the lock', /\(ENOSPC: no space left on device, write\)/],
      ['the journal', /\(database or disk is full\)/],
    ] as const) {
      const r = runSyncward(['start', '-c', s.cfg], 20_000);
      assert.equal(r.code, 1, `${what}: ${r.err}`);
      const line = r.err.split('\n').find((l) => l.includes('no space left on the file system')) ?? '';
      assert.ok(
        line.includes(`no space left on the file system of state_dir ${stateDir}`),
        `${what}: ${r.err}`,
      );
      assert.match(line, why);
      assert.ok(line.includes(`Free space there (df -h ${stateDir} shows it)`), 'what to do');
      assert.ok(line.includes('Nothing is lost'), 'what is lost');
      assert.deepEqual(
        readdirSync(stateDir).filter((f) => f === 'syncward.pid'),
        [],
        'no empty lock left behind',
      );
      rmSync(reserve, { force: true });
    }
    rmSync(filler);
    const d = spawnSyncward(['start', '-c', s.cfg]);
    try {
      await d.waitForLine(isWatching, 20_000, 'watching once space is free');
      assert.ok(
        !d.lines.some((l) => /unclean restart/.test(msg(l))),
        'the failed start is not taken for a crash',
      );
      await d.stop();
      assert.equal((await d.exited).code, 0, d.stderr());
    } finally {
      await d.stop();
    }
  } finally {
    s.dispose();
    if (spawnSync('umount', [mnt]).status !== 0) spawnSync('umount', ['-l', mnt]);
    state.dispose();
  }
});
