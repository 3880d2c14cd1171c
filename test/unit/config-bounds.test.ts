import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { ConfigError, configSchema, parseConfig } from '../../src/config/index.js';

/** A one-source config with `extra` lines in the source (indented 4) and `target` lines in its target (indented 8). */
function config(extra: string[], target: string[] = [], top: string[] = []): string {
  return [
    'state_dir: /tmp/syncward-state',
    ...top,
    'sources:',
    '  - name: www',
    '    path: /srv/www',
    ...extra.map((l) => `    ${l}`),
    '    targets:',
    '      - name: backup',
    '        url: /backup/www',
    ...target.map((l) => `        ${l}`),
    '',
  ].join('\n');
}

function problems(text: string): string[] {
  try {
    parseConfig(text, 'syncward.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.problems.map((p) => `${p.key}: ${p.message}`);
  }
  assert.fail('config was accepted');
}

test('an exclude or include pattern that does not compile is refused at validation, naming the pattern and its key', () => {
  assert.deepEqual(
    problems(config(['exclude: ["*.swp", "[abc"]']))[0]
      ?.split(': ')
      .slice(0, 2),
    ['sources[0].exclude[1]', 'exclude pattern'],
  );
  assert.match(
    problems(config(['exclude: ["[abc"]']))[0] as string,
    /invalid pattern "\[abc": "\[" at byte 1 has no closing "\]"/,
  );
  assert.match(
    problems(config(['include: ["+ keep"]']))[0] as string,
    /^sources\[0\]\.include\[0\]: include pattern: invalid pattern "\+ keep"/,
  );
});

test('a duration past its bound is refused with the bound named: canary.interval_s 3000000', () => {
  assert.deepEqual(problems(config(['canary: { interval_s: 3000000 }'])), [
    'sources[0].canary.interval_s: at most 86400 s (1 day)',
  ]);
});

test('every duration in the schema has an upper bound well below the 2^31-1 ms a Node timer holds', () => {
  const cases: [string, string][] = [
    [config(['delay_ms: 3600001']), 'sources[0].delay_ms: at most 3600000 ms (1 hour)'],
    [config(['max_wait_ms: 2147483648']), 'sources[0].max_wait_ms: at most 3600000 ms (1 hour)'],
    [config(['lag_threshold_s: 604801']), 'sources[0].lag_threshold_s: at most 604800 s (1 week)'],
    [config(['canary: { timeout_s: 86401 }']), 'sources[0].canary.timeout_s: at most 86400 s (1 day)'],
    [
      config(['hooks: [{ name: h, url: "http://127.0.0.1:1/x", timeout_s: 3601 }]']),
      'sources[0].hooks[0].timeout_s: at most 3600 s (1 hour)',
    ],
    [config([], ['timeout_s: 86401']), 'sources[0].targets[0].timeout_s: at most 86400 s (1 day)'],
    [
      config([], ['backup: { keep_days: 3651 }']),
      'sources[0].targets[0].backup.keep_days: at most 3650 days (about 10 years)',
    ],
    [config([], [], ['alerts: { down_after_s: 604801 }']), 'alerts.down_after_s: at most 604800 s (1 week)'],
    [
      config([], [], ['alerts: { misconfigured_after_s: 604801 }']),
      'alerts.misconfigured_after_s: at most 604800 s (1 week)',
    ],
    [config([], [], ['alerts: { lag_above_s: 604801 }']), 'alerts.lag_above_s: at most 604800 s (1 week)'],
  ];
  for (const [text, want] of cases) assert.deepEqual(problems(text), [want]);
  // the bounds themselves are accepted
  const c = parseConfig(
    config(['delay_ms: 3600000', 'canary: { interval_s: 86400, timeout_s: 86400 }'], ['timeout_s: 86400']),
  );
  assert.equal(c.sources[0]?.canary?.intervalS, 86_400);
  for (const ms of [c.sources[0]?.delayMs ?? 0, (c.sources[0]?.canary?.intervalS ?? 0) * 1000])
    assert.ok(ms <= 2 ** 31 - 1);
});

test('a canary interval below 1 s is refused (a timer of a few ms would flood the targets)', () => {
  assert.deepEqual(problems(config(['canary: { interval_s: 0.001 }'])), [
    'sources[0].canary.interval_s: at least 1 s',
  ]);
});

test('every duration key of the schema (*_s, *_ms, *_days) has an upper bound, so a new one cannot slip in unbounded', () => {
  interface Node {
    properties?: Record<string, Node>;
    items?: Node;
    maximum?: number;
    anyOf?: Node[];
  }
  const unbounded: string[] = [];
  const durations: string[] = [];
  const walk = (n: Node, path: string) => {
    for (const alt of n.anyOf ?? []) walk(alt, path);
    if (n.items) walk(n.items, `${path}[]`);
    for (const [key, prop] of Object.entries(n.properties ?? {})) {
      const at = path ? `${path}.${key}` : key;
      const unit = /_(s|ms|days)$/.exec(key)?.[1];
      if (unit) {
        durations.push(at);
        // seconds and milliseconds end in timers; days (backup.keep_days) only need a bound
        const ms = unit === 's' ? 1000 : unit === 'ms' ? 1 : 0;
        if (prop.maximum === undefined || prop.maximum * ms > 2 ** 31 - 1) unbounded.push(at);
      }
      walk(prop, at);
    }
  };
  walk(z.toJSONSchema(configSchema(), { io: 'input', unrepresentable: 'any' }) as Node, '');
  assert.ok(durations.length >= 10, `found only ${durations.join(', ')}`);
  assert.deepEqual(unbounded, []);
});
