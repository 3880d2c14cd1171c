import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AUTO_FANOTIFY_DIRS } from '../../src/watch/index.js';
import { fanotifyUnavailable } from '../helpers/backend.js';
import { msg, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir } from '../helpers/tree.js';

const cleanup: (() => void)[] = [];
after(() => {
  for (const c of cleanup.reverse()) c();
});

/** A source and a local target, a daemon on them with `watcher: <backend>`. */
async function mirrored(backend: string, prepare?: (src: string) => void) {
  const src = await makeTempDir('syncward-backend-src-');
  const dst = await makeTempDir('syncward-backend-dst-');
  const dir = await makeTempDir('syncward-backend-cfg-');
  const state = tempStateDir();
  cleanup.push(() => {
    for (const d of [src, dst, dir, state.dir]) rmSync(d, { recursive: true, force: true });
  });
  prepare?.(src);
  const targets: TargetUnderTest[] = [{ name: 'local', url: dst, dir: dst }];
  const cfg = join(dir, 'syncward.yaml');
  // the suites' SYNCWARD_TEST_WATCHER would add a second watcher key
  const yaml = configYaml({ stateDir: state.dir, source: src, targets, extra: `    watcher: ${backend}` });
  writeFileSync(cfg, yaml.replace(/^ {4}watcher: \S+\n(?=[\s\S]*^ {4}watcher:)/m, ''));
  const daemon = spawnSyncward(['start', '-c', cfg]);
  cleanup.push(() => void daemon.stop());
  await daemon.waitForLine((l) => l.target === 'local' && l.state === 'idle', 120_000, 'the initial sync');
  return { src, targets, daemon };
}

/** Changes of every kind, then the target must be the source. */
async function churnAndConverge(src: string, targets: TargetUnderTest[]) {
  mkdirSync(join(src, 'a', 'b', 'c'), { recursive: true });
  writeFileSync(join(src, 'a', 'b', 'c', 'deep'), 'deep\n');
  writeFileSync(join(src, 'top'), 'top\n');
  await converged(src, targets, 30_000, 'new files');
  renameSync(join(src, 'a', 'b'), join(src, 'moved'));
  writeFileSync(join(src, 'moved', 'c', 'after'), 'written after the move\n');
  rmSync(join(src, 'top'));
  await converged(src, targets, 30_000, 'a directory moved, a file written in it, one deleted');
}

// each test watches with fanotify (root only), and the fallback test mounts a tmpfs
describe('watcher backends', { skip: fanotifyUnavailable() ?? false }, () => {
  test('watcher: fanotify watches the tree with one filesystem mark and mirrors creates, moves, writes and deletes', async () => {
    const { src, targets, daemon } = await mirrored('fanotify');
    await daemon.waitForLine(
      (l) => /watching .* with fanotify \(one filesystem mark\)/.test(msg(l)),
      5_000,
      'fanotify',
    );
    await churnAndConverge(src, targets);
    await daemon.stop();
  });

  test('watcher: fanotify on a tree with a filesystem mounted inside falls back to inotify, says why, and mirrors the mount too', async () => {
    let mount = '';
    const { src, targets, daemon } = await mirrored('fanotify', (s) => {
      mount = join(s, 'mnt');
      mkdirSync(mount);
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mount]);
      cleanup.push(() => execFileSync('umount', ['-l', mount]));
    });
    const why = await daemon.waitForLine((l) => /fanotify cannot watch/.test(msg(l)), 5_000, 'the fallback');
    assert.match(
      msg(why),
      /mounted inside .*mnt.*one filesystem mark would not see them.*watching it with inotify instead/,
    );
    writeFileSync(join(mount, 'on-tmpfs'), 'x\n');
    await churnAndConverge(src, targets);
    await daemon.stop();
  });

  test(`watcher: auto stays with inotify on a small tree and takes fanotify past ${AUTO_FANOTIFY_DIRS} directories`, async () => {
    const small = await mirrored('auto');
    const line = await small.daemon.waitForLine(
      (l) => /watching \d+ directories/.test(msg(l)),
      5_000,
      'inotify',
    );
    assert.match(msg(line), /watching 1 directories/);
    await small.daemon.stop();

    const big = await mirrored('auto', (s) => {
      for (let i = 0; i <= AUTO_FANOTIFY_DIRS / 100; i++) {
        const d = join(s, `d${i}`);
        mkdirSync(d);
        for (let j = 0; j < 100; j++) mkdirSync(join(d, String(j)));
      }
    });
    await big.daemon.waitForLine(
      (l) =>
        new RegExp(`with fanotify \\(watcher auto: more than ${AUTO_FANOTIFY_DIRS} directories\\)`).test(
          msg(l),
        ),
      5_000,
      'fanotify for the big tree',
    );
    writeFileSync(join(big.src, 'd7', '42', 'deep'), 'arrives\n');
    await converged(big.src, big.targets, 60_000, 'a file written deep in the big tree');
    await big.daemon.stop();
  });
});
