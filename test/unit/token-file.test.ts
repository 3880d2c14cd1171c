import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readApiToken } from '../../src/api/index.js';
import { readTokenFile } from '../../src/util/token-file.js';

test('one token-file reader: the first line, trimmed; the API token must be private, a webhook token need not be', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncward-token-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, '  s3cret  \nsecond line\n');
    chmodSync(file, 0o644);
    assert.equal(readTokenFile(file, { key: 'token_file', ownerOnly: false }), 's3cret');
    assert.throws(() => readApiToken(file), /api\.token_file .* is readable by group or others .*chmod 600/);
    chmodSync(file, 0o600);
    assert.equal(readApiToken(file), 's3cret');
    writeFileSync(file, '\n');
    assert.throws(
      () => readTokenFile(file, { key: 'token_file', ownerOnly: false }),
      /token_file .* is empty/,
    );
    assert.throws(
      () => readTokenFile(join(dir, 'missing'), { key: 'token_file', ownerOnly: false }),
      (e: Error) => /token_file .* does not exist/.test(e.message) && e.cause !== undefined,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
