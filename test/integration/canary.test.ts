import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Alert, Daemon } from '../../src/daemon/index.js';
import { type CanaryEvent, parseCanary } from '../../src/probe/index.js';
import { bin } from '../helpers/cli-daemon.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { type Sshd, startSshd } from '../helpers/sshd.js';
import { rsyncdAndLocalTargets, rsyncdTarget } from '../helpers/targets.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const CANARY = '.syncward-canary';

function canaryOf(daemon: Daemon, target: string) {
  const t = daemon.status()[0]?.targets.find((x) => x.target === target);
  assert.ok(t, `status lists ${target}`);
  return t.canary;
}

function syncward(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out, err });
    });
  });
}

/**
 * The watcher dies without a word (what sersync and lsyncd users meet): its
 * inotify fd is closed, the daemon still believes the source is watched, and
 * every rsync that runs still exits 0. Reached through the in-process daemon:
 * there is, rightly, no API to do this.
 */
function killWatcher(daemon: Daemon): void {
  const internal = daemon as unknown as { sources: { watcher: { close(): void } | null }[] };
  const w = internal.sources[0]?.watcher;
  assert.ok(w, 'the source has a watcher');
  w.close();
}

test('the canary measures end-to-end lag to a daemon, an ssh and a local target; a dead watcher raises canaryMissing; a full sync brings it back', async (ctx) => {
  const env = await rsyncdAndLocalTargets('syncward-canary');
  const { src, local, state, rsyncd } = env;
  let sshd: Sshd | null = null;
  let dispose: (() => Promise<void>) | null = null;
  try {
    sshd = await startSshd();
    const sshDir = await sshd.targetDir();
    writeFileSync(join(src, 'keep.txt'), 'keep\n');
    const targets: TargetUnderTest[] = [
      rsyncdTarget(rsyncd),
      {
        name: 'ssh',
        url: sshd.url(sshDir),
        dir: sshDir,
        identityFile: sshd.identityFile,
        sshOptions: sshd.sshOptions,
      },
      { name: 'local', url: local, dir: local },
    ];
    const yaml = configYaml({
      stateDir: state.dir,
      source: src,
      targets,
      extra: '    canary: { interval_s: 1, timeout_s: 4 }',
    });
    const config = join(state.dir, 'syncward.yaml');
    writeFileSync(config, yaml);
    const d = await startDaemon(yaml);
    dispose = d.dispose;
    const daemon = d.daemon;
    const events: CanaryEvent[] = [];
    const alerts: Alert[] = [];
    daemon.on('canary', (e: CanaryEvent) => events.push(e));
    daemon.on('alert', (a: Alert) => alerts.push(a));

    // arrival: the lag is measured per target, from the write to the confirmed read-back
    await waitFor(
      () => targets.every((t) => (canaryOf(daemon, t.name)?.lagMs ?? null) !== null),
      30_000,
      'a canary lag on every target',
    );
    for (const t of targets) {
      const c = canaryOf(daemon, t.name);
      assert.ok(c && c.lastArrivedAt !== null && c.lastWrittenAt !== null);
      assert.equal(c.missingSince, null);
      const e = events.find((x) => x.target === t.name && !x.missing);
      assert.ok(e && typeof e.lagMs === 'number' && e.lagMs >= 0, `a canary event with lagMs for ${t.name}`);
      // it travelled the normal pipeline: the file on the target is a canary we wrote
      assert.ok(parseCanary(readFileSync(join(t.dir, CANARY), 'utf8')), `${t.name} holds a canary file`);
    }
    ctx.diagnostic(
      `canary lag: ${targets.map((x) => `${x.name} ${canaryOf(daemon, x.name)?.lagMs} ms`).join(', ')}`,
    );
    // the canary itself is rewritten every second: under load its newest nonce may always be in flight
    await converged(src, targets, 30_000, 'targets match source (the canary aside)', { ignore: [CANARY] });

    // the canary is left out of audits (it changes every second), daemon and CLI alike
    const audited = await daemon.audit('src');
    for (const r of audited?.results ?? []) {
      assert.equal(r.summary.error, null, `${r.target}: ${r.summary.error}`);
      assert.ok(
        !r.entries.some((e) => e.path === CANARY) && !r.pendingEntries.some((e) => e.path === CANARY),
      );
    }
    rmSync(join(local, CANARY), { force: true });
    // removing it moved the target root's mtime, which audit rightly compares: set it back
    execFileSync('touch', ['-r', src, local]);
    const cli = await syncward(['audit', '-c', config, '--target', 'local', '--json']);
    assert.equal(cli.code, 0, cli.out + cli.err);

    ctx.diagnostic(
      `canary lags so far: ${events
        .filter((e) => !e.missing)
        .map((e) => `${e.target} ${e.lagMs}`)
        .join(', ')}`,
    );
    // kill the watcher: rsync reports nothing wrong, yet nothing arrives any more
    // (a canary later than timeout_s before this, on a loaded machine, was a missing period of its own:
    // what counts is the alerts from here on)
    const mark = alerts.length;
    killWatcher(daemon);
    const since = () => alerts.slice(mark);
    await waitFor(
      () => targets.every((t) => since().some((a) => a.kind === 'canaryMissing' && a.target === t.name)),
      30_000,
      'canaryMissing on every target',
    );
    for (const t of targets) {
      const a = since().filter((x) => x.kind === 'canaryMissing' && x.target === t.name);
      // one alert per missing period: a second only after a canary arrived in between (one in flight at the kill)
      for (let i = 1; i < a.length; i++) {
        const [prev, next] = [(a[i - 1] as Alert).at, (a[i] as Alert).at];
        assert.ok(
          events.some((e) => e.target === t.name && !e.missing && e.at >= prev && e.at <= next),
          `one alert per missing period for ${t.name}: ${a.length} alerts with no arrival between two`,
        );
      }
      assert.match(a[0]?.message ?? '', /watcher or transfer path dead/);
      assert.equal(typeof canaryOf(daemon, t.name)?.missingSince, 'number');
      assert.ok(events.some((e) => e.target === t.name && e.missing));
    }

    // restore the path: a full sync carries the newest canary, and it arrives
    const seenBefore = events.length;
    assert.equal(daemon.fullSync('src', 'test: restore'), true);
    await waitFor(
      () => targets.every((t) => events.slice(seenBefore).some((e) => e.target === t.name && !e.missing)),
      30_000,
      'a canary arriving on every target after the full sync',
    );
    for (const t of targets) {
      const arrived = events.slice(seenBefore).find((e) => e.target === t.name && !e.missing);
      assert.equal(typeof arrived?.lagMs, 'number');
    }
  } finally {
    await dispose?.();
    await sshd?.dispose();
    await env.dispose();
  }
});

test('a source emptied but for its canary still holds its targets: the canary never makes an emptied root look alive', async () => {
  const src = await makeTempDir('syncward-canary-empty-src-');
  const local = await makeTempDir('syncward-canary-empty-dst-');
  const state = tempStateDir();
  let dispose: (() => Promise<void>) | null = null;
  try {
    writeFileSync(join(src, 'keep.txt'), 'keep\n');
    const targets: TargetUnderTest[] = [{ name: 'local', url: local, dir: local }];
    const d = await startDaemon(
      configYaml({
        stateDir: state.dir,
        source: src,
        targets,
        extra: '    canary: { interval_s: 1, timeout_s: 30 }',
      }),
    );
    dispose = d.dispose;
    await waitFor(() => (canaryOf(d.daemon, 'local')?.lagMs ?? null) !== null, 30_000, 'a canary lag');
    // `rm -rf src/*` leaves dotfiles, the canary among them
    rmSync(join(src, 'keep.txt'));
    await waitFor(
      () => d.daemon.status()[0]?.targets[0]?.state === 'held',
      30_000,
      'the target held for an emptied source',
    );
    assert.equal(
      readFileSync(join(local, 'keep.txt'), 'utf8'),
      'keep\n',
      'nothing was deleted on the target',
    );
  } finally {
    await dispose?.();
    rmSync(src, { recursive: true, force: true });
    rmSync(local, { recursive: true, force: true });
    state.dispose();
  }
});

test('a target that loses files behind rsync exit 0 raises canaryMissing for that target only; the other keeps arriving', async () => {
  const env = await rsyncdAndLocalTargets('syncward-canary-lose');
  const { src, local, state, rsyncd, targets } = env;
  let dispose: (() => Promise<void>) | null = null;
  try {
    writeFileSync(join(src, 'keep.txt'), 'keep\n');
    const d = await startDaemon(
      configYaml({
        stateDir: state.dir,
        source: src,
        targets,
        extra: '    canary: { interval_s: 1, timeout_s: 4 }',
      }),
    );
    dispose = d.dispose;
    const daemon = d.daemon;
    const events: CanaryEvent[] = [];
    const alerts: Alert[] = [];
    const transfers: { target: string; result: string }[] = [];
    daemon.on('canary', (e: CanaryEvent) => events.push(e));
    daemon.on('alert', (a: Alert) => alerts.push(a));
    daemon.on('transfer', (r: { target: string; result: string }) => transfers.push(r));
    await waitFor(
      () => targets.every((t) => (canaryOf(daemon, t.name)?.lagMs ?? null) !== null),
      30_000,
      'a canary lag on both targets',
    );

    // Something on the target removes what arrives (a cleanup job, a broken
    // mount): rsync delivers, exits 0, and the file is gone after it. rsyncd
    // runs `pre-xfer exec` before every transfer and waits for it, the canary's
    // read-back included, so the read never finds the file (a `post-xfer exec`
    // would race with the read-back: it runs after the client got its exit 0).
    await rsyncd.setModuleOptions('m', [
      `pre-xfer exec = /bin/rm -f ${join(rsyncd.modulePath('m'), CANARY)}`,
    ]);
    const mark = events.length;
    await waitFor(
      () => alerts.some((a) => a.kind === 'canaryMissing' && a.target === 'daemon'),
      30_000,
      'canaryMissing on the daemon target',
    );
    assert.ok(
      !alerts.some((a) => a.kind === 'canaryMissing' && a.target === 'local'),
      'the local target is not affected',
    );
    assert.ok(
      events.slice(mark).some((e) => e.target === 'local' && !e.missing),
      'canaries kept arriving on the local target meanwhile',
    );
    assert.ok(
      !transfers.some((t) => t.target === 'daemon' && t.result !== 'ok'),
      `every transfer to the daemon target looked fine: ${JSON.stringify(transfers.filter((t) => t.result !== 'ok'))}`,
    );

    // the target behaves again: the next canary arrives and the missing state clears
    await rsyncd.setModuleOptions('m', []);
    await waitFor(
      () => canaryOf(daemon, 'daemon')?.missingSince === null,
      30_000,
      'the daemon target canary arriving again',
    );
  } finally {
    await dispose?.();
    await env.dispose();
  }
});
