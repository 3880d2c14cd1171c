import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runSyncward, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** Runs `syncward status` until its exit code is `code`; returns that run. */
async function statusUntil(cfg: string, code: number, what: string, timeoutMs = 30_000) {
  let last = runSyncward(['status', '-c', cfg]);
  await waitFor(
    () => {
      last = runSyncward(['status', '-c', cfg]);
      return last.code === code;
    },
    timeoutMs,
    what,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last status exit ${last.code}:\n${last.out}${last.err}`);
  });
  return last;
}

describe('syncward status: Nagios exit codes from the running daemon', () => {
  test('healthy 0, lagging 1 (a slow transfer), ok again once delivered, down 2 (rsyncd stopped)', async () => {
    const rsyncd = await startRsyncDaemon({ modules: ['www'] });
    const src = await makeTempDir('syncward-status-src-');
    const dir = await makeTempDir('syncward-status-cfg-');
    const state = tempStateDir();
    const targets: TargetUnderTest[] = [
      {
        name: 'web',
        url: rsyncd.url('www'),
        dir: rsyncd.modulePath('www'),
        passwordFile: rsyncd.passwordFile,
      },
    ];
    const cfg = join(dir, 'syncward.yaml');
    // 200 KB/s: a 3 MB file takes ~15 s, far past the 1 s lag threshold
    const yaml = configYaml({
      stateDir: state.dir,
      source: src,
      targets,
      extra: '    lag_threshold_s: 1',
    }).replace('        timeout_s: 20\n', '        timeout_s: 20\n        rsync_args: ["--bwlimit=200"]\n');
    assert.match(yaml, /bwlimit/);
    writeFileSync(cfg, yaml);
    const daemon = spawnSyncward(['start', '-c', cfg]);
    try {
      await daemon.waitForLine((l) => l.target === 'web' && l.state === 'idle', 20_000, 'the initial sync');

      let r = await statusUntil(cfg, 0, 'status ok');
      assert.match(r.out, /^SOURCE +TARGET +STATE +PENDING +LAG +LAST SYNC +LAST AUDIT$/m);
      assert.match(r.out, /^src +web +idle +0 +- +\d+s ago +never$/m);
      assert.match(r.out, /syncward OK: 1 target\(s\) healthy/);
      r = runSyncward(['status', '-c', cfg, '--json']);
      assert.equal(r.code, 0, r.err);
      const json = JSON.parse(r.out) as {
        pid: number;
        sources: { targets: { state: string }[] }[];
        verdict: { code: number };
      };
      assert.equal(json.pid, daemon.pid);
      assert.equal(json.sources[0]?.targets[0]?.state, 'idle');
      assert.equal(json.verdict.code, 0);

      writeFileSync(join(src, 'big.bin'), randomBytes(3 * 1024 * 1024));
      r = await statusUntil(cfg, 1, 'status warning while the big file crawls');
      assert.match(r.out, /^src +web +lagging +\d+ +(\d+ms|\d+\.\ds|\d+s|\d+m\d\ds) /m);
      assert.match(
        r.out,
        /syncward WARNING: .*\n {2}WARNING +src\/web is lagging: oldest pending change is \d+ s old/,
      );

      await converged(src, targets, 60_000, 'the big file delivered');
      await statusUntil(cfg, 0, 'status ok again once caught up');

      await rsyncd.stop();
      writeFileSync(join(src, 'while-down.txt'), 'x\n');
      r = await statusUntil(cfg, 2, 'status critical with the target down');
      assert.match(r.out, /^src +web +down /m);
      assert.match(r.out, /CRITICAL +src\/web is down since \d+s: /);
    } finally {
      await daemon.stop();
      await rsyncd.dispose();
      for (const d of [src, dir]) rmSync(d, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('a wrong password is misconfigured: exit 2; status sends the API token from api.token_file', async () => {
    const rsyncd = await startRsyncDaemon({ modules: ['www'] });
    const src = await makeTempDir('syncward-status-src-');
    const dir = await makeTempDir('syncward-status-cfg-');
    const state = tempStateDir();
    const wrong = join(dir, 'wrong.pass');
    writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });
    const tokenFile = join(dir, 'api.token');
    writeFileSync(tokenFile, `${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
    const targets: TargetUnderTest[] = [
      { name: 'web', url: rsyncd.url('www'), dir: rsyncd.modulePath('www'), passwordFile: wrong },
    ];
    const cfg = join(dir, 'syncward.yaml');
    writeFileSync(
      cfg,
      configYaml({ stateDir: state.dir, source: src, targets, api: { listen: '127.0.0.1:0', tokenFile } }),
    );
    const daemon = spawnSyncward(['start', '-c', cfg]);
    try {
      await daemon.waitForLine(
        (l) => l.target === 'web' && l.state === 'misconfigured',
        20_000,
        'the target misconfigured',
      );
      const r = await statusUntil(cfg, 2, 'status critical');
      assert.match(r.out, /^src +web +misconfigured /m, 'the table came through the token-protected API');
      assert.match(r.out, /CRITICAL +src\/web is misconfigured since \d+s: .*auth/i);
    } finally {
      await daemon.stop();
      await rsyncd.dispose();
      for (const d of [src, dir]) rmSync(d, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('no daemon answering is critical (exit 2) and says how to start one', async () => {
    const src = await makeTempDir('syncward-status-src-');
    const dir = await makeTempDir('syncward-status-cfg-');
    const state = tempStateDir();
    const targets: TargetUnderTest[] = [{ name: 'local', url: join(dir, 'dst'), dir: join(dir, 'dst') }];
    const cfg = join(dir, 'syncward.yaml');
    try {
      writeFileSync(cfg, configYaml({ stateDir: state.dir, source: src, targets }));
      let r = runSyncward(['status', '-c', cfg]);
      assert.equal(r.code, 2);
      assert.match(
        r.err,
        /no syncward daemon is running on state_dir .*; start it with: `syncward start -c /,
      );

      const port = await freePort();
      writeFileSync(
        cfg,
        configYaml({ stateDir: state.dir, source: src, targets, api: { listen: `127.0.0.1:${port}` } }),
      );
      r = runSyncward(['status', '-c', cfg]);
      assert.equal(r.code, 2);
      assert.match(
        r.err,
        new RegExp(
          `no syncward daemon answers at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); start it with`,
        ),
      );

      writeFileSync(cfg, configYaml({ stateDir: state.dir, source: src, targets, api: { listen: 'off' } }));
      r = runSyncward(['status', '-c', cfg]);
      assert.equal(r.code, 2);
      assert.match(r.err, /the API is off/);
    } finally {
      for (const d of [src, dir]) rmSync(d, { recursive: true, force: true });
      state.dispose();
    }
  });
});
