import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { configReference } from '../../src/config/reference.js';

test('docs/configuration.md is the reference generated from the schema', () => {
  const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  assert.equal(
    doc,
    configReference(),
    'regenerate with: npm run build:ts && node dist/scripts/gen-config-doc.js',
  );
  for (const key of [
    'state_dir',
    'sources[].exclude',
    'sources[].targets[].password_file',
    'sources[].delay_ms',
  ]) {
    assert.ok(doc.includes(`\`${key}\``), `${key} documented`);
  }
});

test("the README's configuration example is a valid config", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.split('\n## Configuration\n')[1] ?? '';
  const yaml = section.split('```yaml\n')[1]?.split('```')[0];
  assert.ok(yaml, 'README has a yaml block under ## Configuration');
  const config = parseConfig(yaml);
  assert.equal(config.sources[0]?.targets.length, 4);
  assert.equal(config.sources[0]?.targets[3]?.relay?.api, 'http://10.1.0.2:8730');
  assert.equal(config.sources[0]?.hooks[0]?.name, 'purge-cdn');
  assert.equal(config.alerts.webhooks.length, 1);
});
