import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const NO_SPACE = /No space left|disk full/i;

/** mount(8) a tmpfs of `size` on `dir`; the error text when that is not allowed here */
function mountTmpfs(dir: string, size: string): string | null {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr || r.error?.message || `mount exited ${r.status}`).trim();
}

function unmount(dir: string): void {
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
}

test('a target whose module disk is full: the error is named, the other target keeps syncing, and it converges once space is freed', async (t) => {
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-full-src-');
  const local = await makeTempDir('syncward-full-local-');
  const state = tempStateDir();
  const moduleDir = rsyncd.modulePath('m');
  // the module's directory becomes a 2 MB filesystem: rsyncd chroots into it per connection
  const why = mountTmpfs(moduleDir, '2m');
  if (why !== null) {
    await rsyncd.dispose();
    for (const d of [src, local]) rmSync(d, { recursive: true, force: true });
    state.dispose();
    t.skip(`cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): ${why}`);
    return;
  }
  const daemonTarget: TargetUnderTest = {
    name: 'daemon',
    url: rsyncd.url('m'),
    dir: moduleDir,
    passwordFile: rsyncd.passwordFile,
    owner: true,
  };
  const localTarget: TargetUnderTest = { name: 'local', url: local, dir: local, owner: true };
  const targets = [daemonTarget, localTarget];
  let d: Awaited<ReturnType<typeof startDaemon>> | null = null;
  try {
    for (let i = 0; i < 5; i++) writeFileSync(join(src, `small${i}`), `small ${i}\n`);
    d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
    const daemon = d.daemon;
    const results: string[] = [];
    const alerts: { kind: string; target?: string; message: string }[] = [];
    daemon.on('transfer', (r: { target: string; result: string }) => {
      if (r.target === 'daemon') results.push(r.result);
    });
    daemon.on('alert', (a: { kind: string; target?: string; message: string }) => alerts.push(a));
    const daemonStatus = () => daemon.status()[0]?.targets.find((x) => x.target === 'daemon');
    await converged(src, targets, 30_000, 'initial sync');

    // 4 MB of incompressible data cannot fit on 2 MB
    writeFileSync(join(src, 'big'), randomBytes(4 * 1024 * 1024));
    for (let i = 0; i < 20; i++) writeFileSync(join(src, `after-big${i}`), `after ${i}\n`);
    await converged(src, [localTarget], 30_000, 'the local target gets everything, the big file too');
    await waitFor(
      () => {
        const s = daemonStatus();
        return s?.state === 'down' && NO_SPACE.test(s.lastError ?? '');
      },
      60_000,
      'the daemon target down with "No space left" as its error',
    );
    const down = daemonStatus();
    console.log(`daemon target: ${down?.state}: ${down?.lastError}`);
    assert.ok(results.includes('noSpace'), `a transfer is classed noSpace (got ${results.join(', ')})`);
    assert.ok(
      alerts.some((a) => a.kind === 'noSpace' && a.target === 'daemon' && NO_SPACE.test(a.message)),
      `a noSpace alert names the full target (alerts: ${JSON.stringify(alerts)})`,
    );
    // still down, still not claiming to be in sync, while the local target keeps up in real time
    writeFileSync(join(src, 'while-full'), 'while the target is full\n');
    await converged(src, [localTarget], 30_000, 'the local target keeps syncing while the other is full');
    assert.notEqual(daemonStatus()?.state, 'idle');

    // space is freed on the source side: the big file goes, a small one arrives
    unlinkSync(join(src, 'big'));
    writeFileSync(join(src, 'small-after-free'), 'fits\n');
    await converged(src, targets, 120_000, 'the full target converges once the big file is gone');
    await waitFor(() => daemonStatus()?.state === 'idle', 30_000, 'the daemon target back to idle');
  } finally {
    await d?.dispose();
    unmount(moduleDir);
    await rsyncd.dispose();
    for (const dir of [src, local]) rmSync(dir, { recursive: true, force: true });
    state.dispose();
  }
});
