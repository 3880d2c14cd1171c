import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
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
