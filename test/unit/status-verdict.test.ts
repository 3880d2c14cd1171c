import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiStatus } from '../../src/api/index.js';
import { duration, lagText, STATUS_EXIT, statusText, statusVerdict } from '../../src/cli/status.js';
import type { Incident, SourceStatus, TargetStatus } from '../../src/daemon/index.js';
import type { LeafStatus, RelayStatus } from '../../src/status/index.js';
import { sampleCanary, sampleLeaf, sampleRelay, sampleTarget } from '../helpers/status-sample.js';

const NOW = 1_800_000_000_000;

const target = (o: Partial<TargetStatus> = {}): TargetStatus => sampleTarget(NOW, o);

function status(targets: TargetStatus[], o: { alerts?: Incident[]; source?: Partial<SourceStatus> } = {}) {
  const s: ApiStatus = {
    version: '0.1.0',
    pid: 1,
    startedAt: NOW - 3_600_000,
    now: NOW,
    sources: [
      {
        name: 'www',
        path: '/srv/www',
        state: 'watching',
        watcher: 'inotify',
        watchedDirs: 10,
        overflows: 0,
        lastOverflowAt: null,
        overflowSpell: null,
        maxUserWatches: 8192,
        unwatched: { dirs: 0, since: null, codes: [], sample: [] },
        targets,
        ...o.source,
      },
    ],
    alerts: o.alerts ?? [],
    recentErrors: [],
  };
  return s;
}

const incident = (severity: Incident['severity'], resolvedAt: number | null = null): Incident => ({
  id: `lag:www:web1`,
  kind: 'lag',
  severity,
  source: 'www',
  target: 'web1',
  message: 'lag is 400 s',
  firedAt: NOW - 30_000,
  resolvedAt,
});

const missingCanary = {
  lastWrittenAt: NOW - 200_000,
  lastArrivedAt: null,
  lagMs: null,
  missingSince: NOW - 200_000,
};

const audit = (o: { error?: string | null; extra?: number } = {}) => ({
  at: NOW - 120_000,
  checksum: false,
  ok: !o.error && !o.extra,
  error: o.error ?? null,
  drift: { missing: 0, extra: o.extra ?? 0, content: 0, metadata: 0 },
  pending: 0,
});

describe('status exit code (Nagios: 0 ok, 1 warning, 2 critical)', () => {
  test('idle, syncing and starting targets with nothing wrong are ok', () => {
    for (const state of ['idle', 'syncing', 'starting'] as const) {
      const v = statusVerdict(status([target({ state }), target({ target: 'web2', state: 'idle' })]));
      assert.equal(v.code, STATUS_EXIT.ok, state);
      assert.deepEqual(v.problems, []);
    }
  });

  test('a clean audit and a resolved incident are ok', () => {
    const v = statusVerdict(
      status([target({ lastAudit: audit() })], { alerts: [incident('critical', NOW - 1000)] }),
    );
    assert.equal(v.code, STATUS_EXIT.ok);
  });

  test('lagging, paused, stuck paths, drift, a failed audit and warning incidents warn', () => {
    const cases: [string, ApiStatus, RegExp][] = [
      ['lagging', status([target({ state: 'lagging', stateReason: 'oldest 90 s' })]), /lagging: oldest 90 s/],
      [
        'paused',
        status([target({ state: 'paused', pausedSince: NOW - 120_000, pending: 7 })]),
        /www\/web1 is paused by an operator since 2m00s; 7 change\(s\) wait in the journal; lift it with the dashboard's Resume/,
      ],
      ['stuck', status([target({ stuck: 3 })]), /3 stuck path/],
      [
        'stuck, by name',
        status([target({ stuck: 2, stuckPaths: ['locked-out.bin', 'a/deep'] })]),
        /2 stuck path\(s\) that fail every transfer \(locked-out\.bin, a\/deep\)/,
      ],
      ['drift', status([target({ lastAudit: audit({ extra: 2 }) })]), /found drift: 2 extra/],
      ['audit failed', status([target({ lastAudit: audit({ error: 'target down' }) })]), /could not run/],
      ['incident', status([target()], { alerts: [incident('warning')] }), /alert lag: lag is 400 s/],
    ];
    for (const [name, s, message] of cases) {
      const v = statusVerdict(s);
      assert.equal(v.code, STATUS_EXIT.warning, name);
      assert.match(v.problems.map((p) => p.message).join('\n'), message, name);
    }
  });

  test('a missing canary is critical, as its alert is; on a down target only the down line says so', () => {
    const missing = statusVerdict(status([target({ canary: missingCanary })]));
    assert.equal(missing.code, STATUS_EXIT.critical);
    assert.deepEqual(missing.problems, [
      { severity: 'critical', message: 'www/web1: the canary written 3m20s ago has not arrived' },
    ]);
    const down = statusVerdict(
      status([
        target({
          state: 'down',
          stateReason: 'connection refused',
          failures: 7,
          canary: missingCanary,
        }),
      ]),
    );
    assert.deepEqual(
      down.problems.map((p) => p.message),
      ['www/web1 is down since 1m00s: connection refused (7 failed tries, retrying with backoff)'],
    );
  });

  test('down, misconfigured, held, a source gone and critical incidents are critical, even beside warnings', () => {
    const cases: [string, ApiStatus, RegExp][] = [
      [
        'down',
        status([target({ state: 'down', stateReason: 'connection refused' })]),
        /www\/web1 is down since 1m00s: connection refused/,
      ],
      [
        'misconfigured',
        status([target({ state: 'misconfigured', stateReason: 'auth failed' })]),
        /misconfigured .*auth failed/,
      ],
      [
        'held',
        status([target({ state: 'held', holdReason: '1200 deletes > max_delete 1000' })]),
        /on hold: 1200 deletes.*the dashboard's Resume/,
      ],
      ['source missing', status([target()], { source: { state: 'missing' } }), /source www is missing/],
      ['source gone', status([target()], { source: { state: 'rootGone' } }), /source www is gone/],
      ['incident', status([target({ state: 'lagging' })], { alerts: [incident('critical')] }), /alert lag/],
    ];
    for (const [name, s, message] of cases) {
      const v = statusVerdict(s);
      assert.equal(v.code, STATUS_EXIT.critical, name);
      assert.match(v.problems.map((p) => p.message).join('\n'), message, name);
    }
  });
});

describe('status text', () => {
  test('a full sync in flight is listed under the table with its figures', () => {
    const progress = {
      kind: 'full' as const,
      startedAt: NOW - 30_000,
      at: NOW - 1000,
      bytes: 12_900_000,
      rate: 4_300_000,
      percent: 40,
      files: 96,
      checked: 1204,
      total: 3000,
      listComplete: false,
    };
    const s = status([target({ state: 'syncing', progress }), target({ target: 'web2' })]);
    assert.match(
      statusText(s, statusVerdict(s)),
      /\nFull syncs running:\n {2}www\/web1: 40%, 1,204\/3,000\+ files checked, 96 sent, 12\.3 MiB, 4\.1 MiB\/s, 30 s so far\n\nsyncward OK/,
    );
  });

  test('one row per target with state, pending, lag, last sync and last audit, then alerts and the verdict', () => {
    const s = status(
      [
        target({ lastAudit: audit() }),
        target({
          target: 'web2',
          state: 'down',
          pending: 7,
          oldestPendingAt: NOW - 75_000,
          stateReason: 'refused',
        }),
      ],
      { alerts: [incident('critical')] },
    );
    const text = statusText(s, statusVerdict(s));
    const lines = text.split('\n');
    assert.match(lines[0] as string, /^SOURCE +TARGET +STATE +PENDING +LAG +LAST SYNC +LAST AUDIT$/);
    assert.match(lines[1] as string, /^www +web1 +idle +0 +- +5s ago +in sync, 2m00s ago$/);
    assert.match(lines[2] as string, /^www +web2 +down +7 +1m15s +5s ago +never$/);
    assert.match(text, /Open alerts:\n {2}CRITICAL lag \(for 30s\): lag is 400 s/);
    assert.match(
      text,
      /syncward CRITICAL: 1 problem\(s\), 1 open alert\(s\)\n {2}CRITICAL www\/web2 is down/,
    );
    assert.doesNotMatch(
      text.split('syncward CRITICAL')[1] as string,
      /lag is 400 s/,
      'alerts are listed once',
    );
  });

  test('a healthy daemon ends with an OK line', () => {
    const s = status([target()]);
    assert.match(statusText(s, statusVerdict(s)), /\nsyncward OK: 1 target\(s\) healthy\n$/);
  });

  test('a held target names the resume command the way the operator named the daemon', () => {
    const s = status([target({ state: 'held', holdReason: 'source root emptied' })]);
    const byFile = statusVerdict(s, { configFile: '/etc/sync ward.yaml', stateDir: '/var/lib/syncward' });
    assert.match(
      byFile.problems[0]?.message ?? '',
      /lift it with `syncward resume -c '\/etc\/sync ward\.yaml' www\/web1`$/,
    );
    const byDir = statusVerdict(s, { stateDir: '/var/lib/syncward/www-1' });
    assert.match(
      byDir.problems[0]?.message ?? '',
      /lift it with `syncward resume --state-dir \/var\/lib\/syncward\/www-1 www\/web1`$/,
    );
  });

  test('the LAG column keeps a sub-second lag (238 ms is not 0s)', () => {
    assert.equal(lagText(238), '238ms');
    assert.equal(lagText(0), '0ms');
    assert.equal(lagText(2_449), '2.4s');
    assert.equal(lagText(75_000), '1m15s');
    const s = status([
      target({ pending: 2, oldestPendingAt: NOW - 238 }),
      target({ target: 'web2', canary: { lagMs: 41, missingSince: null } as TargetStatus['canary'] }),
    ]);
    const lines = statusText(s, statusVerdict(s)).split('\n');
    assert.match(lines[1] as string, /^www +web1 +idle +2 +238ms +/);
    assert.match(lines[2] as string, /^www +web2 +idle +0 +41ms \(canary\) +/);
  });

  test('durations read as people say them', () => {
    assert.equal(duration(0), '0s');
    assert.equal(duration(59_400), '59s');
    assert.equal(duration(192_000), '3m12s');
    assert.equal(duration(2 * 3_600_000 + 5 * 60_000), '2h05m');
    assert.equal(duration(3 * 86_400_000 + 4 * 3_600_000), '3d04h');
    assert.equal(duration(-5), '0s');
  });
});

const leaf = (o: Partial<LeafStatus> = {}): LeafStatus => sampleLeaf(NOW, o);
const relay = (leaves: LeafStatus[], o: Partial<RelayStatus> = {}): RelayStatus =>
  sampleRelay(NOW, leaves, o);

/** A relay that cannot be read since `ago` ms. */
const unreachable = (leaves: LeafStatus[], ago: number, error: string, o: Partial<RelayStatus> = {}) =>
  relay(leaves, { state: 'unreachable', since: NOW - ago, error, ...o });

const lagged = (lagMs: number) => sampleCanary(NOW, lagMs);

describe('relay tiers in status', () => {
  test('a relay whose targets are all in sync is ok', () => {
    const s = status([
      target({ target: 'r1', relay: relay([leaf(), leaf({ target: 'r1b', state: 'syncing' })]) }),
    ]);
    assert.deepEqual(statusVerdict(s), { code: STATUS_EXIT.ok, problems: [] });
  });

  test("a relay's target unknown, down, misconfigured or on hold warns, and never more: the relay alerts for it", () => {
    const cases: [string, LeafStatus, RegExp][] = [
      [
        'down',
        leaf({ state: 'down', stateReason: 'connection refused' }),
        /^www\/r1 → r1a is down since 1m00s: connection refused \(the relay at http:\/\/10\.0\.0\.2:8730 alerts for it\)$/,
      ],
      ['misconfigured', leaf({ state: 'misconfigured', stateReason: 'auth failed' }), /r1a is misconfigured/],
      [
        'held',
        leaf({ state: 'held', holdReason: '1200 deletes > max_delete 1000' }),
        /^www\/r1 → r1a is on hold: 1200 deletes > max_delete 1000; lift it on the relay \(http:\/\/10\.0\.0\.2:8730\)$/,
      ],
      [
        'unknown',
        leaf({ state: 'unknown', stateReason: 'not reported' }),
        /^www\/r1 → r1a is unknown: not reported$/,
      ],
    ];
    for (const [name, l, message] of cases) {
      const v = statusVerdict(status([target({ target: 'r1', relay: relay([l, leaf({ target: 'r1b' })]) })]));
      assert.equal(v.code, STATUS_EXIT.warning, name);
      assert.equal(v.problems.length, 1, name);
      assert.match(v.problems[0]?.message ?? '', message, name);
    }
    // lagging or paused leaves are the relay's business: its own status and alerts say so
    for (const state of ['lagging', 'paused'] as const) {
      const v = statusVerdict(status([target({ target: 'r1', relay: relay([leaf({ state })]) })]));
      assert.equal(v.code, STATUS_EXIT.ok, state);
    }
  });

  test('a relay that cannot be read is one warning for its whole subtree, with its error and since when', () => {
    const down = unreachable(
      [
        leaf({ state: 'unknown' }),
        leaf({
          target: 'r1b',
          state: 'unknown',
          relay: unreachable([leaf({ target: 'x', state: 'unknown' })], 30_000, 'not known'),
        }),
      ],
      45_000,
      'ECONNREFUSED: connect ECONNREFUSED 10.0.0.2:8730',
    );
    const v = statusVerdict(status([target({ target: 'r1', relay: down })]));
    assert.equal(v.code, STATUS_EXIT.warning);
    assert.deepEqual(
      v.problems.map((p) => p.message),
      [
        "www/r1: the relay's API http://10.0.0.2:8730 cannot be read since 45s (ECONNREFUSED: connect ECONNREFUSED 10.0.0.2:8730); its target(s) r1a, r1b are unknown, not known to be in sync",
      ],
    );
    // never read at all: nothing known of its targets, still not ok
    const never = statusVerdict(
      status([
        target({
          target: 'r1',
          relay: unreachable([], 5_000, 'HTTP 401'),
        }),
      ]),
    );
    assert.equal(never.code, STATUS_EXIT.warning);
    assert.match(
      never.problems[0]?.message ?? '',
      /cannot be read since 5s \(HTTP 401\); its targets are not known$/,
    );
  });

  test('a tier further down is named by its path, and a relay there that cannot be read warns', () => {
    const deep = relay([
      leaf({
        target: 'r1a',
        relay: relay([leaf({ target: 'x', state: 'held', holdReason: 'source root emptied' })], {
          api: 'http://10.0.0.3:8730',
        }),
      }),
      leaf({
        target: 'r1b',
        relay: unreachable([leaf({ target: 'y', state: 'unknown' })], 10_000, 'no answer within 10 s', {
          api: 'http://10.0.0.4:8730',
        }),
      }),
    ]);
    const v = statusVerdict(status([target({ target: 'r1', relay: deep })]));
    assert.equal(v.code, STATUS_EXIT.warning);
    assert.deepEqual(
      v.problems.map((p) => p.message),
      [
        'www/r1 → r1a → x is on hold: source root emptied; lift it on the relay (http://10.0.0.3:8730)',
        "www/r1 → r1b: the relay's API http://10.0.0.4:8730 cannot be read since 10s (no answer within 10 s); its target(s) y are unknown, not known to be in sync",
      ],
    );
  });

  test('one indented row per leaf under its relay target, with its canary lag and what is wrong with it', () => {
    const s = status([
      target({
        target: 'r1',
        relay: relay([
          leaf({ canary: lagged(412) }),
          leaf({
            target: 'r1b',
            state: 'held',
            pending: 3,
            holdReason: '1200 deletes > max_delete 1000',
            relay: relay([leaf({ target: 'x', canary: lagged(2_449) })]),
          }),
        ]),
      }),
      target({
        target: 'r2',
        state: 'down',
        relay: unreachable(
          [leaf({ target: 'r2a', state: 'unknown', pending: 5, canary: lagged(300) })],
          45_000,
          'ECONNREFUSED',
        ),
      }),
    ]);
    const lines = statusText(s, statusVerdict(s)).split('\n');
    assert.match(lines[1] as string, /^www +r1 +idle +0 +- +5s ago +never$/);
    assert.match(lines[2] as string, /^ +└ r1a +idle +0 +412ms \(canary\) +3s ago +-$/);
    assert.match(
      lines[3] as string,
      /^ +└ r1b +held +3 +- +3s ago +on hold: 1200 deletes > max_delete 1000$/,
    );
    assert.match(lines[4] as string, /^ +└ x +idle +0 +2\.4s \(canary\) +3s ago +-$/);
    assert.match(lines[5] as string, /^www +r2 +down /);
    // the last word of an unreadable relay is no figure of now
    assert.match(lines[6] as string, /^ +└ r2a +unknown +- +- +3s ago +relay unreachable since 45s$/);
    assert.equal(lines[3]?.indexOf('└'), lines[2]?.indexOf('└'), 'one tier, one indent');
    assert.equal(lines[4]?.indexOf('└'), (lines[2]?.indexOf('└') ?? 0) + 2, 'a tier deeper, further in');
  });
});
