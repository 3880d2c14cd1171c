import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Daemon } from '../../src/daemon/index.js';
import { bin } from '../helpers/cli-daemon.js';
import { configYaml, converged, startDaemon } from '../helpers/daemon.js';
import { rsyncdAndLocalTargets } from '../helpers/targets.js';
import { waitFor } from '../helpers/tree.js';

const BURST = 3000;

interface Entry {
  kind: string;
  path: string;
}
interface Report {
  results: {
    target: string;
    ok: boolean;
    inSync: boolean;
    entries: Entry[];
    pending: Entry[];
    pendingCount: number;
    error?: string;
  }[];
}

function syncward(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000, maxBuffer: 64 << 20 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out, err });
    });
  });
}

async function cliAudit(config: string): Promise<{ code: number | null; report: Report }> {
  const r = await syncward(['audit', '-c', config, '--json']);
  assert.ok(r.out.startsWith('{'), `no JSON on stdout (exit ${r.code}): ${r.err}`);
  return { code: r.code, report: JSON.parse(r.out) as Report };
}

/** A burst of BURST files in 30 new directories, written with the event loop free between files. */
async function burst(src: string): Promise<void> {
  for (let i = 0; i < BURST; i++) {
    const dir = join(src, 'burst', `d${i % 30}`);
    if (i < 30) await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `f${i}.txt`), `burst file ${i}\n`);
  }
}

function driftPaths(entries: Entry[]): string[] {
  return entries.map((e) => `${e.kind} ${e.path}`).sort();
}

function held(daemon: Daemon, name: string): boolean {
  return daemon.status()[0]?.targets.find((t) => t.target === name)?.state === 'held';
}

test('an audit during a burst reports pending paths as pending, not drift (CLI beside the daemon, daemon audit, CLI after it stopped)', async () => {
  const env = await rsyncdAndLocalTargets('syncward-auditp');
  const { src, local, state, rsyncd, targets } = env;
  let stopDaemon: (() => Promise<void>) | null = null;
  try {
    writeFileSync(join(src, 'keep.txt'), 'keep\n');
    mkdirSync(join(src, 'old'));
    for (let i = 0; i < 10; i++) writeFileSync(join(src, 'old', `o${i}`), `old ${i}\n`);
    const yaml = configYaml({ stateDir: state.dir, source: src, targets, extra: '    max_delete: 5' });
    const config = join(state.dir, 'syncward.yaml');
    writeFileSync(config, yaml);
    const d = await startDaemon(yaml);
    stopDaemon = d.dispose;
    const daemon = d.daemon;
    await converged(src, targets);

    // The targets stop taking changes: 11 deletes against max_delete 5 hold them.
    // Everything after this stays pending in the journal.
    rmSync(join(src, 'old'), { recursive: true });
    await waitFor(() => held(daemon, 'daemon') && held(daemon, 'local'), 30_000, 'both targets held');
    // real drift beside the pending work: a file made by hand on each target
    for (const t of targets) writeFileSync(join(t.dir, 'hand-made.txt'), 'not from the source\n');

    // audits while the burst is being written
    const during = burst(src);
    const [cliDuring, daemonDuring] = await Promise.all([cliAudit(config), daemon.audit('src')]);
    await during;
    for (const r of cliDuring.report.results) {
      assert.equal(r.ok, true, r.error);
      assert.deepEqual(driftPaths(r.entries), ['extra hand-made.txt'], `CLI during the burst, ${r.target}`);
    }
    assert.equal(cliDuring.code, 1, 'the hand-made file is drift');
    assert.ok(daemonDuring);
    for (const r of daemonDuring.results) {
      assert.equal(r.summary.error, null);
      assert.deepEqual(
        driftPaths(r.entries),
        ['extra hand-made.txt'],
        `daemon during the burst, ${r.target}`,
      );
      assert.deepEqual(r.summary.drift, { missing: 0, extra: 1, content: 0, metadata: 0 });
    }

    // the burst is over: every file of it is pending on both targets, nothing of it is drift
    const cliAfter = await cliAudit(config);
    assert.equal(cliAfter.code, 1);
    for (const r of cliAfter.report.results) {
      assert.deepEqual(driftPaths(r.entries), ['extra hand-made.txt'], `CLI after the burst, ${r.target}`);
      // the burst files, their directories, and the held deletes of old/
      assert.ok(r.pendingCount >= BURST + 30 + 11, `${r.target}: ${r.pendingCount} pending`);
      const kinds = new Set(r.pending.map((e) => e.kind));
      assert.deepEqual([...kinds].sort(), ['extra', 'missing']);
    }
    const daemonAfter = await daemon.audit('src');
    for (const r of daemonAfter?.results ?? []) {
      assert.deepEqual(r.summary.drift, { missing: 0, extra: 1, content: 0, metadata: 0 });
      assert.ok(r.summary.pending >= BURST + 30 + 11, `${r.target}: ${r.summary.pending} pending`);
      assert.equal(r.summary.ok, false);
      assert.deepEqual(daemon.status()[0]?.targets.find((t) => t.target === r.target)?.lastAudit, r.summary);
    }

    // only pending differences left: in sync, exit 0, and the text report shows them apart
    for (const t of targets) unlinkSync(join(t.dir, 'hand-made.txt'));
    const text = await syncward(['audit', '-c', config]);
    assert.equal(text.code, 0, text.out + text.err);
    assert.match(text.out, /^ok {4}src -> daemon .*in sync/m);
    assert.match(
      text.out,
      /pending: \d+ difference\(s\) on their way, not drift \(still pending in the journal\)/,
    );
    const daemonClean = await daemon.audit('src', { target: 'local' });
    assert.equal(daemonClean?.results.length, 1);
    assert.equal(daemonClean?.results[0]?.summary.ok, true);

    // an audit of a target that cannot be reached records an error, not drift
    await rsyncd.stop();
    const down = await daemon.audit('src', { target: 'daemon' });
    const downSummary = down?.results[0]?.summary;
    assert.ok(downSummary?.error, 'the unreachable target has an error');
    assert.deepEqual(downSummary?.drift, { missing: 0, extra: 0, content: 0, metadata: 0 });
    await rsyncd.restart();

    // the daemon gone, the journal still says what is pending
    await d.dispose();
    stopDaemon = null;
    const offline = await cliAudit(config);
    assert.equal(offline.code, 0, JSON.stringify(offline.report.results.map((r) => r.entries)));
    assert.ok(offline.report.results.every((r) => r.inSync && r.pendingCount >= BURST));
  } finally {
    await stopDaemon?.();
    await env.dispose();
  }
});
