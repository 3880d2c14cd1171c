import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseOpenFilesLimit } from '../../src/native/index.js';
import { type LogLine, msg, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const cleanup: string[] = [];
after(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

/** How many fd numbers below `limit` a process holds: at `limit`, its next open() fails with EMFILE. */
const fdsBelow = (pid: number, limit: number) =>
  readdirSync(`/proc/${pid}/fd`).filter((n) => Number(n) < limit).length;

/** Sets a process's soft open files limit (prlimit(1) on another pid). */
function setSoftLimit(pid: number, soft: number): void {
  const r = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `prlimit --pid ${pid}: ${r.stderr}`);
}

/**
 * Fills the daemon's fd table as a low `ulimit -n` and many idle API
 * clients would: lowers its soft limit to a few fds above what it holds,
 * then holds idle connections to its API until the table is full, opening a
 * new one whenever the daemon closes one (a connection cap, a header
 * timeout). A handful of connections is enough, whatever the API's caps.
 * release() closes them and gives the limit back.
 */
function exhaust(port: number, pid: number) {
  const before = parseOpenFilesLimit(readFileSync(`/proc/${pid}/limits`, 'utf8')).soft;
  const limit = Math.max(...readdirSync(`/proc/${pid}/fd`).map(Number)) + 8;
  setSoftLimit(pid, limit);
  const sockets = new Set<Socket>();
  let holding = true;
  const open = () => {
    if (!holding || fdsBelow(pid, limit) >= limit) return;
    const s = connect(port, '127.0.0.1');
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => {
      sockets.delete(s);
      setTimeout(open, 20);
    });
    s.on('connect', () => setTimeout(open, 1));
  };
  open();
  const refill = setInterval(open, 50);
  let released = false;
  return {
    full: () => waitFor(() => fdsBelow(pid, limit) >= limit, 20_000, `the daemon's ${limit} fds in use`),
    release() {
      if (released) return;
      released = true;
      holding = false;
      clearInterval(refill);
      for (const s of sockets) s.destroy();
      setSoftLimit(pid, before);
    },
  };
}

describe('a directory that cannot be listed for lack of fds is retried, sent whole, and alerted while it lasts', () => {
  test('newdir/sub/d created while the daemon is out of fds arrives, stays watched, and `unwatched` fires and resolves', async () => {
    const src = await makeTempDir('syncward-fds-src-');
    const dst = await makeTempDir('syncward-fds-dst-');
    const dir = await makeTempDir('syncward-fds-cfg-');
    const state = tempStateDir();
    cleanup.push(src, dst, dir, state.dir);
    writeFileSync(join(src, 'before'), 'x');
    const targets: TargetUnderTest[] = [{ name: 'local', url: dst, dir: dst }];
    const cfg = join(dir, 'syncward.yaml');
    // No rsync kept ready for the target: it holds three pipes, and a batch that ends it frees them,
    // so the retried listing found an fd within 0.1 s and the 1 s alert never came (a fresh-clone run).
    const yaml = configYaml({ stateDir: state.dir, source: src, targets }).replace(
      /^( {8}url: .*)$/m,
      '$1\n        preconnect: false',
    );
    writeFileSync(cfg, `${yaml}alerts:\n  unwatched_after_s: 1\n`);
    const daemon = spawnSyncward(['start', '-c', cfg]);
    let hold: ReturnType<typeof exhaust> | null = null;
    try {
      await daemon.waitForLine((l) => l.target === 'local' && l.state === 'idle', 20_000, 'the initial sync');
      await converged(src, targets, 20_000, 'the initial sync');
      const { url } = JSON.parse(readFileSync(join(state.dir, 'api.json'), 'utf8')) as { url: string };
      hold = exhaust(Number(new URL(url).port), daemon.pid);
      await hold.full();

      const from = daemon.lines.length;
      mkdirSync(join(src, 'newdir', 'sub', 'd'), { recursive: true });
      writeFileSync(join(src, 'newdir', 'sub', 'd', 'file'), 'made while out of fds');
      const failed = await daemon.waitForLine(
        (l) => /cannot list directory newdir/.test(msg(l)) && l.code === 'EMFILE',
        20_000,
        'the listing of newdir failing with EMFILE',
        from,
      );
      assert.match(msg(failed), /retrying with backoff, then it is sent whole/);
      const firing = await daemon.waitForLine(
        (l) => l.alert === 'unwatched' && /ALERT firing/.test(msg(l)),
        20_000,
        'the unwatched alert firing',
        from,
      );
      assert.match(msg(firing), /could not be listed or watched .*EMFILE: newdir/);
      assert.match(msg(firing), /out of file descriptors/);

      hold.release();
      // retries back off to at most 30 s (watch/recovery.ts): the next one after the release comes within that
      await daemon.waitForLine(
        (l) => /every directory is watched again/.test(msg(l)),
        60_000,
        'the watcher recovering',
        from,
      );
      await daemon.waitForLine(
        (l) => l.incident === 'unwatched:src' && /resolved/i.test(msg(l)),
        60_000,
        'the unwatched alert resolving',
        from,
      );
      // the target went down when rsync could not start; its retries back off to at most 60 s
      await converged(src, targets, 90_000, 'newdir/sub/d/file on the target');
      // d itself is watched now: a file written into it afterwards arrives by its own event
      writeFileSync(join(src, 'newdir', 'sub', 'd', 'after'), 'made after the fds came back');
      await converged(src, targets, 30_000, 'newdir/sub/d/after on the target');
      const recovered = daemon.lines.find((l: LogLine) => /every directory is watched again/.test(msg(l)));
      assert.equal(recovered?.fullSync, true, 'the spell outlasted unwatched_after_s: a full sync runs too');
    } finally {
      hold?.release();
      await daemon.stop();
    }
    assert.deepEqual(daemon.other, [], 'no crash output');
  });
});
