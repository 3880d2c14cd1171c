import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/index.js';

const config = (canary: string, exclude = '[]') => `
state_dir: /tmp/syncward-state
sources:
  - name: www
    path: /srv/www
    exclude: ${exclude}
    canary: ${canary}
    targets:
      - name: backup
        url: /backup/www
`;

test('a canary gets its defaults and keeps the path it was given', () => {
  const c = parseConfig(config('{}')).sources[0]?.canary;
  assert.deepEqual(c, { intervalS: 60, timeoutS: 120, path: '.syncward-canary', follow: false });
  const d = parseConfig(config('{ interval_s: 5, timeout_s: 30, path: meta/canary }')).sources[0]?.canary;
  assert.deepEqual(d, { intervalS: 5, timeoutS: 30, path: 'meta/canary', follow: false });
});

test('a canary the source excludes (itself or a directory above it) is a config error naming canary.path', () => {
  for (const [canary, exclude] of [
    ['{}', '[".*"]'],
    ['{ path: meta/canary }', '["/meta/"]'],
    ['{ path: c.tmp }', '["*.tmp"]'],
  ] as const) {
    try {
      parseConfig(config(canary, exclude), 'syncward.yaml');
      assert.fail(`exclude ${exclude} with canary ${canary} should be refused`);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      const p = e.problems.find((x) => x.key === 'sources[0].canary.path' || x.key?.includes('canary'));
      assert.ok(p, JSON.stringify(e.problems));
      assert.match(p.message, /excluded by this source's exclude patterns/);
    }
  }
  // an exclude that does not match it is fine
  assert.ok(parseConfig(config('{}', '["*.swp", ".git/"]')));
});

test('a canary path outside the source is refused', () => {
  assert.throws(() => parseConfig(config('{ path: ../elsewhere }')), ConfigError);
  assert.throws(() => parseConfig(config('{ path: /abs }')), ConfigError);
});
