import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AlertMessage } from '../../src/monitor/index.js';
import { alertReceiver, countEvaluations, received, webhooksYaml } from '../helpers/alerts.js';
import {
  configYaml,
  converged,
  type LogLine,
  recordingLogger,
  startDaemon,
  tempStateDir,
} from '../helpers/daemon.js';
import { canChangeQueue, withSmallQueue } from '../helpers/queue.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { rsyncdTarget } from '../helpers/targets.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const ERROR = 50;
const WARN = 40;
const DEBUG = 20;

const of = (ms: AlertMessage[], id: string) => ms.filter((m) => m.incident.id === id);
/** "firing", "reminder 1", ..., "resolved": what a receiver got for one incident, in order */
const story = (ms: AlertMessage[]) =>
  ms.map((m) => (m.reminder === undefined ? m.event : `reminder ${m.reminder}`));
const byLevel = (lines: LogLine[], level: number) => lines.filter((l) => l.level === level);

/** A source, a state dir, a webhook receiver and a real rsyncd target; dispose() removes them all. */
async function world(name: string) {
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir(`syncward-firing-${name}-`);
  const state = tempStateDir();
  const hook = await alertReceiver();
  return {
    rsyncd,
    src,
    state,
    hook,
    target: rsyncdTarget(rsyncd),
    dispose: async () => {
      await hook.close();
      await rsyncd.dispose();
      rmSync(src, { recursive: true, force: true });
      state.dispose();
    },
  };
}

test('a target down pages once after down_after_s, reminds while it stays down, resolves once; its retries are counted at debug and no canaryMissing comes with it', async (t) => {
  const w = await world('down');
  const { rsyncd, src, state, hook, target } = w;
  const yaml = `${configYaml({
    stateDir: state.dir,
    source: src,
    targets: [target],
    extra: '    canary: { interval_s: 1, timeout_s: 2 }',
  })}${webhooksYaml([hook.url], ['down_after_s: 3', 'remind_every_s: 2'])}`;
  const { log, lines } = recordingLogger();
  const d = await startDaemon(yaml, { log });
  const daemonTarget = () => d.daemon.status()[0]?.targets[0];
  const id = 'down:src/daemon';
  try {
    writeFileSync(join(src, 'before'), 'x');
    await converged(src, [target], 30_000, 'initial sync');
    await waitFor(() => daemonTarget()?.canary?.lagMs != null, 30_000, 'a canary to arrive');
    const from = lines.length;

    await rsyncd.stop();
    writeFileSync(join(src, 'during-outage'), 'y');
    await received(hook, id, 'firing');
    // it stays down: reminders come every remind_every_s, and the worker keeps retrying
    await waitFor(
      () => of(hook.accepted(), id).filter((m) => m.reminder !== undefined).length >= 2,
      30_000,
      'two reminders of the down incident',
    );
    await waitFor(() => (daemonTarget()?.failures ?? 0) >= 3, 30_000, 'three failed tries in status');
    const outage = lines.slice(from);

    await rsyncd.restart();
    await received(hook, id, 'resolved', 60_000);
    await converged(src, [target], 30_000, 'the target caught up');
    // the monitor looks again with nothing firing: a reminder after the resolve would show up here
    const evaluations = countEvaluations(d.daemon);
    await waitFor(() => evaluations() >= 3, 60_000, 'three evaluations after the resolve');
    await d.daemon.flushNotifications();

    const down = of(hook.accepted(), id);
    const reminders = down.filter((m) => m.reminder !== undefined);
    const failedTries = outage.filter((l) => /^(transfer|full sync) src -> daemon failed/.test(l.msg)).length;
    t.diagnostic(
      `${failedTries} failed tries, ${reminders.length} reminders, ${outage.length} log lines during the outage`,
    );
    assert.deepEqual(
      story(down),
      ['firing', ...reminders.map((_, i) => `reminder ${i + 1}`), 'resolved'],
      'one firing, its reminders in order, one resolve, nothing after it',
    );
    for (const r of reminders) {
      assert.equal(r.event, 'firing', 'a reminder is a firing message, so any receiver shows it');
      assert.equal(r.incident.firedAt, down[0]?.incident.firedAt, 'the same incident');
      assert.match(
        r.text,
        /^\[critical\] down still firing after \d+ s: target src\/daemon has been down for \d+ s/,
      );
    }
    assert.deepEqual(
      [...new Set(hook.accepted().map((m) => m.incident.kind))],
      ['down'],
      'the down alert explains the missing canary: no canaryMissing page',
    );

    // the log: no error before the page; the page and its reminders are the only errors
    const errors = byLevel(outage, ERROR).map((l) => l.msg.split(':')[0]);
    assert.equal(errors[0], 'ALERT firing down', `the first error is the page: ${errors.join(' | ')}`);
    assert.deepEqual(
      errors.slice(1),
      errors.slice(1).map(() => 'ALERT reminder down'),
    );
    // one warning for the failure that made it down, and the state change; each retry after it at debug
    const failed = (level: number) =>
      byLevel(outage, level).filter((l) => /^(transfer|full sync) src -> daemon failed/.test(l.msg)).length;
    assert.equal(failed(WARN), 1, 'the first failure is a warning');
    assert.ok(failed(DEBUG) >= 2, `the retries are debug lines (${failed(DEBUG)})`);
    assert.equal(
      byLevel(outage, WARN).filter((l) => /-> down/.test(l.msg)).length,
      1,
      'one state change to down',
    );
    assert.ok(
      !outage.some((l) => /canaryMissing/.test(l.msg) && l.level >= WARN),
      'no canaryMissing in the log',
    );
  } finally {
    await d.dispose();
    await w.dispose();
  }
});

test('a target whose host name does not resolve is misconfigured at once, says so, and is not retried as an outage', async () => {
  const src = await makeTempDir('syncward-firing-dns-src-');
  const state = tempStateDir();
  const hook = await alertReceiver();
  const target = { name: 'typo', url: 'rsync://syncward@nohost.invalid/www', dir: '' };
  const { log, lines } = recordingLogger();
  const d = await startDaemon(
    `${configYaml({ stateDir: state.dir, source: src, targets: [target] })}${webhooksYaml([hook.url])}`,
    { log },
  );
  try {
    const firing = await received(hook, 'misconfigured:src/typo', 'firing');
    assert.match(
      firing.incident.message,
      /target src\/typo is misconfigured: the target host name does not resolve \(getaddrinfo: nohost\.invalid 873: .+\): fix the host in the target URL, or the DNS/,
    );
    const t = d.daemon.status()[0]?.targets[0];
    assert.equal(t?.state, 'misconfigured');
    assert.ok(
      !hook.accepted().some((m) => m.incident.kind === 'down'),
      'an unresolvable name is not an outage',
    );
    assert.equal(byLevel(lines, ERROR).filter((l) => /^ALERT/.test(l.msg)).length, 1, 'one page in the log');
  } finally {
    await d.dispose();
    await hook.close();
    rmSync(src, { recursive: true, force: true });
    state.dispose();
  }
});

test('a burst of inotify overflows is one overflow alert with a count, fired once and resolved once after the catch-up', async (t) => {
  if (!canChangeQueue()) {
    t.skip('cannot change fs.inotify.max_queued_events (needs root)');
    return;
  }
  const w = await world('overflow');
  const { src, state, hook, target } = w;
  const { log, lines } = recordingLogger();
  const d = await withSmallQueue(16, () =>
    startDaemon(
      `${configYaml({ stateDir: state.dir, source: src, targets: [target] })}${webhooksYaml([hook.url])}`,
      {
        log,
      },
    ),
  );
  let overflows = 0;
  d.daemon.on('overflow', () => overflows++);
  try {
    await converged(src, [target]);
    // bursts far past the 16-event queue, without yielding to the event loop, several times over
    for (let round = 0; round < 5; round++) {
      for (let j = 0; j < 300; j++) writeFileSync(join(src, `r${round}-${j}`), `${j}\n`);
      mkdirSync(join(src, `dir${round}`));
      for (let j = 0; j < 50; j++) writeFileSync(join(src, `dir${round}`, `f${j}`), `${j}\n`);
      await new Promise((r) => setImmediate(r));
    }
    await converged(src, [target], 60_000, 'the target converges after the overflows');
    await received(hook, 'overflow:src', 'resolved', 60_000);
    await d.daemon.flushNotifications();
    assert.ok(overflows >= 1, 'the queue overflowed');
    const msgs = of(hook.accepted(), 'overflow:src');
    // a burst is one alert; a second overflow after a completed catch-up would start a second one
    const spells = byLevel(lines, WARN).filter((l) => /^ALERT overflow:/.test(l.msg)).length;
    const firings = msgs.filter((m) => m.event === 'firing').length;
    assert.ok(
      firings >= 1 && firings <= spells,
      `${firings} firing(s) for ${spells} spell(s) of ${overflows} overflows`,
    );
    assert.deepEqual(
      story(msgs),
      msgs.map((_, i) => (i % 2 === 0 ? 'firing' : 'resolved')),
      'each firing is followed by its one resolve',
    );
    const again = lines.filter((l) => /the inotify queue overflowed again/.test(l.msg));
    assert.ok(
      again.every((l) => l.level === DEBUG),
      'overflows after the first of a spell are counted at debug',
    );
    assert.equal(spells + again.length, overflows, 'every overflow is either a spell or counted in one');
    // each spell ends in one line with its count, once every target caught up
    await waitFor(
      () =>
        lines.filter((l) => /catch-up full sync after \d+ inotify queue overflow/.test(l.msg)).length ===
        spells,
      60_000,
      'the summary line of each spell',
    );
    const summed = lines
      .filter((l) => /catch-up full sync after \d+ inotify queue overflow/.test(l.msg))
      .reduce((n, l) => n + (l.overflows as number), 0);
    assert.equal(summed, overflows, 'the spells count every overflow');
    t.diagnostic(`${overflows} overflows in ${spells} spell(s): ${firings} firing(s) at the webhook`);
    assert.ok(
      !lines.some((l) => l.level >= ERROR && /overflow/.test(l.msg)),
      'an overflow is a warning, not an error',
    );
  } finally {
    await d.dispose();
    await w.dispose();
  }
});
