import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AlertReceiver, alertReceiver, received, webhooksYaml } from '../helpers/alerts.js';
import { isWatching, sighup, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { canChangeQueue, withSmallQueue } from '../helpers/queue.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { rsyncdTarget } from '../helpers/targets.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** A source and a local target in temp dirs, removed by dispose(). */
async function trees(prefix: string) {
  const src = await makeTempDir(`syncward-${prefix}-src-`);
  const local = await makeTempDir(`syncward-${prefix}-dst-`);
  const state = tempStateDir();
  const target: TargetUnderTest = { name: 'local', url: local, dir: local };
  return {
    src,
    local,
    state,
    target,
    dispose() {
      for (const p of [`${src}-away`, src, local]) rmSync(p, { recursive: true, force: true });
      state.dispose();
    },
  };
}

/** The firing and then the resolving message of one incident, as the webhook got them. */
async function firesThenResolves(hook: AlertReceiver, id: string, resolve: () => Promise<void>) {
  const firing = await received(hook, id, 'firing');
  await resolve();
  const resolved = await received(hook, id, 'resolved', 60_000);
  assert.equal(resolved.incident.firedAt, firing.incident.firedAt, `${id}: the incident that fired resolved`);
  const mine = hook.accepted().filter((m) => m.incident.id === id);
  assert.deepEqual(
    mine.map((m) => m.event),
    ['firing', 'resolved'],
    `${id}: fired once, resolved once`,
  );
  return { firing, resolved };
}

// Each alert kind below is seen where an operator sees it: a real HTTP webhook on loopback,
// firing once and resolving once when its cause is gone ('down' is in alerts.test.ts).
describe('every alert kind fires and resolves through a real webhook', () => {
  let hook: AlertReceiver;
  before(async () => {
    hook = await alertReceiver();
  });
  after(async () => {
    await hook?.close();
  });

  test('drift: an audit that finds a planted file fires it; the audit after a repairing full sync resolves it', async () => {
    const t = await trees('kind-drift');
    writeFileSync(join(t.src, 'a'), 'a\n');
    const d = await startDaemon(
      configYaml({ stateDir: t.state.dir, source: t.src, targets: [t.target] }) + webhooksYaml([hook.url]),
    );
    try {
      await converged(t.src, [t.target], 30_000, 'mirrored');
      // with the startup full sync still owed, a difference counts as pending, not drift
      await waitFor(() => d.daemon.isIdle(), 30_000, 'the startup full sync finished');
      writeFileSync(join(t.local, 'planted'), 'edited by hand on the target\n');
      await d.daemon.audit('src');
      const { firing } = await firesThenResolves(hook, 'drift:src/local', async () => {
        // the repair: a full sync deletes the planted file and restores the directory's mtime
        const fulls: unknown[] = [];
        d.daemon.on('transfer', (r: { kind: string; result: string }) => {
          if (r.kind === 'full' && r.result === 'ok') fulls.push(r);
        });
        assert.equal(d.daemon.fullSync('src', 'repair'), true);
        await waitFor(() => fulls.length > 0 && d.daemon.isIdle(), 30_000, 'the repairing full sync');
        const again = await d.daemon.audit('src');
        assert.equal(again?.results[0]?.summary.ok, true, JSON.stringify(again?.results[0]?.summary));
      });
      assert.match(firing.incident.message, /1 extra/);
    } finally {
      await d.dispose();
      t.dispose();
    }
  });

  test('held: more deletes than max_delete fire it; resume resolves it', async () => {
    const t = await trees('kind-held');
    writeFileSync(join(t.src, 'keep'), 'keep\n');
    for (let i = 0; i < 5; i++) writeFileSync(join(t.src, `f${i}`), `${i}\n`);
    const d = await startDaemon(
      configYaml({ stateDir: t.state.dir, source: t.src, targets: [t.target], extra: '    max_delete: 2' }) +
        webhooksYaml([hook.url]),
    );
    try {
      await converged(t.src, [t.target], 30_000, 'mirrored');
      for (let i = 0; i < 5; i++) rmSync(join(t.src, `f${i}`));
      const { firing } = await firesThenResolves(hook, 'held:src/local', async () => {
        assert.equal(d.daemon.resume('local'), 1);
      });
      assert.match(firing.incident.message, /max_delete 2/);
      await converged(t.src, [t.target], 30_000, 'the deletes went through after resume');
    } finally {
      await d.dispose();
      t.dispose();
    }
  });

  test('rootGone: a source root moved away fires it (and holds the target); restored and reloaded with SIGHUP, both resolve', async () => {
    const t = await trees('kind-root');
    const dir = await makeTempDir('syncward-kind-root-cfg-');
    const cfg = join(dir, 'syncward.yaml');
    writeFileSync(
      cfg,
      configYaml({ stateDir: t.state.dir, source: t.src, targets: [t.target] }) + webhooksYaml([hook.url]),
    );
    writeFileSync(join(t.src, 'a'), 'a\n');
    const daemon = spawnSyncward(['start', '-c', cfg]);
    try {
      await daemon.waitForLine(isWatching, 20_000, 'watching');
      await converged(t.src, [t.target], 30_000, 'mirrored');
      renameSync(t.src, `${t.src}-away`);
      await received(hook, 'held:src/local', 'firing');
      await firesThenResolves(hook, 'rootGone:src', async () => {
        renameSync(`${t.src}-away`, t.src);
        await sighup(daemon, 'with the root restored');
      });
      await received(hook, 'held:src/local', 'resolved');
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
      t.dispose();
    }
  });

  test('stuck: a directory the target keeps refusing fires it; the full sync after the target was fixed resolves it', async (ctx) => {
    const t = await trees('kind-stuck');
    mkdirSync(join(t.src, 'sub'));
    const d = await startDaemon(
      configYaml({ stateDir: t.state.dir, source: t.src, targets: [t.target], extra: '    stuck_after: 2' }) +
        webhooksYaml([hook.url]),
    );
    const sub = join(t.local, 'sub');
    try {
      await converged(t.src, [t.target], 30_000, 'mirrored');
      await waitFor(() => d.daemon.isIdle(), 30_000, 'the startup full sync finished');
      // immutable: even root's rsync cannot create a file in it (mkstemp: Operation not permitted, exit 23)
      if (spawnSync('chattr', ['+i', sub]).status !== 0) {
        ctx.skip('chattr +i is not available here (needs root and ext4 or similar)');
        return;
      }
      writeFileSync(join(t.src, 'sub', 'f'), 'refused by the target\n');
      const { firing } = await firesThenResolves(hook, 'stuck:src/local', async () => {
        spawnSync('chattr', ['-i', sub]);
        // stuck paths are retried when they change and at the next full sync (sub itself does not change)
        assert.equal(d.daemon.fullSync('src', 'the target was fixed'), true);
      });
      assert.match(firing.incident.message, /stuck/);
      await converged(t.src, [t.target], 30_000, 'the file arrives once the target takes it');
    } finally {
      spawnSync('chattr', ['-i', sub]);
      await d.dispose();
      t.dispose();
    }
  });

  test('noSpace: a target filesystem too small fires it; the next transfer that fits resolves it', async (ctx) => {
    const t = await trees('kind-nospace');
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', t.local]).status !== 0) {
      t.dispose();
      ctx.skip('cannot mount a tmpfs here (needs root)');
      return;
    }
    writeFileSync(join(t.src, 'a'), 'a\n');
    const d = await startDaemon(
      configYaml({ stateDir: t.state.dir, source: t.src, targets: [t.target] }) + webhooksYaml([hook.url]),
    );
    try {
      await converged(t.src, [t.target], 30_000, 'mirrored');
      writeFileSync(join(t.src, 'big'), randomBytes(3 * 1024 * 1024));
      const { firing } = await firesThenResolves(hook, 'noSpace:src/local', async () => {
        rmSync(join(t.src, 'big'));
        writeFileSync(join(t.src, 'small'), 'fits\n');
      });
      assert.match(firing.incident.message, /out of disk space/);
      await converged(t.src, [t.target], 30_000, 'caught up once it fits');
    } finally {
      await d.dispose();
      spawnSync('umount', ['-l', t.local]);
      t.dispose();
    }
  });

  test('overflow: a kernel queue overflow fires it; the catch-up full sync resolves it', async (ctx) => {
    if (!canChangeQueue()) {
      ctx.skip('cannot change fs.inotify.max_queued_events (needs root and flock)');
      return;
    }
    const rsyncd = await startRsyncDaemon({ modules: ['m'] });
    const t = await trees('kind-overflow');
    const target = rsyncdTarget(rsyncd);
    const d = await withSmallQueue(16, () =>
      startDaemon(
        configYaml({ stateDir: t.state.dir, source: t.src, targets: [target] }) + webhooksYaml([hook.url]),
      ),
    );
    try {
      await converged(t.src, [target], 30_000, 'started');
      // the target is down: the catch-up cannot finish before the monitor sees the overflow
      await rsyncd.stop();
      for (let i = 0; i < 60; i++) mkdirSync(join(t.src, `n${i}`, 'inner'), { recursive: true });
      await firesThenResolves(hook, 'overflow:src', () => rsyncd.restart());
      await converged(t.src, [target], 30_000, 'caught up');
    } finally {
      await d.dispose();
      await rsyncd.dispose();
      t.dispose();
    }
  });

  test('uncleanRestart: a restart after kill -9 fires it; the catch-up full sync of every target resolves it', async () => {
    const rsyncd = await startRsyncDaemon({ modules: ['m'] });
    const t = await trees('kind-unclean');
    const targets = [t.target, rsyncdTarget(rsyncd)];
    const dir = await makeTempDir('syncward-kind-unclean-cfg-');
    const yaml = configYaml({ stateDir: t.state.dir, source: t.src, targets });
    writeFileSync(join(dir, 'syncward.yaml'), yaml);
    writeFileSync(join(t.src, 'a'), 'a\n');
    const first = spawnSyncward(['start', '-c', join(dir, 'syncward.yaml')]);
    let d: Awaited<ReturnType<typeof startDaemon>> | null = null;
    try {
      await first.waitForLine(isWatching, 20_000, 'the first run watching');
      first.child.kill('SIGKILL');
      await first.exited;
      // one target down: the catch-up cannot finish before the monitor sees the unclean restart
      await rsyncd.stop();
      d = await startDaemon(yaml + webhooksYaml([hook.url]));
      const { firing } = await firesThenResolves(hook, 'uncleanRestart:*', () => rsyncd.restart());
      assert.match(firing.incident.message, /unclean stop/);
      await converged(t.src, targets, 30_000, 'both targets caught up');
    } finally {
      await first.stop();
      await d?.dispose();
      await rsyncd.dispose();
      rmSync(dir, { recursive: true, force: true });
      t.dispose();
    }
  });
});
