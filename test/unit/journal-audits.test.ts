import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { JOURNAL_FILE, Journal, JournalReader } from '../../src/journal/index.js';

test('a journal written before audits were stored opens, gains the audits table, and keeps its pending rows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncward-jaudit-'));
  try {
    // the shape of an existing journal file from before the audits table
    const old = new Database(join(dir, JOURNAL_FILE));
    old.pragma('journal_mode = WAL');
    old.exec(`CREATE TABLE pending (target TEXT NOT NULL, path BLOB NOT NULL, op TEXT NOT NULL, seq INTEGER NOT NULL,
                since INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (target, path)) WITHOUT ROWID;
              CREATE TABLE targets (target TEXT PRIMARY KEY, state TEXT NOT NULL, since INTEGER NOT NULL, reason TEXT,
                needs_full TEXT, last_success INTEGER, last_error TEXT);`);
    old
      .prepare('INSERT INTO pending (target, path, op, seq, since) VALUES (?, ?, ?, ?, ?)')
      .run('s/t', Buffer.from('a/b'), 'upsert', 7, 1);
    old.pragma('user_version = 1');
    old.close();

    const before = JournalReader.open(dir);
    assert.ok(before);
    assert.deepEqual(before.audits('s/t'), [], 'no audits table yet: none stored');
    assert.deepEqual(before.pending('s/t'), [{ path: 'a/b', op: 'upsert' }]);
    before.close();

    const j = Journal.open(dir);
    assert.equal(j.pending('s/t').length, 1, 'the pending row survived');
    const row = {
      target: 's/t',
      at: 1000,
      checksum: true,
      ok: false,
      error: null,
      counts: { missing: 1, extra: 2, content: 0, metadata: 0 },
      pending: 5,
      durationMs: 42,
      sample: Array.from({ length: 30 }, (_, i) => ({ kind: 'extra', path: `x${i}`, detail: 'entry' })),
    };
    j.recordAudit(row);
    j.recordAudit({
      ...row,
      at: 2000,
      ok: true,
      counts: { missing: 0, extra: 0, content: 0, metadata: 0 },
      sample: [],
    });
    const [newest, older] = j.recentAudits('s/t', 5);
    assert.equal(newest?.at, 2000);
    assert.equal(newest?.ok, true);
    assert.equal(older?.sample.length, 20, 'the sample is capped');
    assert.deepEqual(older?.counts, row.counts);
    assert.equal(older?.checksum, true);
    j.close();

    const after = JournalReader.open(dir);
    assert.equal(after?.audits('s/t', 1)[0]?.at, 2000);
    assert.equal(after?.needsFull('s/t'), null);
    after?.close();
    assert.equal(JournalReader.open(join(dir, 'nothing-here')), null, 'no journal: nothing pending');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
