import { chmodSync, closeSync, constants, existsSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Incident } from '../alerts/index.js';
import type { Change, Op } from '../change/index.js';
import { transferred } from '../transport/exit-codes.js';
import { type BytePath, coveredBy } from '../util/bytes.js';

/**
 * The durable record of what each target still needs, and of what happened:
 * transfers, failures, state changes. SQLite in WAL mode under state_dir.
 *
 * Pending work is one row per (target, path): an outage of any length costs
 * one row per distinct path, never one per event. Rows carry a sequence
 * number so a transfer only clears the rows it actually sent: a path changed
 * again while the transfer ran keeps its newer row.
 *
 * Paths are stored as BLOBs (file names are bytes, not text).
 */

export const JOURNAL_FILE = 'journal.db';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pending (
  target TEXT NOT NULL,
  path   BLOB NOT NULL,
  op     TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  since  INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (target, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_since ON pending (target, since);
CREATE TABLE IF NOT EXISTS targets (
  target TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  since INTEGER NOT NULL,
  reason TEXT,
  needs_full TEXT,
  last_success INTEGER,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS transfers (
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  kind TEXT NOT NULL,
  started INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  changes INTEGER NOT NULL,
  files INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  result TEXT NOT NULL,
  code INTEGER,
  message TEXT
);
CREATE INDEX IF NOT EXISTS transfers_target ON transfers (target, id);
CREATE TABLE IF NOT EXISTS incidents (
  id TEXT NOT NULL,
  fired_at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  source TEXT NOT NULL,
  target TEXT,
  message TEXT NOT NULL,
  resolved_at INTEGER,
  PRIMARY KEY (id, fired_at)
);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (resolved_at);
CREATE TABLE IF NOT EXISTS state_log (
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  at INTEGER NOT NULL,
  state TEXT NOT NULL,
  previous TEXT,
  reason TEXT
);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT
);
CREATE TABLE IF NOT EXISTS audits (
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  at INTEGER NOT NULL,
  checksum INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT,
  missing INTEGER NOT NULL,
  extra INTEGER NOT NULL,
  content INTEGER NOT NULL,
  metadata INTEGER NOT NULL,
  pending INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  sample TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audits_target ON audits (target, id);
CREATE TABLE IF NOT EXISTS paused (
  target TEXT PRIMARY KEY,
  since INTEGER NOT NULL,
  reason TEXT NOT NULL
);
`;
// Every table is CREATE ... IF NOT EXISTS and run at each open: a table added
// later (audits) appears in an existing journal file without touching its rows.

export interface PendingRow {
  path: BytePath;
  op: Op;
  seq: number;
  since: number;
  attempts: number;
}

export interface TransferRow {
  target: string;
  kind: 'batch' | 'full';
  started: number;
  durationMs: number;
  changes: number;
  files: number;
  bytes: number;
  result: string;
  code: number | null;
  message?: string;
}

export interface TargetRow {
  target: string;
  state: string;
  since: number;
  reason: string | null;
  needsFull: string | null;
  lastSuccess: number | null;
  lastError: string | null;
}

/** One audit of one target, as stored. */
export interface AuditRow {
  target: string;
  at: number;
  checksum: boolean;
  ok: boolean;
  error: string | null;
  counts: { missing: number; extra: number; content: number; metadata: number };
  pending: number;
  durationMs: number;
  /** a few of the entries (paths for people, not bytes), at most AUDIT_SAMPLE */
  sample: { kind: string; path: string; detail: string }[];
}

/** Entries kept with each stored audit. */
export const AUDIT_SAMPLE = 20;

interface IncidentDbRow {
  id: string;
  fired_at: number;
  kind: string;
  severity: 'warning' | 'critical';
  source: string;
  target: string | null;
  message: string;
  resolved_at: number | null;
}

function incidentRow(r: IncidentDbRow): Incident {
  return {
    id: r.id,
    kind: r.kind,
    severity: r.severity,
    source: r.source,
    ...(r.target === null ? {} : { target: r.target }),
    message: r.message,
    firedAt: r.fired_at,
    resolvedAt: r.resolved_at,
  };
}

/** How many transfer and state rows to keep per target. */
const HISTORY_ROWS = 1000;

const blob = (p: BytePath) => Buffer.from(p, 'latin1');

export class Journal {
  private readonly db: Database.Database;
  private seq: number;
  private readonly st;

  private constructor(readonly file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a commit survives a process crash (kill -9); only a power
    // loss can lose the last commits, and startup's full sync covers that.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `journal ${file} was written by a newer syncward (schema ${version}, this one knows ${SCHEMA_VERSION}); upgrade syncward or move the file away`,
      );
    }
    this.db.exec(SCHEMA);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM pending').get() as { s: number }).s;
    this.st = {
      upsertPending: this.db.prepare(
        `INSERT INTO pending (target, path, op, seq, since) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (target, path) DO UPDATE SET
           op = CASE WHEN pending.op = 'upsertTree' AND excluded.op = 'upsert' THEN 'upsertTree' ELSE excluded.op END,
           seq = excluded.seq, attempts = 0`,
      ),
      insertIfAbsent: this.db.prepare(
        'INSERT INTO pending (target, path, op, seq, since) VALUES (?, ?, ?, ?, ?) ON CONFLICT (target, path) DO NOTHING',
      ),
      clearPending: this.db.prepare('DELETE FROM pending WHERE target = ? AND path = ? AND seq <= ?'),
      clearAll: this.db.prepare('DELETE FROM pending WHERE target = ? AND seq <= ?'),
      // Beneath a directory D: D/ < path < D0 ('0' is '/' + 1). BLOBs compare
      // byte by byte, and a range (unlike LIKE) has no wildcards to misread.
      clearBeneath: this.db.prepare(
        'DELETE FROM pending WHERE target = ? AND path > ? AND path < ? AND seq <= ?',
      ),
      listBeneath: this.db.prepare(
        'SELECT path FROM pending WHERE target = ? AND path > ? AND path < ? AND seq <= ?',
      ),
      clearAllBut: this.db.prepare("DELETE FROM pending WHERE target = ? AND path > x'' AND seq <= ?"),
      listAll: this.db.prepare('SELECT path FROM pending WHERE target = ? AND seq <= ?'),
      seqOf: this.db.prepare('SELECT seq FROM pending WHERE target = ? AND path = ?'),
      bumpAttempts: this.db.prepare(
        'UPDATE pending SET attempts = attempts + 1 WHERE target = ? AND path = ?',
      ),
      listPending: this.db.prepare('SELECT path, op, seq, since, attempts FROM pending WHERE target = ?'),
      oldestLive: this.db.prepare(
        'SELECT MIN(since) AS oldest FROM pending WHERE target = ? AND attempts < ?',
      ),
      forget: this.db.prepare('DELETE FROM pending WHERE target = ?'),
      forgetPause: this.db.prepare('DELETE FROM paused WHERE target = ?'),
      putPause: this.db.prepare(
        'INSERT INTO paused (target, since, reason) VALUES (?, ?, ?) ON CONFLICT (target) DO NOTHING',
      ),
      getPause: this.db.prepare('SELECT since, reason FROM paused WHERE target = ?'),
      countPending: this.db.prepare(
        'SELECT COUNT(*) AS n, MIN(since) AS oldest FROM pending WHERE target = ?',
      ),
      putTarget: this.db.prepare(
        `INSERT INTO targets (target, state, since, reason) VALUES (?, ?, ?, ?)
         ON CONFLICT (target) DO UPDATE SET state = excluded.state, since = excluded.since, reason = excluded.reason`,
      ),
      setNeedsFull: this.db.prepare(
        `INSERT INTO targets (target, state, since, needs_full) VALUES (?, 'starting', ?, ?)
         ON CONFLICT (target) DO UPDATE SET needs_full = excluded.needs_full`,
      ),
      setSuccess: this.db.prepare('UPDATE targets SET last_success = ?, last_error = NULL WHERE target = ?'),
      setError: this.db.prepare('UPDATE targets SET last_error = ? WHERE target = ?'),
      getTarget: this.db.prepare('SELECT * FROM targets WHERE target = ?'),
      logState: this.db.prepare(
        'INSERT INTO state_log (target, at, state, previous, reason) VALUES (?, ?, ?, ?, ?)',
      ),
      putIncident: this.db.prepare(
        `INSERT INTO incidents (id, fired_at, kind, severity, source, target, message, resolved_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id, fired_at) DO UPDATE SET resolved_at = excluded.resolved_at`,
      ),
      openIncidents: this.db.prepare('SELECT * FROM incidents WHERE resolved_at IS NULL ORDER BY fired_at'),
      recentIncidents: this.db.prepare('SELECT * FROM incidents ORDER BY fired_at DESC LIMIT ?'),
      trimIncidents: this.db.prepare(
        `DELETE FROM incidents WHERE resolved_at IS NOT NULL AND rowid <= (
           SELECT rowid FROM incidents WHERE resolved_at IS NOT NULL ORDER BY rowid DESC LIMIT 1 OFFSET ?)`,
      ),
      addTransfer: this.db.prepare(
        `INSERT INTO transfers (target, kind, started, duration_ms, changes, files, bytes, result, code, message)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      trimTransfers: this.db.prepare(
        'DELETE FROM transfers WHERE target = ? AND id <= (SELECT id FROM transfers WHERE target = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
      ),
      recentTransfers: this.db.prepare('SELECT * FROM transfers WHERE target = ? ORDER BY id DESC LIMIT ?'),
      addAudit: this.db.prepare(
        `INSERT INTO audits (target, at, checksum, ok, error, missing, extra, content, metadata, pending, duration_ms, sample)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      trimAudits: this.db.prepare(
        'DELETE FROM audits WHERE target = ? AND id <= (SELECT id FROM audits WHERE target = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
      ),
      recentAudits: this.db.prepare('SELECT * FROM audits WHERE target = ? ORDER BY id DESC LIMIT ?'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
      putMeta: this.db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
    };
  }

  /** Opens (creating if needed) the journal in `stateDir`. */
  static open(stateDir: string): Journal {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = join(stateDir, JOURNAL_FILE);
    privateFiles(file);
    return new Journal(file);
  }

  /**
   * Records changes every listed target still needs, in one transaction.
   * Returns the sequence number given to this batch.
   *
   * A delete of D supersedes every row already recorded beneath D (the
   * coalescer swallows them the same way): whatever was there is gone, and
   * the delete removes it on the target. Without this, a directory replaced
   * by a file (delete D, then upsert D) left rows beneath D that no delivery
   * would ever clear.
   */
  readonly recordChanges = (
    targets: readonly string[],
    changes: readonly Change[],
    now = Date.now(),
  ): number => {
    const seq = ++this.seq;
    this.db.transaction(() => {
      for (const t of targets)
        for (const c of changes) {
          if (c.op === 'delete' && c.path !== '')
            this.st.clearBeneath.run(t, blob(`${c.path}/`), blob(`${c.path}0`), seq);
          this.st.upsertPending.run(t, blob(c.path), c.op, seq, now);
        }
    })();
    return seq;
  };

  /** Marks changes as delivered to a target: rows not changed since `seq` are removed. */
  delivered(target: string, paths: readonly BytePath[], seq: number): void {
    this.db.transaction(() => {
      for (const p of paths) this.st.clearPending.run(target, blob(p), seq);
    })();
  }

  /**
   * A batch taken at `seq` reached the target, except the `failed` paths.
   * Besides each delivered path's own row, a delivered change of a directory
   * D clears the rows beneath D that it covered (the coalescer merged them
   * into it, so they are never delivered by their own path):
   * - upsertTree D read the whole tree after the batch was taken: every row
   *   beneath D up to `seq`;
   * - delete D removed what was beneath D when D was deleted: the rows beneath
   *   D not newer than D's own row (a later change beneath a recreated D may
   *   still wait in the queue). A rename is delete(old) + upsert(Tree)(new).
   * Rows of failed paths, and beneath them, stay.
   */
  deliveredBatch(
    target: string,
    changes: readonly Change[],
    seq: number,
    failed: ReadonlySet<BytePath> | null = null,
  ): void {
    const isFailed = (p: BytePath): boolean => failed !== null && coveredBy(p, failed);
    this.db.transaction(() => {
      for (const c of changes) {
        if (isFailed(c.path)) continue;
        let bound = 0;
        if (c.op === 'upsertTree') bound = seq;
        else if (c.op === 'delete') {
          const own = this.st.seqOf.get(target, blob(c.path)) as { seq: number } | undefined;
          if (own !== undefined && own.seq <= seq) bound = own.seq;
        }
        this.st.clearPending.run(target, blob(c.path), seq);
        if (bound === 0) continue;
        const root = c.path === '';
        const lo = blob(`${c.path}/`);
        const hi = blob(`${c.path}0`);
        if (!failed || failed.size === 0) {
          if (root) this.st.clearAllBut.run(target, bound);
          else this.st.clearBeneath.run(target, lo, hi, bound);
          continue;
        }
        const rows = (
          root ? this.st.listAll.all(target, bound) : this.st.listBeneath.all(target, lo, hi, bound)
        ) as { path: Buffer }[];
        for (const r of rows) {
          const p = r.path.toString('latin1');
          if (!isFailed(p)) this.st.clearPending.run(target, r.path, bound);
        }
      }
    })();
  }

  /**
   * Everything recorded up to `seq` reached the target (a full sync covered
   * it), except the `kept` paths and what lies beneath them: paths that failed
   * or that the full sync left out because they keep failing.
   */
  deliveredAll(target: string, seq: number, kept: ReadonlySet<BytePath> = new Set()): void {
    if (kept.size === 0) {
      this.st.clearAll.run(target, seq);
      return;
    }
    this.db.transaction(() => {
      for (const r of this.st.listAll.all(target, seq) as { path: Buffer }[])
        if (!coveredBy(r.path.toString('latin1'), kept)) this.st.clearPending.run(target, r.path, seq);
    })();
  }

  /**
   * Records changes a target still needs where it has no row yet: a failed
   * path found beneath a directory or by a full sync. An existing row keeps
   * its age and its count of failed attempts (what makes it stuck). `asOf`:
   * the sequence of the transfer that found them (they are that old);
   * without it, a new one.
   */
  recordIfAbsent(target: string, changes: readonly Change[], now = Date.now(), asOf?: number): number {
    const seq = asOf ?? ++this.seq;
    this.db.transaction(() => {
      for (const c of changes) this.st.insertIfAbsent.run(target, blob(c.path), c.op, seq, now);
    })();
    return seq;
  }

  /** The current sequence number: rows recorded so far have seq <= this. */
  get currentSeq(): number {
    return this.seq;
  }

  failedAttempt(target: string, paths: readonly BytePath[]): void {
    this.db.transaction(() => {
      for (const p of paths) this.st.bumpAttempts.run(target, blob(p));
    })();
  }

  pending(target: string): PendingRow[] {
    return (
      this.st.listPending.all(target) as {
        path: Buffer;
        op: Op;
        seq: number;
        since: number;
        attempts: number;
      }[]
    ).map((r) => ({ ...r, path: r.path.toString('latin1') }));
  }

  /** When the oldest change still owed to a target was recorded, ignoring paths failed `maxAttempts` times (stuck). */
  oldestPending(target: string, maxAttempts: number): number | null {
    const r = this.st.oldestLive.get(target, maxAttempts) as { oldest: number | null };
    return r.oldest;
  }

  /** Forgets every pending row and the pause of a target (it was removed from the config). */
  forget(target: string): void {
    this.st.forget.run(target);
    this.st.forgetPause.run(target);
  }

  /** Remembers an operator's pause of a target (survives a restart); an existing pause keeps its time. */
  setPaused(target: string, pause: { since: number; reason: string } | null): void {
    if (pause === null) this.st.forgetPause.run(target);
    else this.st.putPause.run(target, pause.since, pause.reason);
  }

  /** The target's pause, if an operator paused it. */
  paused(target: string): { since: number; reason: string } | null {
    return (this.st.getPause.get(target) as { since: number; reason: string } | undefined) ?? null;
  }

  pendingSummary(target: string): { count: number; oldest: number | null } {
    const r = this.st.countPending.get(target) as { n: number; oldest: number | null };
    return { count: r.n, oldest: r.oldest };
  }

  recordState(
    target: string,
    state: string,
    previous: string | null,
    reason: string,
    now = Date.now(),
  ): void {
    this.db.transaction(() => {
      this.st.putTarget.run(target, state, now, reason);
      this.st.logState.run(target, now, state, previous, reason);
    })();
  }

  /** Stores an incident when it fires, and again when it resolves (resolvedAt set). */
  recordIncident(i: Incident): void {
    this.db.transaction(() => {
      this.st.putIncident.run(
        i.id,
        i.firedAt,
        i.kind,
        i.severity,
        i.source,
        i.target ?? null,
        i.message,
        i.resolvedAt,
      );
      if (i.resolvedAt !== null) this.st.trimIncidents.run(HISTORY_ROWS);
    })();
  }

  /** Incidents that fired and have not resolved (also those left open by the previous run). */
  openIncidents(): Incident[] {
    return (this.st.openIncidents.all() as IncidentDbRow[]).map(incidentRow);
  }

  /** The newest incidents, open or resolved, newest first. */
  recentIncidents(limit = 50): Incident[] {
    return (this.st.recentIncidents.all(limit) as IncidentDbRow[]).map(incidentRow);
  }

  /** Remembers that a target needs a full sync (survives a restart); null clears it. */
  setNeedsFull(target: string, reason: string | null, now = Date.now()): void {
    this.st.setNeedsFull.run(target, now, reason);
  }

  target(target: string): TargetRow | undefined {
    const r = this.st.getTarget.get(target) as
      | {
          target: string;
          state: string;
          since: number;
          reason: string | null;
          needs_full: string | null;
          last_success: number | null;
          last_error: string | null;
        }
      | undefined;
    if (!r) return undefined;
    return {
      target: r.target,
      state: r.state,
      since: r.since,
      reason: r.reason,
      needsFull: r.needs_full,
      lastSuccess: r.last_success,
      lastError: r.last_error,
    };
  }

  recordTransfer(t: TransferRow): void {
    this.db.transaction(() => {
      this.st.addTransfer.run(
        t.target,
        t.kind,
        t.started,
        t.durationMs,
        t.changes,
        t.files,
        t.bytes,
        t.result,
        t.code,
        t.message ?? null,
      );
      if (transferred(t.result)) this.st.setSuccess.run(t.started + t.durationMs, t.target);
      else this.st.setError.run(t.message ?? t.result, t.target);
      this.st.trimTransfers.run(t.target, t.target, HISTORY_ROWS);
    })();
  }

  recentTransfers(target: string, limit = 20): unknown[] {
    return this.st.recentTransfers.all(target, limit);
  }

  recordAudit(a: AuditRow): void {
    this.db.transaction(() => {
      this.st.addAudit.run(
        a.target,
        a.at,
        a.checksum ? 1 : 0,
        a.ok ? 1 : 0,
        a.error,
        a.counts.missing,
        a.counts.extra,
        a.counts.content,
        a.counts.metadata,
        a.pending,
        a.durationMs,
        JSON.stringify(a.sample.slice(0, AUDIT_SAMPLE)),
      );
      this.st.trimAudits.run(a.target, a.target, HISTORY_ROWS);
    })();
  }

  /** The newest audits of a target, newest first. */
  recentAudits(target: string, limit = 20): AuditRow[] {
    return (this.st.recentAudits.all(target, limit) as AuditDbRow[]).map(auditRow);
  }

  meta(key: string): string | undefined {
    return (this.st.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.st.putMeta.run(key, value);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface AuditDbRow {
  target: string;
  at: number;
  checksum: number;
  ok: number;
  error: string | null;
  missing: number;
  extra: number;
  content: number;
  metadata: number;
  pending: number;
  duration_ms: number;
  sample: string;
}

function auditRow(r: AuditDbRow): AuditRow {
  let sample: AuditRow['sample'] = [];
  try {
    sample = JSON.parse(r.sample) as AuditRow['sample'];
  } catch {
    // a damaged sample loses the examples, not the audit
  }
  return {
    target: r.target,
    at: r.at,
    checksum: r.checksum === 1,
    ok: r.ok === 1,
    error: r.error,
    counts: { missing: r.missing, extra: r.extra, content: r.content, metadata: r.metadata },
    pending: r.pending,
    durationMs: r.duration_ms,
    sample,
  };
}

/**
 * Makes the journal and its WAL and shared-memory files mode 600 whatever
 * the umask: SQLite creates a database 644 minus the umask, and the -wal and
 * -shm files with the database's mode, so an empty database file created 600
 * first (a valid empty SQLite file) carries 600 to all three. Never follows
 * a symlink there.
 */
function privateFiles(file: string): void {
  closeSync(openSync(file, constants.O_CREAT | constants.O_RDWR | constants.O_NOFOLLOW, 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      const st = lstatSync(f);
      if (st.isFile() && (st.mode & 0o077) !== 0) chmodSync(f, 0o600);
    } catch {
      // not there yet: SQLite creates it with the database's mode
    }
  }
}

/**
 * Read-only access for one-shot commands (audit) while a daemon may be
 * writing: WAL lets readers in beside the writer. Null when there is no
 * journal yet (nothing is pending then).
 */
export class JournalReader {
  private constructor(private readonly db: Database.Database) {}

  static open(stateDir: string): JournalReader | null {
    const file = join(stateDir, JOURNAL_FILE);
    if (!existsSync(file)) return null;
    const db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return new JournalReader(db);
  }

  /** A target's pending changes (path and op). */
  pending(target: string): Change[] {
    return (
      this.db.prepare('SELECT path, op FROM pending WHERE target = ?').all(target) as {
        path: Buffer;
        op: Op;
      }[]
    ).map((r) => ({ path: r.path.toString('latin1'), op: r.op }));
  }

  /** Paths that failed `maxAttempts` transfers in a row and still wait: stuck. */
  stuck(target: string, maxAttempts: number): BytePath[] {
    return (
      this.db
        .prepare('SELECT path FROM pending WHERE target = ? AND attempts >= ?')
        .all(target, maxAttempts) as {
        path: Buffer;
      }[]
    ).map((r) => r.path.toString('latin1'));
  }

  /** Why a full sync is owed to the target, or null. */
  needsFull(target: string): string | null {
    const r = this.db.prepare('SELECT needs_full FROM targets WHERE target = ?').get(target) as
      | { needs_full: string | null }
      | undefined;
    return r?.needs_full ?? null;
  }

  /** The newest stored audits of a target, newest first (none in a journal from before audits were stored). */
  audits(target: string, limit = 20): AuditRow[] {
    const has = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audits'").get();
    if (!has) return [];
    return (
      this.db
        .prepare('SELECT * FROM audits WHERE target = ? ORDER BY id DESC LIMIT ?')
        .all(target, limit) as AuditDbRow[]
    ).map(auditRow);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
