import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { test } from 'node:test';
import { isWatching, type LogLine, msg, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const TOTAL = 20_000;
const PAUSE_AT = 5_000;

/**
 * Writes TOTAL small files in nested directories from its own process, so
 * the burst goes on while the test kills the daemon. Prints how many files
 * exist every 250 files; stops at PAUSE_AT until it reads a line on stdin.
 */
const writer = `
const fs = require('node:fs');
const path = require('node:path');
const [root, total, pauseAt] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
let waiting = null;
process.stdin.on('data', () => { if (waiting) { const w = waiting; waiting = null; w(); } });
(async () => {
  for (let i = 0; i < total; i++) {
    const dir = path.join(root, 'burst', 'b' + (i % 100), 's' + (Math.floor(i / 100) % 4));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'f' + i), 'file ' + i + '\\n'.repeat(1 + (i % 7)));
    if ((i + 1) % 250 === 0) process.stdout.write((i + 1) + '\\n');
    if (i + 1 === pauseAt) await new Promise((r) => { waiting = r; });
  }
  process.stdin.destroy();
})();
`;

const sentSomething = (l: LogLine) => /^sent \d+ change|^full sync .* done/.test(msg(l));

test('kill -9 in the middle of a 20,000-file burst: after a restart every target converges exactly', async () => {
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-kill9-src-');
  const local = await makeTempDir('syncward-kill9-local-');
  const dir = await makeTempDir('syncward-kill9-cfg-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [
    {
      name: 'daemon',
      url: rsyncd.url('m'),
      dir: rsyncd.modulePath('m'),
      passwordFile: rsyncd.passwordFile,
      owner: true,
    },
    { name: 'local', url: local, dir: local, owner: true },
  ];
  const cfg = join(dir, 'syncward.yaml');
  writeFileSync(cfg, configYaml({ stateDir: state.dir, source: src, targets }));
  writeFileSync(join(src, 'before-start'), 'here before the first start\n');

  const first = spawnSyncward(['start', '-c', cfg]);
  let second: typeof first | null = null;
  let w: ChildProcessByStdio<Writable, Readable, null> | null = null;
  try {
    await first.waitForLine(isWatching, 20_000, 'the first daemon watching');
    await converged(src, targets, 30_000, 'initial sync before the burst');
    const mark = first.lines.length;
    w = spawn(process.execPath, ['-e', writer, src, String(TOTAL), String(PAUSE_AT)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let written = 0;
    w.stdout.setEncoding('utf8');
    w.stdout.on('data', (s: string) => {
      const n = Number(s.trim().split('\n').pop());
      if (Number.isFinite(n)) written = n;
    });
    const proc = w;
    const writerDone = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    await waitFor(() => written >= PAUSE_AT, 60_000, `the writer to reach ${PAUSE_AT} files`);
    // the daemon is sending the burst: kill it while more keeps arriving
    await first.waitForLine(sentSomething, 30_000, 'a transfer of the burst', mark);
    w.stdin.write('go\n');
    await waitFor(() => written >= PAUSE_AT + 1000, 60_000, 'the writer to go on');
    first.child.kill('SIGKILL');
    const killed = await first.exited;
    assert.equal(killed.signal, 'SIGKILL');
    console.log(`killed the daemon with ${written} of ${TOTAL} files written`);
    assert.equal(await writerDone, 0, 'the writer finished the burst');
    assert.ok(existsSync(join(src, 'burst', 'b99', 's3', `f${TOTAL - 1}`)));

    const restartedAt = Date.now();
    second = spawnSyncward(['start', '-c', cfg]);
    await converged(src, targets, 240_000, 'every target converges after the restart');
    // the comparison of 20,000 files is slow itself: the daemon's own log says when catch-up ended
    const caughtUp = targets.map((t) => {
      const done = second?.lines.find((l) => l.target === t.name && /^full sync .* done/.test(msg(l)));
      return done ? Date.parse(String(done.time)) - restartedAt : Number.NaN;
    });
    console.log(
      `catch-up after kill -9: full sync done ${targets.map((t, i) => `${t.name} ${caughtUp[i]} ms`).join(', ')} after the restart; converged (as compared by the test) after ${Date.now() - restartedAt} ms`,
    );

    const unclean = second.lines.find((l) => /unclean/i.test(JSON.stringify(l)));
    assert.ok(
      unclean,
      `the restarted daemon says its last run ended uncleanly (a log line mentioning "unclean" or an alert uncleanRestart); got:\n${second.stderr().slice(0, 4000)}`,
    );
    console.log(`unclean restart reported as: ${JSON.stringify(unclean)}`);
    assert.ok(
      unclean.level === undefined || Number(unclean.level) >= 40,
      `the unclean restart is a warning or worse: ${JSON.stringify(unclean)}`,
    );

    // still mirroring in real time after the catch-up
    writeFileSync(join(src, 'after-restart'), 'after the restart\n');
    try {
      // one file, not a full comparison: comparing 20,000 files twice can take longer than this bound under load
      await waitFor(
        () =>
          targets.every(
            (t) =>
              existsSync(join(t.dir, 'after-restart')) &&
              readFileSync(join(t.dir, 'after-restart'), 'utf8') === 'after the restart\n',
          ),
        60_000,
        'real-time sync after the restart',
      );
    } catch (e) {
      const daemonLog = second.lines
        .filter((l) => l.target === 'daemon' || /ALERT|state/.test(msg(l)))
        .slice(-30)
        .map((l) => JSON.stringify(l).slice(0, 400));
      throw new Error(
        `${(e as Error).message}\nthe daemon target's last log lines:\n${daemonLog.join('\n')}`,
      );
    }
    await second.stop();
    assert.equal((await second.exited).code, 0, second.stderr());
  } finally {
    w?.kill('SIGKILL');
    await first.stop();
    await second?.stop();
    await rsyncd.dispose();
    for (const d of [src, local, dir]) rmSync(d, { recursive: true, force: true });
    state.dispose();
  }
});
