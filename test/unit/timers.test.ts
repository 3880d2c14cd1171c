import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { parseConfig, type SourceConfig } from '../../src/config/index.js';
import { Hooks } from '../../src/hooks/index.js';
import { Canary } from '../../src/probe/index.js';
import { silentLogger } from '../../src/util/log.js';
import { MAX_TIMER_MS, Pacer, timerDelay } from '../../src/util/timers.js';

test('a delay past what a Node timer holds is an error naming it, not a timer that fires every millisecond', () => {
  assert.equal(timerDelay(MAX_TIMER_MS, 'x'), MAX_TIMER_MS);
  assert.throws(
    () => timerDelay(3_000_000_000, 'canary interval of source www'),
    /^RangeError: canary interval of source www is 3000000000 ms; a timer must be between 0 and 2147483647 ms/,
  );
  assert.throws(() => timerDelay(Number.NaN, 'x'), RangeError);
  assert.throws(() => timerDelay(-1, 'x'), RangeError);
});

test('a canary or a hook built from a config that slipped past validation refuses the delay before any timer runs', () => {
  const base = {
    source: 'www',
    root: '/nonexistent',
    path: '.syncward-canary',
    targets: [],
    log: silentLogger(),
    active: () => false,
    onEvent: () => {},
  };
  assert.throws(
    () => new Canary({ ...base, intervalMs: 3_000_000_000, timeoutMs: 1000 }),
    /canary interval of source www is 3000000000 ms/,
  );
  assert.throws(
    () => new Canary({ ...base, intervalMs: 1000, timeoutMs: 2 ** 31 }),
    /canary timeout of source www/,
  );
  const config = parseConfig(`
sources:
  - name: www
    path: /srv/www
    hooks: [{ name: h, url: "http://127.0.0.1:1/x" }]
    targets: [{ name: t, url: /backup/www }]
`);
  const s = config.sources[0] as SourceConfig;
  const errors: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => errors.push(JSON.parse(line).msg) });
  const hooks = new Hooks(
    [{ ...s, hooks: [{ ...(s.hooks[0] as SourceConfig['hooks'][0]), timeoutS: 3e6 }] }],
    log,
  );
  hooks.stop();
  assert.deepEqual(errors, [
    'hook www/h is disabled: its timeout_s is 3000000000 ms; a timer must be between 0 and 2147483647 ms (about 24.8 days); fix it in the config',
  ]);
});

test('a Pacer runs at the busy pace, and at the quiet pace while quiet() holds', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let quiet = false;
  let runs = 0;
  const p = new Pacer(
    () => runs++,
    () => quiet,
    2_000,
    10_000,
  );
  p.start();
  // one step per timer: a timer armed inside a tick waits for the next tick
  for (let i = 0; i < 3; i++) t.mock.timers.tick(2_000);
  assert.equal(runs, 3, 'every 2 s while something could need it');
  quiet = true;
  // the run at 6 s armed the busy delay; the one at 8 s sees quiet and arms 10 s
  t.mock.timers.tick(2_000);
  assert.equal(runs, 4);
  t.mock.timers.tick(9_999);
  assert.equal(runs, 4);
  t.mock.timers.tick(1);
  assert.equal(runs, 5, 'every 10 s once idle');
  p.stop();
  for (let i = 0; i < 6; i++) t.mock.timers.tick(10_000);
  assert.equal(runs, 5, 'nothing after stop');
});
