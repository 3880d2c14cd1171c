import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { apiUrlOf } from '../helpers/api.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { type Family, parsePrometheus, value, values } from '../helpers/prometheus.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test('/metrics parses as Prometheus text and carries the right values after writes, a delivery and an audit', async () => {
  const started = Date.now();
  const rsyncd = await startRsyncDaemon({ modules: ['www'] });
  const src = await makeTempDir('syncward-metrics-src-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [
    { name: 'web', url: rsyncd.url('www'), dir: rsyncd.modulePath('www'), passwordFile: rsyncd.passwordFile },
  ];
  // one canary, written at start (the next would come after 600 s); never into an empty source
  writeFileSync(join(src, 'seed.txt'), 'seed\n');
  const extra = '    canary: { interval_s: 600, timeout_s: 60 }';
  const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets, extra }));
  try {
    const url = apiUrlOf(state.dir);
    const status = () => d.daemon.status()[0];
    await waitFor(() => status()?.targets[0]?.state === 'idle', 20_000, 'the initial sync');
    await waitFor(() => status()?.targets[0]?.canary?.lagMs != null, 30_000, 'the canary read back');
    const baseline = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
    const events = (f: Family[], kind: string) =>
      sum(values(f, 'syncward_events_total', { source: 'src', kind }));
    // directories first, so that each file's write is seen as one IN_CLOSE_WRITE
    mkdirSync(join(src, 'a'));
    mkdirSync(join(src, 'b'));
    await waitFor(() => status()?.watchedDirs === 3, 10_000, 'both new directories watched');
    const N = 20;
    let size = 0;
    for (let i = 0; i < N; i++) {
      const body = `file ${i} `.repeat(100 + i);
      size += body.length;
      writeFileSync(join(src, i % 2 ? 'a' : 'b', `f${i}.txt`), body);
    }
    await converged(src, targets);
    await waitFor(
      () => status()?.targets[0]?.state === 'idle' && status()?.targets[0]?.pending === 0,
      20_000,
      'the target idle with nothing pending',
    );

    let res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    let m = parsePrometheus(text);
    const st = { source: 'src', target: 'web' };

    assert.equal(events(m, 'upsert') - events(baseline, 'upsert'), N);
    assert.equal(events(m, 'upsertTree') - events(baseline, 'upsertTree'), 2);
    assert.equal(
      value(m, 'syncward_canary_lag_seconds', st),
      (status()?.targets[0]?.canary?.lagMs as number) / 1000,
      'the canary lag is the one status shows',
    );
    assert.equal(value(m, 'syncward_overflows_total', { source: 'src' }), 0);
    assert.equal(value(m, 'syncward_watched_directories', { source: 'src' }), 3);
    assert.equal(value(m, 'syncward_unwatched_directories', { source: 'src' }), 0, 'none waits for a retry');
    assert.equal(
      value(m, 'syncward_max_user_watches'),
      Number(readFileSync('/proc/sys/fs/inotify/max_user_watches', 'utf8')),
    );
    assert.equal(value(m, 'syncward_pending_changes', st), 0);
    assert.equal(value(m, 'syncward_oldest_pending_age_seconds', st), 0);
    assert.equal(value(m, 'syncward_stuck_paths', st), 0);

    const ok = sum(values(m, 'syncward_transfers_total', { ...st, result: 'ok' }));
    const all = sum(values(m, 'syncward_transfers_total', st));
    assert.ok(ok >= 2, `the initial full sync and at least one batch: ${ok}`);
    assert.equal(all, ok, 'every transfer succeeded');
    assert.equal(value(m, 'syncward_transfers_total', { ...st, kind: 'full', result: 'ok' }), 1);
    // the parser folds a labelled histogram into one bucket map (it keeps no _count per label
    // set), so the per-target count is read from its sample lines
    assert.equal(m.find((f) => f.name === 'syncward_transfer_duration_seconds')?.type, 'HISTOGRAM');
    const counts = [...text.matchAll(/^syncward_transfer_duration_seconds_count\{([^}]*)\} (\S+)$/gm)]
      .filter(([, labels]) => /source="src"/.test(labels as string) && /target="web"/.test(labels as string))
      .map(([, , v]) => Number(v));
    assert.equal(sum(counts), all, 'the duration histogram counts every transfer');
    assert.ok(value(m, 'syncward_files_sent_total', st) >= N, 'files sent');
    assert.ok(value(m, 'syncward_bytes_sent_total', st) >= size, 'bytes sent cover the contents');

    const states = m.find((f) => f.name === 'syncward_target_state')?.metrics ?? [];
    assert.deepEqual(Object.fromEntries(states.map((s) => [s.labels?.state, Number(s.value)])), {
      starting: 0,
      syncing: 0,
      idle: 1,
      lagging: 0,
      down: 0,
      misconfigured: 0,
      held: 0,
      paused: 0,
    });
    const full = value(m, 'syncward_last_full_sync_timestamp_seconds', st);
    assert.ok(full * 1000 >= started - 1000 && full * 1000 <= Date.now(), `last full sync ${full}`);
    assert.equal(values(m, 'syncward_last_audit_timestamp_seconds', st).length, 0, 'no audit yet');

    // drift planted on the target: one file added, one removed
    writeFileSync(join(targets[0]?.dir as string, 'planted.txt'), 'planted\n');
    rmSync(join(targets[0]?.dir as string, 'a', 'f1.txt'));
    await d.daemon.audit('src');
    res = await fetch(`${url}/metrics`);
    m = parsePrometheus(await res.text());
    assert.equal(value(m, 'syncward_audit_drift_entries', { ...st, kind: 'extra' }), 1);
    assert.equal(value(m, 'syncward_audit_drift_entries', { ...st, kind: 'missing' }), 1);
    assert.equal(value(m, 'syncward_audit_drift_entries', { ...st, kind: 'content' }), 0);
    assert.equal(value(m, 'syncward_audit_drift_entries', { ...st, kind: 'metadata' }), 0);
    const audited = value(m, 'syncward_last_audit_timestamp_seconds', st);
    assert.ok(audited * 1000 >= started && audited * 1000 <= Date.now(), `last audit ${audited}`);
  } finally {
    await d.dispose();
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    state.dispose();
  }
});
