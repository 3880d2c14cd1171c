import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { answeredView, unreachableView } from '../../src/relay/index.js';
import type { LeafStatus, RelayStatus, TargetStatus } from '../../src/status/index.js';
import { sampleCanary, sampleTarget } from '../helpers/status-sample.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

interface Sample {
  t: number;
  lag: number;
  canary: number | null;
}
interface AuditView {
  at: number;
  ok: boolean;
  error: string | null;
  counts: Record<string, number>;
  pending: number;
  entries: { kind: string; path: string; detail: string }[] | null;
  truncated: boolean;
}
/** The parts of ui/src/model.ts tested here (typed by hand: the UI is not part of the tsc build). */
interface Model {
  HISTORY_MS: number;
  pushSample(samples: Sample[], s: Sample): Sample[];
  lagSeconds(t: { oldestPendingAt: number | null }, now: number): number;
  duration(ms: number): string;
  bytes(n: number): string;
  auditView(raw: unknown): AuditView | null;
  newerAudit(a: AuditView | null, b: AuditView | null): AuditView | null;
  eventKey(data: unknown): string | null;
  STATE_LABEL: Record<string, string>;
  leafRows(t: TargetStatus): { via: string[]; path: string; leaf: LeafStatus }[];
  leafLag(l: LeafStatus, now: number): { ms: number; canary: boolean } | null;
  relayLine(r: RelayStatus, now: number): string;
}

describe('dashboard model (ui/src/model.ts)', () => {
  let m: Model;
  const dir = mkdtempSync(join(tmpdir(), 'syncward-ui-model-'));
  before(async () => {
    // browser code, bundled for node the way build:ui bundles it for the page
    const outfile = join(dir, 'model.mjs');
    await build({
      entryPoints: [join(ROOT, 'ui', 'src', 'model.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      outfile,
      logLevel: 'error',
    });
    m = (await import(pathToFileURL(outfile).href)) as Model;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the lag history keeps one hour and one sample per instant', () => {
    const samples: Sample[] = [];
    m.pushSample(samples, { t: 1000, lag: 1, canary: null });
    m.pushSample(samples, { t: 1000, lag: 2, canary: null });
    assert.deepEqual(samples, [{ t: 1000, lag: 2, canary: null }]);
    m.pushSample(samples, { t: 2000, lag: 0, canary: 0.5 });
    m.pushSample(samples, { t: 2000 + m.HISTORY_MS, lag: 3, canary: null });
    assert.deepEqual(
      samples.map((s) => s.t),
      [2000, 2000 + m.HISTORY_MS],
    );
  });

  test('lag is the age of the oldest pending change, 0 when nothing is pending', () => {
    assert.equal(m.lagSeconds({ oldestPendingAt: null }, 10_000), 0);
    assert.equal(m.lagSeconds({ oldestPendingAt: 4_000 }, 10_000), 6);
    assert.equal(
      m.lagSeconds({ oldestPendingAt: 12_000 }, 10_000),
      0,
      'a clock step back is not negative lag',
    );
  });

  test('durations and sizes read as people write them', () => {
    assert.equal(m.duration(850), '850 ms');
    assert.equal(m.duration(12_400), '12 s');
    assert.equal(m.duration(61_000), '1 min 1 s');
    assert.equal(m.duration(3_600_000), '1 h');
    assert.equal(m.duration(90_000_000), '1 d 1 h');
    assert.equal(m.bytes(512), '512 B');
    assert.equal(m.bytes(1536), '1.5 KiB');
    assert.equal(m.bytes(300 * 1024 * 1024), '300 MiB');
  });

  test("an audit from the status summary has counts only; the audit job's result has the entries", () => {
    const summary = {
      at: 5000,
      checksum: false,
      ok: false,
      error: null,
      drift: { missing: 1, extra: 1, content: 0, metadata: 0 },
      pending: 2,
    };
    const counts = m.auditView(summary);
    assert.ok(counts);
    assert.deepEqual(counts.counts, { missing: 1, extra: 1, content: 0, metadata: 0 });
    assert.equal(counts.pending, 2);
    assert.equal(counts.entries, null);

    const job = m.auditView({
      source: 'src',
      target: 'local',
      summary,
      entries: [
        { kind: 'extra', path: 'planted.txt', detail: 'entry' },
        { kind: 'missing', path: 'keep.txt', detail: 'file' },
      ],
      truncated: false,
    });
    assert.ok(job);
    assert.equal(job.at, 5000);
    assert.deepEqual(
      job.entries?.map((e) => `${e.kind} ${e.path}`),
      ['extra planted.txt', 'missing keep.txt'],
    );

    // the 'audit' event or the next status poll (counts only) of the same audit keeps the entries
    assert.equal(m.newerAudit(job, counts), job);
    assert.equal(m.newerAudit(counts, job), job);
    const later = m.auditView({
      ...summary,
      at: 9000,
      ok: true,
      drift: { missing: 0, extra: 0, content: 0, metadata: 0 },
    });
    assert.equal(m.newerAudit(job, later), later);
    assert.equal(m.newerAudit(later, job), later);
  });

  test('an audit that could not run carries its reason; what is not an audit is null', () => {
    const failed = m.auditView({
      at: 1,
      ok: false,
      checksum: false,
      error: 'rsync exit 10',
      drift: { missing: 0, extra: 0, content: 0, metadata: 0 },
      pending: 0,
    });
    assert.equal(failed?.error, 'rsync exit 10');
    assert.equal(m.auditView({ source: 'src', target: 't1' }), null);
    assert.equal(m.auditView(null), null);
  });

  test("a relay target's leaves are rows beneath it, a deeper tier after its relay leaf; an unknown leaf has no lag", () => {
    const NOW = 1_800_000_000_000;
    const deeper = answeredView('http://10.0.0.3:8730', 'www', [sampleTarget(NOW, { target: 'x' })], NOW);
    const read = answeredView(
      'http://10.0.0.2:8730',
      'www',
      [
        sampleTarget(NOW, { target: 'r1a', canary: sampleCanary(NOW, 412) }),
        sampleTarget(NOW, { target: 'r1b', relay: deeper }),
        sampleTarget(NOW, { target: 'r1c', pending: 2, oldestPendingAt: NOW - 7_000 }),
      ],
      NOW - 2_000,
    );
    const relayTarget = (relay: RelayStatus) => sampleTarget(NOW, { target: 'r1', relay });
    const rows = m.leafRows(relayTarget(read));
    assert.deepEqual(
      rows.map((r) => `${r.path} ${r.via.length}`),
      ['r1a 0', 'r1b 0', 'r1b/x 1', 'r1c 0'],
    );
    const [a, , , c] = rows.map((r) => r.leaf) as LeafStatus[];
    assert.deepEqual(m.leafLag(a as LeafStatus, NOW), { ms: 412, canary: true });
    assert.deepEqual(m.leafLag(c as LeafStatus, NOW), { ms: 7_000, canary: false });
    assert.equal(m.relayLine(read, NOW), 'read 2 s ago');
    assert.deepEqual(m.leafRows(sampleTarget(NOW)), [], 'a plain target has none');

    const lost = unreachableView(read, 'http://10.0.0.2:8730', 'ECONNREFUSED', NOW - 45_000);
    const unknown = m.leafRows(relayTarget(lost));
    assert.deepEqual(
      unknown.map((r) => `${r.path} ${m.STATE_LABEL[r.leaf.state]}`),
      ['r1a unknown', 'r1b unknown', 'r1b/x unknown', 'r1c unknown'],
    );
    assert.equal(
      m.leafLag(unknown[0]?.leaf as LeafStatus, NOW),
      null,
      'the last canary lag is not a lag of now',
    );
    assert.equal(m.relayLine(lost, NOW), 'cannot be read for 45 s: ECONNREFUSED; its targets are unknown');
  });

  test('events name their target as source/target', () => {
    assert.equal(m.eventKey({ source: 'www', target: 'web1', state: 'down' }), 'www/web1');
    assert.equal(m.eventKey({ source: 'www' }), null);
    assert.equal(m.eventKey('x'), null);
  });
});
