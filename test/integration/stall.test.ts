import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTcpProxy } from '../../bench/lib/tcp-proxy.js';
import type { TransferReport } from '../../src/dispatch/index.js';
import {
  buildFullSyncCall,
  parseTargetUrl,
  RsyncTransport,
  runRsync,
  type TargetSpec,
} from '../../src/transport/index.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { compareTrees, makeTempDir, waitFor } from '../helpers/tree.js';

/**
 * rsync runs without --timeout (it costs ~45 ms a call against a daemon
 * without TCP_NODELAY): syncward itself ends a call whose rsync stopped
 * making progress. The daemons here are stock (no socket options), reached
 * through a proxy that can stop forwarding, as a frozen host or a network
 * silently dropping packets would.
 */

const isRoot = process.getuid?.() === 0;
const MiB = 1024 * 1024;

function daemonTarget(url: string, passwordFile: string, timeoutS: number): TargetSpec {
  return {
    name: 't',
    url: parseTargetUrl(url),
    passwordFile,
    sshOptions: [],
    rsyncArgs: [],
    timeoutS,
    contimeoutS: timeoutS,
  };
}

test('a daemon that stops answering mid-transfer ends the call as transient within a few timeouts, and the next call delivers once it answers again', async () => {
  const rsyncd = await startRsyncDaemon({ modules: ['m'], nodelay: false });
  const proxy = await startTcpProxy(rsyncd.port);
  const src = await makeTempDir('syncward-stall-src-');
  try {
    // more than the 4 MiB let through plus what the kernel buffers hold once frozen
    writeFileSync(join(src, 'big'), randomBytes(40 * MiB));
    const target = daemonTarget(`rsync://${rsyncd.user}@127.0.0.1:${proxy.port}/m`, rsyncd.passwordFile, 2);
    const transport = new RsyncTransport({
      source: { root: src, filterArgs: [], delete: true },
      target,
      isRoot,
    });
    // the greeting, the login and the file list pass; the file's data stops
    proxy.freezeAfter(4 * MiB);
    const started = Date.now();
    const r = await transport.sendAll();
    const tookMs = Date.now() - started;
    assert.ok(proxy.frozen, 'the transfer was under way when the peer stopped answering');
    assert.equal(r.class, 'transient', `${r.message}\n${r.detail}`);
    assert.match(r.message, /made no progress for 2 s/);
    assert.match(r.message, /check that the target host/);
    assert.ok(tookMs >= 2000 && tookMs < 3 * 2000 + 2000, `the stalled call ended after ${tookMs} ms`);

    proxy.thaw();
    const again = await transport.sendAll();
    assert.equal(again.class, 'ok', `${again.message}\n${again.detail}`);
    assert.deepEqual(await compareTrees(src, rsyncd.modulePath('m'), { owner: isRoot }), []);
  } finally {
    await proxy.close();
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
  }
});

test('a slow but steady transfer is not a stall', async () => {
  const rsyncd = await startRsyncDaemon({ modules: ['m'], nodelay: false });
  const src = await makeTempDir('syncward-stall-slow-src-');
  try {
    writeFileSync(join(src, 'slow'), randomBytes(600 * 1024));
    // --bwlimit keeps rsync sleeping between writes: about 3 s for the file, against a 1 s window
    const target = { ...daemonTarget(rsyncd.url('m'), rsyncd.passwordFile, 1), rsyncArgs: ['--bwlimit=200'] };
    const call = buildFullSyncCall({ root: src, filterArgs: [], delete: true }, target, { isRoot });
    const r = await runRsync(call, { timeoutMs: 60_000, stallS: 1 });
    assert.equal(r.exit.class, 'ok', `${r.exit.message}\n${r.stderrTail}`);
    assert.ok(r.durationMs > 2000, `it was slow (${r.durationMs} ms)`);
    assert.deepEqual(await compareTrees(src, rsyncd.modulePath('m'), { owner: isRoot }), []);
  } finally {
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
  }
});

test('the worker retries a target whose daemon stopped answering, and delivers once it answers again', async () => {
  const rsyncd = await startRsyncDaemon({ modules: ['w'], nodelay: false });
  const proxy = await startTcpProxy(rsyncd.port);
  const src = await makeTempDir('syncward-stall-worker-src-');
  const state = tempStateDir();
  const target: TargetUnderTest = {
    name: 'daemon',
    url: `rsync://${rsyncd.user}@127.0.0.1:${proxy.port}/w`,
    dir: rsyncd.modulePath('w'),
    passwordFile: rsyncd.passwordFile,
    owner: isRoot,
    timeoutS: 2,
  };
  writeFileSync(join(src, 'before'), 'before\n');
  const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets: [target] }));
  const transfers: TransferReport[] = [];
  d.daemon.on('transfer', (r: TransferReport) => transfers.push(r));
  try {
    await converged(src, [target], 30_000, 'initial sync');
    // the startup full sync ran to its end (its last exchange too, after the file arrived)
    await waitFor(() => transfers.some((t) => t.result === 'ok'), 30_000, 'the startup sync to end');
    transfers.length = 0;
    // every connection from now on, the next one included, gets no answer: not even the greeting
    proxy.freeze();
    const frozenAt = Date.now();
    writeFileSync(join(src, 'while-frozen'), 'while frozen\n');
    const stalled = () =>
      transfers.find((t) => t.result === 'transient' && /made no progress for 2 s/.test(t.message ?? ''));
    await waitFor(() => stalled() !== undefined, 20_000, 'a transfer ended as stalled');
    const stalledAfterMs = Date.now() - frozenAt;
    assert.ok(stalledAfterMs < 4 * 2000 + 2000, `the stall was noticed after ${stalledAfterMs} ms`);

    proxy.thaw();
    const thawedAt = transfers.length;
    await converged(src, [target], 30_000, 'delivered once the daemon answers again');
    await waitFor(
      () => transfers.slice(thawedAt).some((t) => t.result === 'ok'),
      10_000,
      'a transfer to succeed after the daemon answers again',
    );
    assert.ok(
      transfers.slice(0, thawedAt).every((t) => t.result === 'transient'),
      'nothing succeeded while the daemon did not answer',
    );
  } finally {
    await d.dispose();
    await proxy.close();
    await rsyncd.dispose();
    state.dispose();
    rmSync(src, { recursive: true, force: true });
  }
});
