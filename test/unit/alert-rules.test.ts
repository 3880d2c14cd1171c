import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Condition,
  evaluate,
  type RuleAudit,
  type RuleSource,
  type RulesConfig,
  type RuleTarget,
  type Snapshot,
} from '../../src/monitor/rules.js';
import { answeredView, unreachableView } from '../../src/relay/index.js';
import type { RelayStatus } from '../../src/status/index.js';
import { sampleTarget } from '../helpers/status-sample.js';

const T0 = 1_800_000_000_000;
const rules: RulesConfig = {
  downAfterS: 60,
  misconfiguredAfterS: 0,
  lagAboveS: 300,
  watchUsageAbove: 0.9,
  unwatchedAfterS: 30,
};

function target(o: Partial<RuleTarget> = {}): RuleTarget {
  return {
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
    ...o,
  };
}

function source(targets: RuleTarget[] = [target()], o: Partial<RuleSource> = {}): RuleSource {
  return {
    name: 'www',
    path: '/srv/www',
    state: 'watching',
    watchedDirs: 100,
    maxUserWatches: 8192,
    lastOverflowAt: null,
    targets,
    ...o,
  };
}

function snap(sources: RuleSource[], o: Partial<Snapshot> = {}): Snapshot {
  return {
    startedAt: T0 - 1000,
    uncleanRestartAt: null,
    sources,
    noSpaceAt: {},
    watchLimit: {},
    lastCompletedAudit: {},
    ...o,
  };
}

const kinds = (cs: Condition[]) => cs.map((c) => c.kind);
const one = (cs: Condition[], kind: string): Condition => {
  const found = cs.filter((c) => c.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind} in ${JSON.stringify(kinds(cs))}`);
  return found[0] as Condition;
};

const audit = (o: Partial<RuleAudit> = {}): RuleAudit => ({
  at: T0,
  checksum: false,
  error: null,
  drift: { missing: 0, extra: 0, content: 0, metadata: 0 },
  ...o,
});

test('a healthy daemon has no conditions', () => {
  assert.deepEqual(evaluate(snap([source()]), rules, T0 + 10_000), []);
});

test('a down target is a condition only once it has been down for down_after_s', () => {
  const s = snap([source([target({ state: 'down', stateSince: T0, lastError: 'connection refused' })])]);
  assert.deepEqual(kinds(evaluate(s, rules, T0 + 59_999)), []);
  const c = one(evaluate(s, rules, T0 + 60_000), 'down');
  assert.equal(c.id, 'down:www/web1');
  assert.equal(c.severity, 'critical');
  assert.equal(c.target, 'web1');
  assert.match(c.message, /down for 60 s: connection refused/);
  assert.match(c.message, /check that the host/);
});

test('the condition id stays the same while the condition lasts, whatever its message says', () => {
  const s = snap([source([target({ state: 'down', stateSince: T0 })])]);
  const a = one(evaluate(s, rules, T0 + 61_000), 'down');
  const b = one(evaluate(s, rules, T0 + 600_000), 'down');
  assert.equal(a.id, b.id);
  assert.notEqual(a.message, b.message);
});

test('misconfigured fires after misconfigured_after_s (0: at once) and names the fix', () => {
  const t = target({ state: 'misconfigured', stateSince: T0, lastError: '@ERROR: auth failed on module m' });
  const c = one(evaluate(snap([source([t])]), { ...rules, configFile: '/etc/s.yaml' }, T0), 'misconfigured');
  assert.match(c.message, /auth failed on module m/);
  assert.match(c.message, /`syncward doctor -c \/etc\/s\.yaml` shows the details/);
  assert.deepEqual(
    kinds(evaluate(snap([source([t])]), { ...rules, misconfiguredAfterS: 30 }, T0 + 29_000)),
    [],
  );
  assert.deepEqual(kinds(evaluate(snap([source([t])]), { ...rules, misconfiguredAfterS: 30 }, T0 + 30_000)), [
    'misconfigured',
  ]);
});

test('lag fires on the oldest pending change above lag_above_s, not at it', () => {
  const t = target({ state: 'lagging', pending: 12, oldestPendingAt: T0 });
  assert.deepEqual(kinds(evaluate(snap([source([t])]), rules, T0 + 300_000)), []);
  const c = one(evaluate(snap([source([t])]), rules, T0 + 300_001), 'lag');
  assert.equal(c.severity, 'warning');
  assert.match(c.message, /300 s old \(12 pending\)/);
});

test('lag fires on the canary lag too, and says which', () => {
  const t = target({ canary: { lagMs: 301_000, missingSince: null } });
  const c = one(evaluate(snap([source([t])]), rules, T0), 'lag');
  assert.match(c.message, /canary took 301 s/);
  assert.doesNotMatch(c.message, /pending/);
  assert.deepEqual(
    kinds(evaluate(snap([source([target({ canary: { lagMs: 2000, missingSince: null } })])]), rules, T0)),
    [],
  );
});

test('a missing canary is critical while missingSince is set', () => {
  const t = target({ canary: { lagMs: 50, missingSince: T0 - 180_000 } });
  const c = one(evaluate(snap([source([t])]), rules, T0), 'canaryMissing');
  assert.equal(c.severity, 'critical');
  assert.match(c.message, /180 s ago/);
  assert.match(c.message, /watcher or the transfer path/);
});

test('a target down, misconfigured or held has no canaryMissing besides its own alert; back up, a canary still missing fires', () => {
  const canary = { lagMs: null, missingSince: T0 - 180_000 };
  for (const state of ['down', 'misconfigured', 'held'] as const) {
    const t = target({
      state,
      stateSince: T0 - 600_000,
      holdReason: state === 'held' ? 'max_delete' : null,
      canary,
    });
    const cs = evaluate(snap([source([t])]), rules, T0);
    assert.deepEqual(kinds(cs), [state], `${state}: one alert, its own`);
  }
  one(evaluate(snap([source([target({ state: 'idle', canary })])]), rules, T0), 'canaryMissing');
});

test('drift says how long ago the audit ran, not a raw timestamp', () => {
  const drifted = audit({
    at: T0 - 240_000,
    checksum: true,
    drift: { missing: 1, extra: 0, content: 0, metadata: 0 },
  });
  const c = one(
    evaluate(snap([source()], { lastCompletedAudit: { 'www/web1': drifted } }), rules, T0),
    'drift',
  );
  assert.match(c.message, /\(checksum audit 4 min ago\)/);
  assert.doesNotMatch(c.message, /\d{4}-\d{2}-\d{2}T/);
});

test('a target paused by an operator raises no lag and no missing canary: its changes wait on purpose', () => {
  const t = target({
    state: 'paused',
    pending: 40,
    oldestPendingAt: T0 - 3_600_000,
    canary: { lagMs: 900_000, missingSince: T0 - 900_000 },
  });
  assert.deepEqual(kinds(evaluate(snap([source([t])]), rules, T0)), []);
  // resumed and still behind: the same target lags
  assert.deepEqual(kinds(evaluate(snap([source([{ ...t, state: 'syncing' }])]), rules, T0)), [
    'lag',
    'canaryMissing',
  ]);
});

test('drift from the last completed audit fires, and a later clean audit resolves it', () => {
  const drifted = audit({ drift: { missing: 2, extra: 1, content: 0, metadata: 3 } });
  const s = snap([source()], { lastCompletedAudit: { 'www/web1': drifted } });
  const c = one(evaluate(s, { ...rules, configFile: '/etc/s.yaml' }, T0), 'drift');
  assert.match(c.message, /2 missing, 1 extra, 0 content, 3 metadata/);
  assert.match(c.message, /`syncward audit -c \/etc\/s\.yaml --source www --target web1 --repair`/);
  const clean = snap([source()], { lastCompletedAudit: { 'www/web1': audit({ at: T0 + 1 }) } });
  assert.deepEqual(kinds(evaluate(clean, rules, T0 + 2)), []);
});

test('an audit that could not run is its own warning and does not clear drift', () => {
  const drifted = audit({ drift: { missing: 1, extra: 0, content: 0, metadata: 0 } });
  const failed = audit({ at: T0 + 5, error: 'target is down: not audited' });
  const s = snap([source([target({ lastAudit: failed })])], { lastCompletedAudit: { 'www/web1': drifted } });
  const cs = evaluate(s, rules, T0 + 10);
  assert.deepEqual(kinds(cs).sort(), ['auditFailed', 'drift']);
  assert.match(one(cs, 'auditFailed').message, /target is down: not audited/);
});

test('an overflow stays until every target of the source had a full sync after it', () => {
  const at = T0 + 1000;
  const a = target({ target: 'a', lastFullSyncAt: T0 });
  const b = target({ target: 'b', lastFullSyncAt: T0 });
  const c = one(evaluate(snap([source([a, b], { lastOverflowAt: at })]), rules, at + 1), 'overflow');
  assert.equal(c.id, 'overflow:www');
  assert.equal(c.target, undefined);
  assert.match(c.message, /due on a, b/);
  const half = [target({ target: 'a', lastFullSyncAt: at + 500 }), b];
  assert.match(
    one(evaluate(snap([source(half, { lastOverflowAt: at })]), rules, at + 600), 'overflow').message,
    /due on b$|due on b;/,
  );
  const both = [
    target({ target: 'a', lastFullSyncAt: at + 500 }),
    target({ target: 'b', lastFullSyncAt: at + 900 }),
  ];
  assert.deepEqual(kinds(evaluate(snap([source(both, { lastOverflowAt: at })]), rules, at + 1000)), []);
});

test('a burst of overflows before the catch-up is one overflow condition that counts them', () => {
  const s = source([target({ lastFullSyncAt: T0 })], {
    lastOverflowAt: T0 + 300,
    overflowSpell: { since: T0, count: 27 },
  });
  const c = one(evaluate(snap([s]), rules, T0 + 2000), 'overflow');
  assert.match(c.message, /overflowed 27 times \(the first 2 s ago\) and events were lost/);
});

test("an overflow names the queue of the source's backend and the sysctl that sizes it", () => {
  const t = target({ lastFullSyncAt: T0 });
  const on = (watcher: 'inotify' | 'fanotify' | undefined) =>
    one(evaluate(snap([source([t], { lastOverflowAt: T0 + 1, watcher })]), rules, T0 + 2), 'overflow')
      .message;
  assert.match(
    on('fanotify'),
    /the kernel's fanotify queue overflowed .*raise fs\.fanotify\.max_queued_events$/,
  );
  assert.match(
    on('inotify'),
    /the kernel's inotify queue overflowed .*raise fs\.inotify\.max_queued_events$/,
  );
  // a status from before the field: inotify, the only backend then
  assert.match(on(undefined), /raise fs\.inotify\.max_queued_events$/);
});

test('a target that never had a full sync keeps an overflow open', () => {
  const t = target({ lastFullSyncAt: null });
  assert.deepEqual(kinds(evaluate(snap([source([t], { lastOverflowAt: T0 })]), rules, T0 + 1)), ['overflow']);
});

test('watch usage above the share of max_user_watches fires, at or below it does not', () => {
  const at = (dirs: number) =>
    kinds(evaluate(snap([source([target()], { watchedDirs: dirs, maxUserWatches: 1000 })]), rules, T0));
  assert.deepEqual(at(900), []);
  assert.deepEqual(at(901), ['watchUsage']);
  const c = one(
    evaluate(snap([source([target()], { watchedDirs: 950, maxUserWatches: 1000 })]), rules, T0),
    'watchUsage',
  );
  assert.match(c.message, /95% of fs.inotify.max_user_watches \(1000\)/);
  assert.match(c.message, /sysctl -w fs.inotify.max_user_watches=2000/);
  // an unreadable limit is not a reason to alert
  assert.deepEqual(
    kinds(evaluate(snap([source([target()], { watchedDirs: 10 ** 9, maxUserWatches: null })]), rules, T0)),
    [],
  );
});

test('a watch limit that was hit is an incident while directories still wait for a watch', () => {
  const limit = { www: { at: T0, message: 'cannot watch /srv/www/x: no inotify watches left' } };
  const waiting = { dirs: 2, since: T0, codes: ['ENOSPC'], sample: ['x', 'y'] };
  const c = one(
    evaluate(snap([source([target()], { unwatched: waiting })], { watchLimit: limit }), rules, T0 + 1),
    'watchLimit',
  );
  assert.equal(c.severity, 'critical');
  assert.match(c.message, /no inotify watches left/);
  assert.doesNotMatch(c.message, /restart/, 'syncward retries by itself');
  // the watcher's own message has the advice: the alert does not add a second one
  const real = {
    www: {
      at: T0,
      message:
        'cannot watch every directory under /srv/www: ... Raise it: sysctl -w fs.inotify.max_user_watches=4194304 (and in /etc/sysctl.d/ to keep it).',
    },
  };
  const said = one(
    evaluate(snap([source([target()], { unwatched: waiting })], { watchLimit: real }), rules, T0 + 1),
    'watchLimit',
  ).message;
  assert.equal(said.match(/sysctl -w/g)?.length, 1, said);
  assert.equal(said.match(/max_user_watches/g)?.length, 1, said);
  // the limit was raised and the retries watched them: it resolves
  const none = { dirs: 0, since: null, codes: [], sample: [] };
  assert.deepEqual(
    kinds(evaluate(snap([source([target()], { unwatched: none })], { watchLimit: limit }), rules, T0 + 1)),
    [],
  );
});

test('directories left unwatched fire `unwatched` once they stay so for unwatched_after_s, naming why and what to do', () => {
  const unwatched = { dirs: 7, since: T0, codes: ['EMFILE'], sample: ['a', 'b/c', 'd', 'e', 'f'] };
  const s = snap([source([target()], { unwatched })]);
  assert.deepEqual(kinds(evaluate(s, rules, T0 + 29_999)), [], 'not before the threshold');
  const c = one(evaluate(s, rules, T0 + 30_000), 'unwatched');
  assert.equal(c.severity, 'critical');
  assert.equal(c.id, 'unwatched:www');
  assert.match(
    c.message,
    /7 directories could not be listed or watched for 30 s \(EMFILE: a, b\/c, d, e, f, \.\.\.\)/,
  );
  assert.match(c.message, /out of file descriptors: raise LimitNOFILE/);
  const back = snap([source([target()], { unwatched: { dirs: 0, since: null, codes: [], sample: [] } })]);
  assert.deepEqual(kinds(evaluate(back, rules, T0 + 60_000)), [], 'resolved once they are watched');
});

test('a source that cannot be watched at all is `unwatched` at once, and resolves once it is watched', () => {
  const c = one(evaluate(snap([source([target()], { state: 'missing' })]), rules, T0), 'unwatched');
  assert.equal(c.severity, 'critical');
  assert.match(c.message, /source www: \/srv\/www cannot be watched .*nothing in it is synced/);
  assert.deepEqual(kinds(evaluate(snap([source([target()], { state: 'watching' })]), rules, T0)), []);
});

test('stuck paths and a held target are conditions for as long as they last', () => {
  const cs = evaluate(
    snap([
      source([target({ stuck: 3, holdReason: 'would delete 5000 entries, more than max_delete 1000' })]),
    ]),
    rules,
    T0,
  );
  assert.deepEqual(kinds(cs).sort(), ['held', 'stuck']);
  // these rules know neither a config file nor a state_dir: no command that would fail as printed
  assert.match(one(cs, 'held').message, /until an operator checks and resumes it$/);
  assert.match(one(cs, 'held').message, /max_delete 1000/);
  assert.match(one(cs, 'stuck').message, /3 path\(s\)/);
});

test("a held alert names the resume command with the daemon's config file, quoted, so it runs as printed from any directory", () => {
  const held = target({ holdReason: 'would delete 5000 entries, more than max_delete 1000' });
  const cs = evaluate(snap([source([held])]), { ...rules, configFile: '/etc/sync ward/s.yaml' }, T0);
  assert.match(one(cs, 'held').message, /runs: `syncward resume -c '\/etc\/sync ward\/s\.yaml' www\/web1`$/);
});

test('a daemon started without a config file is named by its state_dir in the commands its alerts print', () => {
  const held = target({ holdReason: 'would delete 5000 entries, more than max_delete 1000' });
  const cs = evaluate(snap([source([held])]), { ...rules, stateDir: '/var/lib/syncward/www-1' }, T0);
  assert.match(
    one(cs, 'held').message,
    /runs: `syncward resume --state-dir \/var\/lib\/syncward\/www-1 www\/web1`$/,
  );
  const drift = evaluate(
    snap([source([target({})])], {
      lastCompletedAudit: {
        'www/web1': {
          at: T0,
          checksum: false,
          error: null,
          drift: { missing: 1, extra: 0, content: 0, metadata: 0 },
        },
      },
    }),
    { ...rules, stateDir: '/var/lib/syncward/www-1' },
    T0,
  );
  // audit needs a config file: the alert names what works without one instead
  assert.doesNotMatch(one(drift, 'drift').message, /syncward audit/);
  assert.match(one(drift, 'drift').message, /Full sync/);
});

test('an unclean restart stays until every target had a full sync after the start', () => {
  const startedAt = T0;
  const s = (a: number | null, b: number | null) =>
    snap([source([target({ target: 'a', lastFullSyncAt: a }), target({ target: 'b', lastFullSyncAt: b })])], {
      startedAt,
      uncleanRestartAt: startedAt,
    });
  const c = one(evaluate(s(null, null), rules, T0 + 1), 'uncleanRestart');
  assert.equal(c.id, 'uncleanRestart:*');
  assert.equal(c.source, '*');
  assert.match(c.message, /2 target\(s\)/);
  // a full sync from before the start does not count
  assert.deepEqual(kinds(evaluate(s(T0 - 5, T0 + 10), rules, T0 + 20)), ['uncleanRestart']);
  assert.deepEqual(kinds(evaluate(s(T0 + 5, T0 + 10), rules, T0 + 20)), []);
  // a clean start has none
  assert.deepEqual(kinds(evaluate({ ...s(null, null), uncleanRestartAt: null }, rules, T0 + 1)), []);
});

test('a vanished source root is critical and says how to bring the source back', () => {
  const cs = evaluate(
    snap([
      source([target({ state: 'held', holdReason: 'source root /srv/www was removed' })], {
        state: 'rootGone',
      }),
    ]),
    rules,
    T0,
  );
  assert.deepEqual(kinds(cs).sort(), ['held', 'rootGone']);
  assert.match(one(cs, 'rootGone').message, /SIGHUP/);
  assert.equal(one(cs, 'rootGone').id, 'rootGone:www');
});

test('no space is latched from the raw alert until the target next succeeds', () => {
  const at = T0 + 100;
  const s = (lastSuccessAt: number | null) =>
    snap([source([target({ state: 'down', stateSince: at, lastSuccessAt })])], {
      noSpaceAt: { 'www/web1': at },
    });
  assert.deepEqual(kinds(evaluate(s(T0), rules, at + 1)), ['noSpace']);
  assert.deepEqual(kinds(evaluate(s(null), rules, at + 1)), ['noSpace']);
  assert.deepEqual(kinds(evaluate(s(at + 50), rules, at + 60)), []);
});

test('conditions of different targets and sources are separate, with their own ids', () => {
  const down = (name: string) => target({ target: name, state: 'down', stateSince: T0 });
  const cs = evaluate(
    snap([source([down('a'), down('b')]), source([down('a')], { name: 'img', path: '/srv/img' })]),
    rules,
    T0 + 120_000,
  );
  assert.deepEqual(
    cs.map((c) => c.id),
    ['down:www/a', 'down:www/b', 'down:img/a'],
  );
});

test('evaluate is pure: the same snapshot and time give the same conditions, the input is untouched', () => {
  const s = snap([source([target({ state: 'down', stateSince: T0, stuck: 1 })], { lastOverflowAt: T0 })], {
    noSpaceAt: { 'www/web1': T0 },
  });
  const before = JSON.stringify(s);
  assert.deepEqual(evaluate(s, rules, T0 + 90_000), evaluate(s, rules, T0 + 90_000));
  assert.equal(JSON.stringify(s), before);
});

test('a relay whose API cannot be read for down_after_s is one relayUnreachable warning on its target, naming the API, the error and the targets it hides', () => {
  const read = answeredView(
    'http://10.0.0.2:8730',
    'www',
    [sampleTarget(T0, { target: 'r1a' }), sampleTarget(T0, { target: 'r1b' })],
    T0,
  );
  const lost = unreachableView(
    read,
    'http://10.0.0.2:8730',
    'ECONNREFUSED: connect ECONNREFUSED 10.0.0.2:8730',
    T0 + 5_000,
  );
  const relayTarget = (relay: RelayStatus) => snap([source([target({ target: 'r1', relay })])]);
  assert.deepEqual(evaluate(relayTarget(read), rules, T0 + 600_000), [], 'a relay that answers');
  assert.deepEqual(kinds(evaluate(relayTarget(lost), rules, T0 + 64_999)), [], 'not before down_after_s');
  const c = one(evaluate(relayTarget(lost), rules, T0 + 65_000), 'relayUnreachable');
  assert.equal(c.id, 'relayUnreachable:www/r1');
  assert.equal(c.severity, 'warning');
  assert.equal(
    c.message,
    'target www/r1 is a relay whose API http://10.0.0.2:8730 cannot be read for 60 s (ECONNREFUSED: connect ECONNREFUSED 10.0.0.2:8730): its targets r1a, r1b show as unknown here, not as in sync (the relay keeps alerting for them itself, if it runs); check that its syncward runs and that its api.listen is reachable from here, with relay.token_file matching its api.token_file',
  );
  // the next failed read keeps its first failure's time: one condition, the same id
  const still = unreachableView(lost, 'http://10.0.0.2:8730', 'no answer within 10 s', T0 + 300_000);
  assert.equal(one(evaluate(relayTarget(still), rules, T0 + 300_000), 'relayUnreachable').id, c.id);
  // never read since the start: its targets are not known at all
  const never = unreachableView(null, 'http://10.0.0.2:8730', 'HTTP 401', T0);
  assert.match(
    one(evaluate(relayTarget(never), rules, T0 + 60_000), 'relayUnreachable').message,
    /cannot be read for 60 s \(HTTP 401\): its targets are not known here, not as in sync/,
  );
  // it answers again: the condition is gone (the monitor resolves the incident)
  const back = answeredView(
    'http://10.0.0.2:8730',
    'www',
    [sampleTarget(T0, { target: 'r1a' })],
    T0 + 400_000,
  );
  assert.deepEqual(evaluate(relayTarget(back), rules, T0 + 400_000), []);
});

test("the relay's own targets, and tiers further down, raise nothing upstream: the relay alerts for them", () => {
  const deeper = unreachableView(
    answeredView('http://10.0.0.3:8730', 'www', [sampleTarget(T0, { target: 'x' })], T0),
    'http://10.0.0.3:8730',
    'ECONNREFUSED',
    T0,
  );
  const relay = answeredView(
    'http://10.0.0.2:8730',
    'www',
    [
      sampleTarget(T0, { target: 'r1a', state: 'down', stateSince: T0 - 3_600_000, lastError: 'refused' }),
      sampleTarget(T0, { target: 'r1b', state: 'held', holdReason: '1200 deletes > max_delete 1000' }),
      sampleTarget(T0, {
        target: 'r1c',
        pending: 9,
        oldestPendingAt: T0 - 3_600_000,
        stuck: 4,
        relay: deeper,
      }),
    ],
    T0,
  );
  assert.deepEqual(evaluate(snap([source([target({ target: 'r1', relay })])]), rules, T0 + 600_000), []);
});
