import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { JOURNAL_FILE, Journal } from '../../src/journal/index.js';

test('a journal file from before incidents existed gains the table and keeps its rows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncward-journal-inc-'));
  try {
    const j = Journal.open(dir);
    j.recordChanges(['www/web1'], [{ path: 'kept', op: 'upsert' }]);
    j.close();
    // what an older syncward left behind: no incidents table
    const db = new Database(join(dir, JOURNAL_FILE));
    db.exec('DROP INDEX IF EXISTS incidents_open; DROP TABLE incidents;');
    db.close();
    const again = Journal.open(dir);
    assert.deepEqual(
      again.pending('www/web1').map((r) => r.path),
      ['kept'],
    );
    assert.deepEqual(again.openIncidents(), []);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('incidents open at a stop are open at the next start; resolved ones are history', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncward-journal-inc-'));
  try {
    const j = Journal.open(dir);
    const down = {
      id: 'down:www/web1',
      kind: 'down',
      severity: 'critical' as const,
      source: 'www',
      target: 'web1',
      message: 'target www/web1 has been down for 61 s',
      firedAt: 1000,
      resolvedAt: null,
    };
    const overflow = { ...down, id: 'overflow:www', kind: 'overflow', target: undefined, firedAt: 2000 };
    j.recordIncident(down);
    j.recordIncident(overflow);
    j.recordIncident({ ...overflow, resolvedAt: 3000 });
    j.close();
    const again = Journal.open(dir);
    assert.deepEqual(again.openIncidents(), [down]);
    assert.deepEqual(
      again.recentIncidents().map((i) => [i.id, i.resolvedAt]),
      [
        ['overflow:www', 3000],
        ['down:www/web1', null],
      ],
    );
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
