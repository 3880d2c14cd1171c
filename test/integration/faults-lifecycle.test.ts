import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isWatching, msg, runSyncward, sighup, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const arrived = (dir: string, name: string, content: string) =>
  existsSync(join(dir, name)) && readFileSync(join(dir, name), 'utf8') === content;

describe('daemon lifecycle: one instance per state_dir, SIGHUP reloads, SIGTERM stops cleanly', () => {
  test('a second syncward start on the same state_dir exits 2 and names the state_dir and the pid using it', async () => {
    const src = await makeTempDir('syncward-life-src-');
    const dst = await makeTempDir('syncward-life-dst-');
    const dir = await makeTempDir('syncward-life-cfg-');
    const state = tempStateDir();
    const targets: TargetUnderTest[] = [{ name: 't', url: dst, dir: dst }];
    const cfg = join(dir, 'syncward.yaml');
    writeFileSync(cfg, configYaml({ stateDir: state.dir, source: src, targets }));
    const first = spawnSyncward(['start', '-c', cfg]);
    try {
      await first.waitForLine(isWatching, 20_000, 'the first instance watching');
      const second = runSyncward(['start', '-c', cfg], 30_000);
      assert.equal(second.code, 2, `second instance: ${second.err}${second.out}`);
      assert.ok(second.err.includes(state.dir), `the message names the state_dir: ${second.err}`);
      assert.match(second.err, new RegExp(`pid ${first.pid}\\b`), 'the message names the pid using it');
      assert.match(second.err, /in use|running|locked/i);
      // the first instance is unharmed
      writeFileSync(join(src, 'still-mirrored'), 'yes\n');
      await converged(src, targets, 30_000, 'the first instance keeps mirroring');
      await first.stop();
      assert.equal((await first.exited).code, 0, first.stderr());
    } finally {
      await first.stop();
      for (const p of [src, dst, dir]) rmSync(p, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('SIGHUP with a target added gives it a full sync and then real-time changes; with a target removed, it gets nothing more', async () => {
    const src = await makeTempDir('syncward-hup-src-');
    const a = await makeTempDir('syncward-hup-a-');
    const b = await makeTempDir('syncward-hup-b-');
    const dir = await makeTempDir('syncward-hup-cfg-');
    const state = tempStateDir();
    const ta: TargetUnderTest = { name: 'a', url: a, dir: a };
    const tb: TargetUnderTest = { name: 'b', url: b, dir: b };
    const cfg = join(dir, 'syncward.yaml');
    const configure = (targets: TargetUnderTest[]) =>
      writeFileSync(cfg, configYaml({ stateDir: state.dir, source: src, targets }));
    for (let i = 0; i < 20; i++) writeFileSync(join(src, `early${i}`), `early ${i}\n`);
    configure([ta]);
    const daemon = spawnSyncward(['start', '-c', cfg]);
    const reloaded = (what: string) => sighup(daemon, what);
    try {
      await daemon.waitForLine(isWatching, 20_000, 'watching');
      writeFileSync(join(src, 'before-hup'), 'before the first SIGHUP\n');
      await converged(src, [ta], 30_000, 'a in sync before the reload');
      assert.deepEqual(
        [...new Set(daemon.lines.map((l) => l.target).filter(Boolean))],
        ['a'],
        'only a is a target',
      );

      // add b: a full sync brings everything written so far, real time the rest
      configure([ta, tb]);
      await reloaded('adding b');
      await converged(src, [ta, tb], 30_000, 'b gets a full sync after SIGHUP');
      writeFileSync(join(src, 'after-add'), 'after b was added\n');
      await converged(src, [ta, tb], 30_000, 'both get real-time changes after the reload');

      // remove a: what is written from now on reaches b only
      configure([tb]);
      await reloaded('removing a');
      // the reloaded pipeline is live once a probe reaches b
      writeFileSync(join(src, 'probe'), 'probe\n');
      await waitFor(() => arrived(b, 'probe', 'probe\n'), 30_000, 'a probe to reach b after the reload');
      const mark = daemon.lines.length;
      for (let i = 0; i < 10; i++) writeFileSync(join(src, `after-remove${i}`), `after a was removed ${i}\n`);
      // b has them all: the daemon considered every write, and none went to a
      await converged(src, [tb], 30_000, 'b keeps getting changes');
      for (let i = 0; i < 10; i++)
        assert.ok(
          !existsSync(join(a, `after-remove${i}`)),
          `after-remove${i} did not reach the removed target`,
        );
      const toA = daemon.lines.slice(mark).filter((l) => l.target === 'a' && (l.kind || l.result));
      assert.deepEqual(toA, [], 'no transfer to the removed target after the reload');

      await daemon.stop();
      assert.equal((await daemon.exited).code, 0, daemon.stderr());
    } finally {
      await daemon.stop();
      for (const p of [src, a, b, dir]) rmSync(p, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('SIGTERM during a transfer exits 0 within 15 s, and a restart completes what was in flight', async () => {
    const src = await makeTempDir('syncward-term-src-');
    const dst = await makeTempDir('syncward-term-dst-');
    const dir = await makeTempDir('syncward-term-cfg-');
    const state = tempStateDir();
    const targets: TargetUnderTest[] = [{ name: 't', url: dst, dir: dst }];
    const cfg = join(dir, 'syncward.yaml');
    // rsync limited to 1 MB/s: sending 24 MB takes far longer than the test waits for the exit
    const yaml = configYaml({ stateDir: state.dir, source: src, targets }).replace(
      '        timeout_s: 20\n',
      '        timeout_s: 20\n        rsync_args: ["--bwlimit=1000"]\n',
    );
    assert.match(yaml, /bwlimit/);
    writeFileSync(cfg, yaml);
    writeFileSync(join(src, 'small'), 'small\n');
    let daemon = spawnSyncward(['start', '-c', cfg]);
    try {
      await daemon.waitForLine(
        (l) => l.target === 't' && l.state === 'idle',
        30_000,
        'the initial sync done',
      );
      await converged(src, targets, 30_000, 'initial sync');
      writeFileSync(join(src, 'big'), randomBytes(24 * 1024 * 1024));
      // rsync is writing its temp file on the target
      await waitFor(
        () => readdirSync(dst).some((n) => n.startsWith('.big.')),
        20_000,
        'rsync to be mid-transfer',
      );
      const termAt = Date.now();
      daemon.child.kill('SIGTERM');
      const exit = await Promise.race([daemon.exited, sleep(15_000).then(() => null)]);
      if (exit === null) {
        const running = daemon;
        const late = await Promise.race([running.exited, sleep(60_000).then(() => null)]);
        const rsyncs = spawnSync('pgrep', ['-af', `rsync .*${dst}`], { encoding: 'utf8' }).stdout.trim();
        assert.fail(
          `syncward did not exit within 15 s of SIGTERM (${late ? `it exited ${JSON.stringify(late)} after ${Date.now() - termAt} ms` : 'still running after 75 s'}; rsync still running: ${rsyncs || 'none'}); stderr:\n${running.stderr().slice(-4000)}`,
        );
      }
      assert.deepEqual(exit, { code: 0, signal: null }, daemon.stderr().slice(-4000));
      assert.ok(
        daemon.lines.some((l) => /stopped/.test(msg(l))),
        'says it stopped',
      );

      // not asserted (the contract does not say): does an rsync outlive the daemon?
      const left = spawnSync('pgrep', ['-af', `rsync .*${dst}`], { encoding: 'utf8' }).stdout.trim();
      console.log(`rsync processes left after the exit: ${left || 'none'}`);

      // nothing was lost by stopping mid-transfer
      daemon = spawnSyncward(['start', '-c', cfg]);
      await converged(src, targets, 120_000, 'the restarted daemon sends what was in flight');
      await daemon.stop();
      assert.equal((await daemon.exited).code, 0, daemon.stderr());
    } finally {
      await daemon.stop();
      for (const p of [src, dst, dir]) rmSync(p, { recursive: true, force: true });
      state.dispose();
    }
  });
});
