import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { AlertsConfig } from '../../src/config/index.js';
import { Journal } from '../../src/journal/index.js';
import { type Incident, Monitor } from '../../src/monitor/index.js';
import type { RuleSource, RuleTarget } from '../../src/monitor/rules.js';
import { answeredView, unreachableView } from '../../src/relay/index.js';
import { silentLogger } from '../../src/util/log.js';
import { sampleTarget } from '../helpers/status-sample.js';

const T0 = 1_800_000_000_000;
const alerts: AlertsConfig = {
  downAfterS: 10,
  misconfiguredAfterS: 0,
  lagAboveS: 300,
  watchUsageAbove: 0.9,
  unwatchedAfterS: 30,
  remindEveryS: 3600,
  webhooks: [],
  commands: [],
};

function world() {
  const t: RuleTarget = {
    target: 'web1',
    state: 'idle',
    stateSince: T0,
    stateReason: '',
    pending: 0,
    oldestPendingAt: null,
    stuck: 0,
    holdReason: null,
    lastSuccessAt: T0,
    lastFullSyncAt: T0,
    lastError: null,
    lastAudit: null,
    canary: null,
  };
  const s: RuleSource = {
    name: 'www',
    path: '/srv/www',
    state: 'watching',
    watchedDirs: 1,
    maxUserWatches: 8192,
    lastOverflowAt: null,
    targets: [t],
  };
  return { t, s };
}

function withJournal(fn: (j: Journal) => void): () => void {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncward-monitor-'));
    const j = Journal.open(dir);
    try {
      fn(j);
    } finally {
      j.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'a condition fires once while it lasts and resolves once when it ends',
  withJournal((journal) => {
    const { t, s } = world();
    const seen: Incident[] = [];
    const m = new Monitor({
      alerts,
      status: () => [s],
      journal,
      log: silentLogger(),
      onIncident: (i) => seen.push(i),
      startedAt: T0,
    });
    Object.assign(t, { state: 'down', stateSince: T0, lastError: 'connection refused' });
    m.evaluateNow(T0 + 5000);
    assert.equal(seen.length, 0, 'not before down_after_s');
    for (let k = 10; k < 60; k += 2) m.evaluateNow(T0 + k * 1000);
    assert.deepEqual(
      seen.map((i) => [i.id, i.resolvedAt]),
      [['down:www/web1', null]],
    );
    assert.equal(m.incidents().length, 1);
    assert.deepEqual(
      journal.openIncidents().map((i) => i.id),
      ['down:www/web1'],
    );
    Object.assign(t, { state: 'idle', stateSince: T0 + 61_000, lastError: null });
    m.evaluateNow(T0 + 62_000);
    m.evaluateNow(T0 + 64_000);
    assert.deepEqual(
      seen.map((i) => [i.id, i.resolvedAt]),
      [
        ['down:www/web1', null],
        ['down:www/web1', T0 + 62_000],
      ],
    );
    assert.equal(seen[1]?.firedAt, seen[0]?.firedAt);
    assert.deepEqual(m.incidents(), []);
    assert.deepEqual(journal.openIncidents(), []);
    m.stop();
  }),
);

test(
  'a full disk is latched from the raw alert until the target succeeds again',
  withJournal((journal) => {
    const { t, s } = world();
    const seen: Incident[] = [];
    const m = new Monitor({
      alerts,
      status: () => [s],
      journal,
      log: silentLogger(),
      onIncident: (i) => seen.push(i),
    });
    m.onAlert({ kind: 'noSpace', source: 'www', target: 'web1', message: 'no space', at: T0 + 100 });
    m.evaluateNow(T0 + 200);
    assert.deepEqual(
      seen.map((i) => i.kind),
      ['noSpace'],
    );
    t.lastSuccessAt = T0 + 300;
    m.evaluateNow(T0 + 400);
    assert.deepEqual(
      seen.map((i) => [i.kind, i.resolvedAt !== null]),
      [
        ['noSpace', false],
        ['noSpace', true],
      ],
    );
    m.stop();
  }),
);

test(
  'after a restart an incident still open is adopted, not fired again; one whose cause is gone resolves after the grace',
  withJournal((journal) => {
    const before = {
      id: 'down:www/web1',
      kind: 'down',
      severity: 'critical' as const,
      source: 'www',
      target: 'web1',
      message: 'down',
      firedAt: T0 - 100_000,
      resolvedAt: null,
    };
    const stuck = { ...before, id: 'stuck:www/web1', kind: 'stuck', severity: 'warning' as const };
    journal.recordIncident(before);
    journal.recordIncident(stuck);
    const { t, s } = world();
    const seen: Incident[] = [];
    const m = new Monitor({
      alerts,
      status: () => [s],
      journal,
      log: silentLogger(),
      onIncident: (i) => seen.push(i),
      startedAt: T0,
    });
    assert.deepEqual(
      m
        .incidents()
        .map((i) => i.id)
        .sort(),
      ['down:www/web1', 'stuck:www/web1'],
    );
    // starting: nothing is decided yet
    t.state = 'starting';
    m.evaluateNow(T0 + 60_000);
    assert.equal(seen.length, 0);
    // down again, not yet for down_after_s: the old incident is kept quietly; nothing is stuck: that one resolves
    Object.assign(t, { state: 'down', stateSince: T0 + 60_000 });
    m.evaluateNow(T0 + 61_000);
    assert.deepEqual(
      seen.map((i) => [i.id, i.resolvedAt]),
      [['stuck:www/web1', T0 + 61_000]],
    );
    assert.deepEqual(
      m.incidents().map((i) => i.id),
      ['down:www/web1'],
    );
    // down long enough: the same incident, adopted without a second firing
    m.evaluateNow(T0 + 75_000);
    assert.equal(seen.length, 1);
    assert.deepEqual(
      m.incidents().map((i) => [i.id, i.firedAt]),
      [['down:www/web1', T0 - 100_000]],
    );
    Object.assign(t, { state: 'idle', stateSince: T0 + 80_000 });
    m.evaluateNow(T0 + 81_000);
    assert.deepEqual(
      seen.map((i) => [i.id, i.firedAt, i.resolvedAt]),
      [
        ['stuck:www/web1', T0 - 100_000, T0 + 61_000],
        ['down:www/web1', T0 - 100_000, T0 + 81_000],
      ],
    );
    assert.deepEqual(journal.openIncidents(), []);
    m.stop();
  }),
);

test(
  'an alert the daemon raised and logged is not logged again when its incident fires; one only the rules find is',
  withJournal((journal) => {
    const { t, s } = world();
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const seen: Incident[] = [];
    const m = new Monitor({ alerts, status: () => [s], journal, log, onIncident: (i) => seen.push(i) });
    m.onAlert({ kind: 'noSpace', source: 'www', target: 'web1', message: 'no space', at: T0 + 100 });
    t.oldestPendingAt = T0;
    t.pending = 1;
    m.evaluateNow(T0 + 400_000);
    assert.deepEqual(seen.map((i) => i.kind).sort(), ['lag', 'noSpace']);
    const alertLines = lines.filter((l) => l.msg.startsWith('ALERT')).map((l) => l.msg.split(':')[0]);
    assert.deepEqual(alertLines, ['ALERT firing lag']);
    m.stop();
  }),
);

test(
  'an incident still firing is logged again every remind_every_s with a count, stops at its resolve, and never with 0',
  withJournal((journal) => {
    const run = (remindEveryS: number) => {
      const { t, s } = world();
      const lines: { level: number; msg: string; reminder?: number }[] = [];
      const log = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l)) });
      const seen: Incident[] = [];
      const m = new Monitor({
        alerts: { ...alerts, remindEveryS },
        status: () => [s],
        journal,
        log,
        onIncident: (i) => seen.push(i),
        startedAt: T0,
      });
      Object.assign(t, { state: 'down', stateSince: T0, lastError: 'connection refused' });
      for (let k = 0; k <= 200; k += 2) m.evaluateNow(T0 + k * 1000);
      Object.assign(t, { state: 'idle', stateSince: T0 + 201_000, lastError: null });
      for (let k = 202; k <= 400; k += 2) m.evaluateNow(T0 + k * 1000);
      m.stop();
      const alertLines = lines.filter((l) => l.msg.startsWith('ALERT'));
      return { alertLines, seen };
    };
    const every60 = run(60);
    assert.deepEqual(
      every60.alertLines.map((l) => [l.msg.split(':')[0], l.level, l.reminder]),
      [
        ['ALERT firing down', 50, undefined],
        ['ALERT reminder down', 50, 1],
        ['ALERT reminder down', 50, 2],
        ['ALERT reminder down', 50, 3],
        ['ALERT resolved down', 30, undefined],
      ],
    );
    // fired at +10 s (down_after_s): reminded at +70, +130, +190 s, each saying how long it has been down
    assert.match(
      every60.alertLines[1]?.msg ?? '',
      /still firing after 60 s: target www\/web1 has been down for 70 s/,
    );
    assert.deepEqual(
      every60.seen.map((i) => i.resolvedAt === null),
      [true, false],
      'a reminder is not a new incident',
    );
    assert.deepEqual(
      run(0).alertLines.map((l) => l.msg.split(':')[0]),
      ['ALERT firing down', 'ALERT resolved down'],
    );
  }),
);

test(
  'a warning incident is logged as a warning, a critical one as an error',
  withJournal((journal) => {
    const { t, s } = world();
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const m = new Monitor({ alerts, status: () => [s], journal, log, onIncident: () => {} });
    Object.assign(t, { oldestPendingAt: T0, pending: 1, state: 'misconfigured', stateSince: T0 });
    m.evaluateNow(T0 + 400_000);
    m.stop();
    assert.deepEqual(
      lines.filter((l) => l.msg.startsWith('ALERT')).map((l) => [l.msg.split(':')[0], l.level]),
      [
        ['ALERT firing misconfigured', 50],
        ['ALERT firing lag', 40],
      ],
    );
  }),
);

test(
  'an overflow fires the moment it is raised, so a catch-up that ends before the next look still leaves one firing and one resolve',
  withJournal((journal) => {
    const { s } = world();
    const seen: string[] = [];
    const m = new Monitor({
      alerts,
      status: () => [s],
      journal,
      log: silentLogger(),
      onIncident: (i) => seen.push(`${i.kind} ${i.resolvedAt === null ? 'firing' : 'resolved'}`),
    });
    const at = Date.now();
    (s.targets[0] as RuleTarget).lastFullSyncAt = at - 60_000;
    s.lastOverflowAt = at;
    m.onAlert({ kind: 'overflow', source: 'www', message: 'the queue overflowed', at });
    assert.deepEqual(seen, ['overflow firing'], 'fired at once, before any timer');
    // the catch-up full sync ends at once (a small tree), before the monitor looks again
    (s.targets[0] as RuleTarget).lastFullSyncAt = at + 1;
    m.evaluateNow(at + 2);
    assert.deepEqual(seen, ['overflow firing', 'overflow resolved']);
    m.stop();
  }),
);

test(
  'a relay that cannot be read fires relayUnreachable once as a warning, reminds while it lasts, and resolves once when it answers again',
  withJournal((journal) => {
    const { t, s } = world();
    const lines: { level: number; msg: string; reminder?: number }[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const seen: Incident[] = [];
    const m = new Monitor({
      alerts: { ...alerts, remindEveryS: 60 },
      status: () => [s],
      journal,
      log,
      onIncident: (i) => seen.push(i),
      startedAt: T0,
    });
    const api = 'http://10.0.0.2:8730';
    let relay = answeredView(api, 'www', [sampleTarget(T0, { target: 'r1a' })], T0);
    t.relay = relay;
    m.evaluateNow(T0 + 1_000);
    // read every poll_s, failing each time from T0 + 2 s on
    for (let k = 2; k <= 100; k += 2) {
      relay = unreachableView(relay, api, 'ECONNREFUSED', T0 + k * 1000);
      t.relay = relay;
      m.evaluateNow(T0 + k * 1000);
    }
    t.relay = answeredView(api, 'www', [sampleTarget(T0, { target: 'r1a' })], T0 + 102_000);
    m.evaluateNow(T0 + 102_000);
    m.stop();
    assert.deepEqual(
      seen.map((i) => [i.id, i.severity, i.firedAt - T0, i.resolvedAt === null ? null : i.resolvedAt - T0]),
      [
        ['relayUnreachable:www/web1', 'warning', 12_000, null],
        ['relayUnreachable:www/web1', 'warning', 12_000, 102_000],
      ],
    );
    assert.deepEqual(
      lines.filter((l) => l.msg.startsWith('ALERT')).map((l) => [l.msg.split(':')[0], l.level, l.reminder]),
      [
        ['ALERT firing relayUnreachable', 40, undefined],
        ['ALERT reminder relayUnreachable', 40, 1],
        ['ALERT resolved relayUnreachable', 30, undefined],
      ],
    );
  }),
);
