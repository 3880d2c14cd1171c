import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Change } from '../../src/change/index.js';
import {
  type ReadyStats,
  RsyncTransport,
  type SourceSpec,
  type TargetSpec,
} from '../../src/transport/index.js';
import { configYaml, converged, startDaemon, type TargetUnderTest } from '../helpers/daemon.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { type Sshd, startSshd } from '../helpers/sshd.js';
import { targetSpec } from '../helpers/targets.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const isRoot = process.getuid?.() === 0;

let rsyncd: RsyncDaemon;
let base: string;
/** every rsync a ready rsync ran as: none may be left when the tests end */
const pids = new Set<number>();

before(async () => {
  base = await makeTempDir('syncward-preconnect-');
  // a stock rsyncd.conf (no TCP_NODELAY), and modules that limit clients or cut idle ones
  rsyncd = await startRsyncDaemon({
    modules: ['www', 'one', 'cut', 'rec', 'solo'],
    nodelay: false,
    moduleOptions: { one: ['max connections = 1'], cut: ['timeout = 2'], solo: ['max connections = 1'] },
  });
});
after(async () => {
  await rsyncd?.dispose();
  rmSync(base, { recursive: true, force: true });
  // no rsync started ahead outlives its transport
  for (const pid of pids) assert.ok(!alive(pid), `rsync ${pid} was left running`);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let n = 0;
/** A fresh source tree and a transport with preconnect to `target` (made from a fresh subdirectory name). */
function setup(target: (dir: string) => TargetSpec, recycleMs = 60_000) {
  const name = `p${++n}`;
  const src = join(base, `${name}-src`);
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'd', 'old'), 'old');
  const source: SourceSpec = { root: src, filterArgs: [], delete: true };
  const t = new RsyncTransport({ source, target: target(name), isRoot, ready: { recycleMs } });
  return { src, t, name };
}

function stats(t: RsyncTransport): ReadyStats {
  const s = t.readyStats();
  assert.ok(s, 'preconnect is on');
  return s;
}

/** The ready rsync is running (its pid is kept to check nothing outlives the tests). */
async function readyPid(t: RsyncTransport): Promise<number> {
  await waitFor(() => stats(t).pid !== null, 10_000, 'an rsync started ahead');
  const pid = stats(t).pid as number;
  pids.add(pid);
  return pid;
}

/** The daemon's log lines of the connections that chose `module`. */
async function linesOf(module: string): Promise<string[]> {
  const lines = (await rsyncd.log()).split('\n');
  const pid = (l: string) => /\[(\d+)\]/.exec(l)?.[1];
  const ours = new Set(lines.filter((l) => l.includes(` module ${module} from`)).map(pid));
  return lines.filter((l) => ours.has(pid(l)));
}

function count(text: string, re: RegExp): number {
  return text.split('\n').filter((l) => re.test(l)).length;
}

/** Daemon logins so far: "rsync to MODULE/... from" is logged once a client chose the module and logged in. */
async function logins(module: string, dir: string): Promise<number> {
  return count(await rsyncd.log(), new RegExp(`rsync to ${module}/${dir}/? from`));
}

const up = (path: string): Change => ({ path, op: 'upsert' });

function assertOk(r: { class: string; message: string; detail: string }, what: string): void {
  assert.ok(r.class === 'ok', `${what}: ${r.class}: ${r.message}\n${r.detail}`);
}

describe('a batch rsync started ahead (preconnect) to a stock rsync daemon', () => {
  test('a batch is handed to the rsync started ahead, which had logged in before the change', async () => {
    const { src, t, name } = setup((d) =>
      targetSpec(`${rsyncd.url('www')}/${d}`, { passwordFile: rsyncd.passwordFile }),
    );
    try {
      assertOk(await t.sendAll(), 'full sync');
      t.idle();
      await readyPid(t);
      await waitFor(async () => (await logins('www', name)) === 2, 10_000, 'the ready rsync to log in');
      const connects = count(await rsyncd.log(), /connect from/);
      // the change happens after the login: the batch needs no connection of its own
      writeFileSync(join(src, 'd', 'new'), 'new');
      const { result, rootAttrs } = await t.sendBatch([up('d/new')]);
      assertOk(result, 'batch');
      assert.equal(rootAttrs, null, 'd/new is not in the root: no follow-up call');
      assert.equal(readFileSync(join(rsyncd.modulePath('www'), name, 'd', 'new'), 'utf8'), 'new');
      assert.equal(stats(t).handedOff, 1);
      assert.equal(stats(t).cold, 0);
      assert.equal(count(await rsyncd.log(), /connect from/), connects, 'no connection made for the batch');
      // no new one until the caller says the target is idle again
      assert.equal(stats(t).pid, null);
      assert.equal(stats(t).started, 1);
    } finally {
      await t.close();
    }
  });

  test('a batch that needs another call (a directory sent whole, failing paths left out) goes cold and arrives', async () => {
    const { src, t, name } = setup((d) =>
      targetSpec(`${rsyncd.url('www')}/${d}`, { passwordFile: rsyncd.passwordFile }),
    );
    try {
      t.idle();
      const pid = await readyPid(t);
      mkdirSync(join(src, 'tree', 'deep'), { recursive: true });
      writeFileSync(join(src, 'tree', 'deep', 'f'), 'f');
      assertOk((await t.sendBatch([{ path: 'tree', op: 'upsertTree' }])).result, 'tree batch');
      assert.ok(!alive(pid), 'the ready rsync was ended before the cold call');
      assert.equal(readFileSync(join(rsyncd.modulePath('www'), name, 'tree', 'deep', 'f'), 'utf8'), 'f');
      t.idle();
      await readyPid(t);
      writeFileSync(join(src, 'd', 'x'), 'x');
      const r = await t.sendBatch([up('d/x')], { leaveOut: new Set(['d/old']) });
      assertOk(r.result, 'batch with a path left out');
      assert.equal(readFileSync(join(rsyncd.modulePath('www'), name, 'd', 'x'), 'utf8'), 'x');
      assert.deepEqual([stats(t).handedOff, stats(t).cold], [0, 2]);
    } finally {
      await t.close();
    }
  });

  test('a ready rsync killed before its batch: the batch goes cold and arrives, and the next one is started after it', async () => {
    const { src, t, name } = setup((d) =>
      targetSpec(`${rsyncd.url('www')}/${d}`, { passwordFile: rsyncd.passwordFile }),
    );
    try {
      t.idle();
      const pid = await readyPid(t);
      process.kill(pid, 'SIGKILL');
      await waitFor(() => stats(t).diedIdle === 1, 10_000, 'the ready rsync to be seen dead');
      // it is not restarted by itself (a target refusing it would be asked again and again)
      t.idle();
      assert.equal(stats(t).pid, null);
      writeFileSync(join(src, 'd', 'after-kill'), 'k');
      assertOk((await t.sendBatch([up('d/after-kill')])).result, 'batch');
      assert.equal(readFileSync(join(rsyncd.modulePath('www'), name, 'd', 'after-kill'), 'utf8'), 'k');
      assert.deepEqual([stats(t).handedOff, stats(t).cold], [0, 1]);
      t.idle();
      await readyPid(t);
      assert.equal(stats(t).started, 2);
    } finally {
      await t.close();
    }
  });

  test('a daemon that cut the waiting connection (timeout = 2): the batch is sent again cold at once and arrives', async () => {
    const { src, t, name } = setup((d) =>
      targetSpec(`${rsyncd.url('cut')}/${d}`, { passwordFile: rsyncd.passwordFile }),
    );
    try {
      t.idle();
      await readyPid(t);
      // the daemon's own word that it gave up on the idle client; the client, waiting on its stdin, does not notice
      await waitFor(
        async () => /io timeout after \d+ seconds/.test(await rsyncd.log()),
        30_000,
        'the daemon to cut the idle connection',
      );
      writeFileSync(join(src, 'd', 'after-cut'), 'c');
      assertOk((await t.sendBatch([up('d/after-cut')])).result, 'batch');
      assert.equal(readFileSync(join(rsyncd.modulePath('cut'), name, 'd', 'after-cut'), 'utf8'), 'c');
      assert.deepEqual([stats(t).handedOff, stats(t).retriedCold], [1, 1]);
    } finally {
      await t.close();
    }
  });

  test('the ready rsync is recycled with an empty list: nothing is sent or deleted, and the next batch uses the new one', async () => {
    const { src, t, name } = setup(
      (d) => targetSpec(`${rsyncd.url('rec')}/${d}`, { passwordFile: rsyncd.passwordFile }),
      300,
    );
    try {
      assertOk(await t.sendAll(), 'full sync');
      // only on the target: --delete must not touch it, since nothing is listed
      writeFileSync(join(rsyncd.modulePath('rec'), name, 'd', 'target-only'), 't');
      writeFileSync(join(src, 'd', 'unsent'), 'u');
      t.idle();
      const first = await readyPid(t);
      await waitFor(() => stats(t).recycled >= 2, 20_000, 'two recycles');
      assert.ok(!alive(first), 'the first ready rsync ended');
      assert.ok(existsSync(join(rsyncd.modulePath('rec'), name, 'd', 'target-only')), 'nothing deleted');
      assert.ok(!existsSync(join(rsyncd.modulePath('rec'), name, 'd', 'unsent')), 'nothing sent');
      // an ordinary (empty) transfer to the daemon, not a cut connection
      assert.deepEqual(
        (await linesOf('rec')).filter((l) => /error/i.test(l)),
        [],
      );
      await readyPid(t);
      assertOk((await t.sendBatch([up('d/unsent')])).result, 'batch');
      assert.equal(stats(t).handedOff, 1);
      assert.equal(readFileSync(join(rsyncd.modulePath('rec'), name, 'd', 'unsent'), 'utf8'), 'u');
    } finally {
      await t.close();
    }
  });

  test('a daemon with max connections = 1: batches, a full sync, a count, the canary fetch and the probe all work', async () => {
    const { src, t, name } = setup((d) =>
      targetSpec(`${rsyncd.url('one')}/${d}`, { passwordFile: rsyncd.passwordFile }),
    );
    const fetched = join(base, `${name}-fetched`);
    mkdirSync(fetched);
    try {
      const logged = async (k: number) =>
        waitFor(async () => (await logins('one', name)) >= k, 10_000, `login ${k} to the one-client module`);
      assertOk(await t.sendAll(), 'full sync');
      t.idle();
      await readyPid(t);
      await logged(2);
      writeFileSync(join(src, 'd', 'a'), 'a');
      assertOk((await t.sendBatch([up('d/a')])).result, 'batch through the ready rsync');
      t.idle();
      await readyPid(t);
      await logged(3);
      // the canary's read and doctor's probe: the ready rsync is ended first, and started again after
      assertOk(await t.fetch('d/a', fetched), 'fetch');
      assert.equal(readFileSync(join(fetched, 'a'), 'utf8'), 'a');
      await readyPid(t);
      await logged(4);
      assertOk(await t.probe(), 'probe');
      await readyPid(t);
      await logged(5);
      rmSync(join(src, 'd', 'old'));
      const counted = await t.countDeletes([{ path: 'd/old', op: 'delete' }]);
      assertOk(counted.result, 'count');
      assert.equal(counted.deletes, 1);
      assertOk((await t.sendBatch([{ path: 'd/old', op: 'delete' }])).result, 'delete batch');
      assert.ok(!existsSync(join(rsyncd.modulePath('one'), name, 'd', 'old')));
      t.idle();
      await readyPid(t);
      writeFileSync(join(src, 'd', 'b'), 'b');
      assertOk(await t.sendAll(), 'full sync with a ready rsync waiting');
      assert.equal(readFileSync(join(rsyncd.modulePath('one'), name, 'd', 'b'), 'utf8'), 'b');
      assert.equal(stats(t).handedOff, 1);
      // the ready rsync was ended with an empty list before each other call, not cut
      assert.deepEqual(
        (await linesOf('one')).filter((l) => /error/i.test(l)),
        [],
      );
    } finally {
      await t.close();
    }
  });
});

test('max connections = 1: a batch asked for while the canary reads takes its turn after the read, and is not refused', async () => {
  const { src, t, name } = setup((d) =>
    // the read of a 4 MiB file at 2 MB/s holds the daemon's one slot for about two seconds
    targetSpec(`${rsyncd.url('one')}/${d}`, {
      passwordFile: rsyncd.passwordFile,
      rsyncArgs: ['--bwlimit=2000'],
    }),
  );
  const fetched = join(base, `${name}-fetched`);
  mkdirSync(fetched);
  try {
    writeFileSync(join(src, 'd', 'big'), Buffer.alloc(4 << 20, 7));
    assertOk(await t.sendAll(), 'full sync');
    const read = t.fetch('d/big', fetched);
    // the read has the slot: its login is in the daemon's log
    await waitFor(
      async () => (await rsyncd.log()).includes(`rsync on one/${name}/d/big from`),
      10_000,
      'the read logged in',
    );
    writeFileSync(join(src, 'd', 'during'), 'x');
    const batch = t.sendBatch([up('d/during')]);
    const [r, b] = await Promise.all([read, batch]);
    assertOk(r, 'the read');
    assertOk(b.result, 'the batch, made while the read held the slot');
    assert.equal(readFileSync(join(rsyncd.modulePath('one'), name, 'd', 'during'), 'utf8'), 'x');
  } finally {
    await t.close();
  }
});

test('a local target: a batch is handed to the rsync started ahead', async () => {
  const { src, t, name } = setup((d) => targetSpec(join(base, `${d}-dst`)));
  try {
    t.idle();
    await readyPid(t);
    writeFileSync(join(src, 'd', 'local'), 'l');
    assertOk((await t.sendBatch([up('d/local')])).result, 'batch');
    assert.equal(readFileSync(join(base, `${name}-dst`, 'd', 'local'), 'utf8'), 'l');
    assert.equal(stats(t).handedOff, 1);
  } finally {
    await t.close();
  }
});

describe('an ssh target', () => {
  let sshd: Sshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd?.dispose();
  });

  test('a batch is handed to the rsync started ahead, whose remote rsync was running before the change', async () => {
    const dir = await sshd.targetDir();
    // the remote rsync is this wrapper: it notes each start, so a batch that needed a new one shows
    const starts = join(base, 'ssh-starts');
    const wrapper = join(base, 'rsync-wrapper.sh');
    writeFileSync(starts, '');
    chmodSync(starts, 0o666);
    writeFileSync(wrapper, `#!/bin/sh\necho started >> ${starts}\nexec rsync "$@"\n`);
    chmodSync(wrapper, 0o755);
    chmodSync(base, 0o755);
    const controlPath = join(base, `cm-${process.pid}`);
    const started = () => readFileSync(starts, 'utf8').split('\n').filter(Boolean).length;
    const { src, t } = setup(() =>
      targetSpec(sshd.url(dir), {
        identityFile: sshd.identityFile,
        sshOptions: sshd.sshOptions,
        controlPath,
        rsyncArgs: [`--rsync-path=${wrapper}`],
      }),
    );
    try {
      assertOk(await t.sendAll(), 'full sync');
      t.idle();
      await readyPid(t);
      await waitFor(() => started() === 2, 10_000, 'the remote rsync of the ready one');
      writeFileSync(join(src, 'd', 'over-ssh'), 's');
      assertOk((await t.sendBatch([up('d/over-ssh')])).result, 'batch');
      assert.equal(readFileSync(join(dir, 'd', 'over-ssh'), 'utf8'), 's');
      assert.equal(stats(t).handedOff, 1);
      assert.equal(started(), 2, 'no remote rsync started for the batch');
    } finally {
      await t.close();
      // the shared master connection (ControlPersist) ends with its owner's test
      spawnSync('ssh', ['-o', `ControlPath=${controlPath}`, '-O', 'exit', 'x'], { stdio: 'ignore' });
    }
  });
});

/** This process's child rsyncs that read a --files-from list (batches, and the ones started ahead). */
function batchRsyncs(): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv[0] === 'rsync' && argv.includes('--files-from=-')) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test('the daemon keeps an rsync ready per target while idle, the canary and changes work against max connections = 1, and stop ends them all', async () => {
  const src = join(base, 'daemon-src');
  const local = join(base, 'daemon-local');
  const state = join(base, 'daemon-state');
  mkdirSync(src);
  mkdirSync(state);
  // the canary writes only into a source that holds something else
  writeFileSync(join(src, 'index.html'), 'hello');
  const targets: TargetUnderTest[] = [
    {
      name: 'solo',
      url: rsyncd.url('solo'),
      dir: rsyncd.modulePath('solo'),
      passwordFile: rsyncd.passwordFile,
    },
    { name: 'local', url: local, dir: local },
  ];
  const d = await startDaemon(
    configYaml({
      stateDir: state,
      source: src,
      targets,
      extra: '    canary: { interval_s: 1, timeout_s: 10 }',
    }),
  );
  let stopped = false;
  try {
    const canary = (t: string) =>
      d.daemon.status()[0]?.targets.find((x) => x.target === t)?.canary?.lagMs ?? null;
    // the canary: a batch, then its read-back, each with the target's one connection
    await waitFor(
      () => targets.every((t) => canary(t.name) !== null),
      30_000,
      'a canary lag on every target',
    );
    await waitFor(() => batchRsyncs().length >= 1, 10_000, 'an rsync started ahead');
    for (let i = 0; i < 5; i++) writeFileSync(join(src, `f${i}`), `${i}`);
    await converged(src, targets, 30_000, 'targets match source (the canary aside)', {
      ignore: ['.syncward-canary'],
    });
    await d.dispose();
    stopped = true;
    assert.deepEqual(batchRsyncs(), [], 'no rsync left after stop');
  } finally {
    if (!stopped) await d.dispose();
  }
});
