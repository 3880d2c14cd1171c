import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  readFileSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { apiUrlOf } from '../helpers/api.js';
import { bin, isWatching, type LogLine, msg, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const UNREADABLE = 'locked-out.bin';

/** uid and gid of nobody:nogroup, or why they cannot be used */
function nobody(): { uid: number; gid: number } | string {
  if (process.getuid?.() !== 0) return 'needs root to run the daemon as nobody';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) is not installed';
  const id = (args: string[]) => Number(spawnSync('id', args, { encoding: 'utf8' }).stdout.trim());
  const uid = id(['-u', 'nobody']);
  const gid = Number(spawnSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).stdout.split(':')[2]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return 'no nobody user or nogroup group';
  return { uid, gid };
}

const text = (l: LogLine) => JSON.stringify(l);

const AS_NOBODY = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--'];

/** A short syncward command as nobody: the state_dir is nobody's, and syncward refuses another user's. */
function asNobody(args: string[]): { code: number | null; out: string; err: string } {
  const [cmd, ...rest] = [...AS_NOBODY, process.execPath, bin, ...args];
  const r = spawnSync(cmd as string, rest, { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('rsync exit 23 on one unreadable file: the others arrive, that file is reported stuck by name and never "ok", and it arrives once readable', async (t) => {
  const who = nobody();
  if (typeof who === 'string') {
    t.skip(who);
    return;
  }
  // root reads everything: the daemon (and so rsync) runs as nobody, which owns the trees
  const src = await makeTempDir('syncward-x23-src-');
  const local = await makeTempDir('syncward-x23-local-');
  const outside = await makeTempDir('syncward-x23-outside-');
  const dir = await makeTempDir('syncward-x23-cfg-');
  const state = tempStateDir();
  for (const d of [src, local, outside, state.dir]) chownSync(d, who.uid, who.gid);
  chmodSync(dir, 0o755);
  const targets: TargetUnderTest[] = [{ name: 'local', url: local, dir: local }];
  const cfg = join(dir, 'syncward.yaml');
  writeFileSync(cfg, configYaml({ stateDir: state.dir, source: src, targets, extra: '    stuck_after: 2' }));
  chmodSync(cfg, 0o644);
  const own = (p: string, content: string, mode = 0o644) => {
    writeFileSync(p, content);
    chownSync(p, who.uid, who.gid);
    chmodSync(p, mode);
  };
  own(join(src, 'before-start'), 'before the start\n');

  const daemon = spawnSyncward(['start', '-c', cfg], {
    wrap: ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--'],
  });
  try {
    await daemon.waitForLine(isWatching, 20_000, 'watching');
    await converged(src, targets, 30_000, 'initial sync');

    // Made unreadable outside the tree and moved in, so there is no moment
    // at which rsync could read it: IN_MOVED_TO is its only event.
    own(join(outside, UNREADABLE), 'secret\n', 0o000);
    for (let i = 0; i < 10; i++) own(join(src, `other-before${i}`), `other ${i}\n`);
    renameSync(join(outside, UNREADABLE), join(src, UNREADABLE));
    for (let i = 0; i < 10; i++) own(join(src, `other-after${i}`), `other ${i}\n`);

    // the other files arrive
    await waitFor(
      () =>
        Array.from({ length: 10 }, (_, i) => i).every(
          (i) => existsSync(join(local, `other-before${i}`)) && existsSync(join(local, `other-after${i}`)),
        ),
      30_000,
      'the readable files to arrive',
    );
    // the unreadable one is named as stuck
    const stuck = await daemon.waitForLine(
      (l) => (l.kind === 'stuck' || /\bstuck\b/i.test(msg(l))) && text(l).includes(UNREADABLE),
      60_000,
      `a "stuck" log line or alert naming ${UNREADABLE}`,
    );
    console.log(`stuck report: ${text(stuck)}`);
    assert.ok(Number(stuck.level ?? 40) >= 40, `a stuck path is a warning or worse: ${text(stuck)}`);
    assert.ok(!existsSync(join(local, UNREADABLE)), 'the unreadable file was not sent');
    const partial = daemon.lines.filter(
      (l) => l.result === 'partial' || l.code === 23 || /rsync exit 23/.test(msg(l)),
    );
    assert.ok(partial.length > 0, 'a transfer is reported as partial (rsync exit 23)');
    const claimsOk = daemon.lines.filter(
      (l) => (l.result === 'ok' || l.result === 'vanished') && text(l).includes(UNREADABLE),
    );
    assert.deepEqual(claimsOk, [], 'no transfer that carried the unreadable file is reported ok');

    // readable again: the next change to it sends it
    chmodSync(join(src, UNREADABLE), 0o644);
    const now = new Date();
    utimesSync(join(src, UNREADABLE), now, now);
    await waitFor(
      () =>
        existsSync(join(local, UNREADABLE)) && readFileSync(join(local, UNREADABLE), 'utf8') === 'secret\n',
      60_000,
      'the file to arrive once readable',
    );
    await converged(src, targets, 30_000, 'the target matches the source');
    await daemon.stop();
    assert.equal((await daemon.exited).code, 0, daemon.stderr());
  } finally {
    await daemon.stop();
    for (const d of [src, local, outside, dir]) rmSync(d, { recursive: true, force: true });
    state.dispose();
  }
});

test('a stuck path is drift: audit exits 1 naming it, status lists it, and the target does not flap into lagging', async (t) => {
  const who = nobody();
  if (typeof who === 'string') {
    t.skip(who);
    return;
  }
  const src = await makeTempDir('syncward-x23b-src-');
  const local = await makeTempDir('syncward-x23b-local-');
  const outside = await makeTempDir('syncward-x23b-outside-');
  const dir = await makeTempDir('syncward-x23b-cfg-');
  const state = tempStateDir();
  for (const d of [src, local, outside, state.dir]) chownSync(d, who.uid, who.gid);
  chmodSync(dir, 0o755);
  const targets: TargetUnderTest[] = [{ name: 'local', url: local, dir: local }];
  const cfg = join(dir, 'syncward.yaml');
  // lag_threshold_s 1: a stuck path counted as lag would turn the target lagging within seconds
  writeFileSync(
    cfg,
    configYaml({
      stateDir: state.dir,
      source: src,
      targets,
      extra: '    stuck_after: 2\n    lag_threshold_s: 1',
    }),
  );
  chmodSync(cfg, 0o644);
  const daemon = spawnSyncward(['start', '-c', cfg], {
    wrap: ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--'],
  });
  try {
    await daemon.waitForLine(isWatching, 20_000, 'watching');
    await daemon.waitForLine((l) => /full sync .* done/.test(msg(l)), 30_000, 'the startup full sync');
    writeFileSync(join(outside, UNREADABLE), 'secret\n');
    chownSync(join(outside, UNREADABLE), who.uid, who.gid);
    chmodSync(join(outside, UNREADABLE), 0o000);
    renameSync(join(outside, UNREADABLE), join(src, UNREADABLE));
    await daemon.waitForLine(
      (l) => l.alert === 'stuck' && text(l).includes(UNREADABLE),
      60_000,
      `ALERT stuck naming ${UNREADABLE}`,
    );

    // a full sync leaves the stuck path out, is done, and retries it once after
    const api = apiUrlOf(state.dir);
    const from = daemon.lines.length;
    const askedAt = Date.now();
    const r = await fetch(`${api}/api/sources/src/sync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.ok(r.status < 300, `full sync requested: ${r.status} ${await r.text()}`);
    await daemon.waitForLine(
      (l) => /full sync .* done/.test(msg(l)),
      30_000,
      'the requested full sync',
      from,
    );
    await daemon.waitForLine(
      (l) => /path\(s\) failed/.test(msg(l)) && text(l).includes(UNREADABLE),
      30_000,
      'the stuck path retried after the full sync',
      from,
    );

    // status names it (exit 1: a warning), across several lag checks (every 2 s)
    const st0 = asNobody(['status', '-c', cfg, '--json']);
    assert.ok(st0.out.startsWith('{'), `status --json: ${st0.out}${st0.err}`);
    const first = JSON.parse(st0.out) as { now: number };
    let st: { code: number | null; out: string } = { code: null, out: '' };
    await waitFor(
      () => {
        st = asNobody(['status', '-c', cfg, '--json']);
        return (JSON.parse(st.out) as { now: number }).now > first.now + 5000;
      },
      30_000,
      'status 5 s later',
    );
    const target = (
      JSON.parse(st.out) as {
        sources: {
          targets: { state: string; stuck: number; stuckPaths: string[]; lastFullSyncAt: number }[];
        }[];
      }
    ).sources[0]?.targets[0];
    assert.equal(st.code, 1, `status warns: ${st.out}`);
    assert.deepEqual(target?.stuckPaths, [UNREADABLE]);
    assert.equal(target?.state, 'idle', 'a stuck path is not lag');
    // what resolves an overflow alert: a full sync that left only the stuck path out counts as done
    assert.ok((target?.lastFullSyncAt ?? 0) >= askedAt, 'the full sync counts as done');
    const flaps = daemon.lines.filter((l) => l.state === 'lagging');
    assert.deepEqual(flaps.map(text), [], 'the target never went lagging');
    const text1 = asNobody(['status', '-c', cfg]);
    assert.match(
      text1.out,
      new RegExp(`1 stuck path\\(s\\) that fail every transfer \\(${UNREADABLE.replace('.', '\\.')}\\)`),
    );

    // audit: drift, by name, exit 1 (not "pending ... on their way", not "in sync")
    const audit = asNobody(['audit', '-c', cfg]);
    assert.equal(audit.code, 1, `audit exit: ${audit.out}${audit.err}`);
    assert.match(audit.out, /^STUCK /m);
    assert.match(audit.out, new RegExp(`stuck +${UNREADABLE.replace('.', '\\.')}`));
    assert.doesNotMatch(audit.out, /in sync \(/);
    assert.doesNotMatch(audit.out, /on their way/);
    const json = JSON.parse(asNobody(['audit', '-c', cfg, '--json']).out) as {
      results: { inSync: boolean; stuck: string[] }[];
    };
    assert.deepEqual(json.results[0]?.stuck, [UNREADABLE]);
    assert.equal(json.results[0]?.inSync, false);
    await daemon.stop();
  } finally {
    await daemon.stop();
    for (const d of [src, local, outside, dir]) rmSync(d, { recursive: true, force: true });
    state.dispose();
  }
});
