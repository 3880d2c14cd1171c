import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TransferReport } from '../../src/dispatch/index.js';
import { Journal } from '../../src/journal/index.js';
import { configYaml, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

// The journal's transfers table and targets.last_success are written by the daemon itself,
// so they hold what happened after a restart (before, only tests wrote them).
test('each transfer the daemon makes is in the journal: its history row and the target last success', async () => {
  const src = await makeTempDir('syncward-history-src-');
  const local = await makeTempDir('syncward-history-dst-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [{ name: 'local', url: local, dir: local }];
  const transfers: TransferReport[] = [];
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
    d.daemon.on('transfer', (r: TransferReport) => transfers.push(r));
    writeFileSync(join(src, 'a.txt'), 'a\n');
    await waitFor(
      () => transfers.some((r) => r.kind === 'batch' && r.result === 'ok'),
      30_000,
      'a batch sent',
    );
    await d.dispose();
    d = undefined;

    const j = Journal.open(state.dir);
    try {
      const rows = j.recentTransfers('src/local') as { kind: string; result: string; changes: number }[];
      assert.ok(
        rows.some((r) => r.kind === 'batch' && r.result === 'ok' && r.changes >= 1),
        `a batch row: ${JSON.stringify(rows)}`,
      );
      const t = j.target('src/local');
      assert.ok(t?.lastSuccess, `last success recorded: ${JSON.stringify(t)}`);
      assert.equal(t?.lastError, null);
    } finally {
      j.close();
    }
  } finally {
    await d?.dispose();
    for (const x of [src, local]) rmSync(x, { recursive: true, force: true });
    state.dispose();
  }
});
