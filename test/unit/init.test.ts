import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { runInit, STARTER_CONFIG } from '../../src/cli/init.js';
import { checkEnvironment, parseConfig } from '../../src/config/index.js';

const base = mkdtempSync(join(tmpdir(), 'syncward-init-'));
after(() => rmSync(base, { recursive: true, force: true }));

function sink(): Writable & { text: () => string } {
  let s = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      s += String(chunk);
      cb();
    },
  });
  return Object.assign(w, { text: () => s });
}

test('the starter config parses as written, with its example values', () => {
  const c = parseConfig(STARTER_CONFIG, 'syncward.yaml');
  assert.equal(c.stateDir, '/var/lib/syncward');
  assert.equal(c.api.listen, '127.0.0.1:8730');
  const [s] = c.sources;
  assert.equal(s?.name, 'www');
  assert.equal(s?.path, '/srv/www');
  assert.deepEqual(
    s?.targets.map((t) => [t.name, t.parsed.kind]),
    [
      ['web1', 'daemon'],
      ['web2', 'ssh'],
      ['backup', 'local'],
    ],
  );
  assert.equal(s?.fullSync, '0 */6 * * *');
});

test('every commented-out optional block parses too once uncommented', () => {
  // every "# key: ..." and "# - ..." line: drop the "# " and the file must stay valid
  const uncommented = STARTER_CONFIG.replace(/^(\s*)# (\s*(?:[a-z_]+:|- ).*)$/gm, '$1$2');
  assert.notEqual(uncommented, STARTER_CONFIG);
  const c = parseConfig(uncommented);
  assert.equal(c.alerts.downAfterS, 60);
  assert.equal(c.alerts.webhooks.length, 1);
  assert.deepEqual(c.alerts.commands, [['/usr/local/bin/page-oncall', '--team', 'ops']]);
  assert.equal(c.sources[0]?.canary?.intervalS, 60);
  assert.equal(c.api.tokenFile, '/etc/syncward/api.token');
});

test('with the placeholders filled in, check finds nothing to complain about', () => {
  const src = join(base, 'srv-www');
  mkdirSync(src);
  const pass = join(base, 'web1.pass');
  writeFileSync(pass, 'secret\n', { mode: 0o600 });
  const key = join(base, 'id_ed25519');
  writeFileSync(key, 'key\n', { mode: 0o600 });
  const filled = STARTER_CONFIG.replace('/srv/www   ', `${src}   `)
    .replace('/etc/syncward/web1.pass', pass)
    .replace('/etc/syncward/id_ed25519', key)
    .replace('/var/lib/syncward', join(base, 'state'));
  const c = parseConfig(filled, join(base, 'syncward.yaml'));
  assert.equal(c.sources[0]?.path, src);
  assert.deepEqual(checkEnvironment(c), []);
});

test('init writes ./syncward.yaml by default and never overwrites without --force', () => {
  const dir = join(base, 'cwd');
  mkdirSync(dir);
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const out = sink();
    assert.equal(runInit(undefined, {}, out, sink()), 0);
    assert.equal(readFileSync(join(dir, 'syncward.yaml'), 'utf8'), STARTER_CONFIG);
    assert.match(out.text(), /syncward check -c syncward\.yaml/);
  } finally {
    process.chdir(cwd);
  }
  const file = join(base, 'mine.yaml');
  writeFileSync(file, 'state_dir: /mine\n');
  const err = sink();
  assert.equal(runInit(file, {}, sink(), err), 1);
  assert.match(err.text(), /exists; not overwriting it \(pass --force/);
  assert.equal(readFileSync(file, 'utf8'), 'state_dir: /mine\n');
  assert.equal(runInit(file, { force: true }, sink(), sink()), 0);
  assert.equal(readFileSync(file, 'utf8'), STARTER_CONFIG);
});

test('init - and init --stdout print the config and write nothing', () => {
  for (const [f, o] of [
    ['-', {}],
    [undefined, { stdout: true }],
  ] as const) {
    const out = sink();
    assert.equal(runInit(f, o, out, sink()), 0);
    assert.equal(out.text(), STARTER_CONFIG);
  }
});
