import assert from 'node:assert/strict';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Alert, AuditEvent } from '../../src/daemon/index.js';
import { JournalReader } from '../../src/journal/index.js';
import { configYaml, converged, startDaemon } from '../helpers/daemon.js';
import { rsyncdAndLocalTargets } from '../helpers/targets.js';
import { waitFor } from '../helpers/tree.js';

test('a scheduled audit stores its result in the journal and status, alerts on drift, and status keeps it across a restart', async () => {
  const env = await rsyncdAndLocalTargets('syncward-audits');
  const { src, local, state, targets } = env;
  let dispose: (() => Promise<void>) | null = null;
  try {
    writeFileSync(join(src, 'keep.txt'), 'keep\n');
    writeFileSync(join(src, 'mode.txt'), 'mode\n');
    const base = { stateDir: state.dir, source: src, targets };
    // every second (croner's seconds field)
    const d = await startDaemon(configYaml({ ...base, extra: '    audit: "* * * * * *"' }));
    dispose = d.dispose;
    const daemon = d.daemon;
    const audits: AuditEvent[] = [];
    const alerts: Alert[] = [];
    daemon.on('audit', (e: AuditEvent) => audits.push(e));
    daemon.on('alert', (a: Alert) => alerts.push(a));
    await converged(src, targets);
    await waitFor(
      () => targets.every((t) => audits.some((e) => e.target === t.name && e.summary.ok)),
      30_000,
      'a scheduled audit in sync on both targets',
    );
    assert.ok(!alerts.some((a) => a.kind === 'drift'), 'no drift alert while in sync');

    // hand-made drift on the local target only
    writeFileSync(join(local, 'planted.txt'), 'planted\n');
    chmodSync(join(local, 'mode.txt'), 0o600);
    await waitFor(
      () => alerts.some((a) => a.kind === 'drift' && a.target === 'local'),
      30_000,
      'a drift alert for the local target',
    );
    const alert = alerts.find((a) => a.kind === 'drift' && a.target === 'local');
    assert.match(alert?.message ?? '', /1 extra, 1 metadata/);
    assert.ok(alert?.paths?.includes('planted.txt'));
    assert.ok(
      !alerts.some((a) => a.kind === 'drift' && a.target === 'daemon'),
      'the daemon target is in sync',
    );

    const last = daemon.status()[0]?.targets.find((t) => t.target === 'local')?.lastAudit;
    assert.ok(last);
    assert.equal(last.ok, false);
    assert.equal(last.error, null);
    assert.deepEqual(last.drift, { missing: 0, extra: 1, content: 0, metadata: 1 });

    // stored in the journal, with a sample of the entries
    const reader = JournalReader.open(state.dir);
    assert.ok(reader, 'the journal exists');
    const stored = reader.audits('src/local', 5);
    reader.close();
    const row = stored.find((r) => !r.ok);
    assert.ok(row, `a stored audit with drift among ${JSON.stringify(stored)}`);
    assert.deepEqual(row.counts, { missing: 0, extra: 1, content: 0, metadata: 1 });
    assert.deepEqual(row.sample.map((e) => `${e.kind} ${e.path}`).sort(), [
      'extra planted.txt',
      'metadata mode.txt',
    ]);

    // two requests for the same target share one audit
    const [a, b] = await Promise.all([
      daemon.audit('src', { target: 'local' }),
      daemon.audit('src', { target: 'local' }),
    ]);
    assert.ok(a?.results[0] && a.results[0] === b?.results[0], 'the second request joined the running audit');
    assert.equal(await daemon.audit('nope'), null, 'an unknown source gives null');

    // after a restart (no audit schedule now), status shows the last stored audit
    await d.dispose();
    dispose = null;
    rmSync(join(local, 'planted.txt'));
    const again = await startDaemon(configYaml(base));
    dispose = again.dispose;
    const reloaded = again.daemon.status()[0]?.targets.find((t) => t.target === 'local')?.lastAudit;
    assert.ok(reloaded, 'lastAudit survives the restart');
    assert.equal(reloaded.ok, false);
    assert.deepEqual(reloaded.drift, { missing: 0, extra: 1, content: 0, metadata: 1 });
  } finally {
    await dispose?.();
    await env.dispose();
  }
});
