import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import {
  ConfigError,
  checkEnvironment,
  configFromArgs,
  loadConfig,
  parseConfig,
} from '../../src/config/index.js';

const good = `
state_dir: /tmp/syncward-state
sources:
  - name: www
    path: /srv/www
    exclude: ["*.swp", ".git/"]
    targets:
      - name: web1
        url: rsync://www@10.0.0.2:873/www
        password_file: /etc/syncward/web1.pass
      - name: web2
        url: ssh://deploy@10.0.0.3:22/srv/www
      - name: backup
        url: /backup/www
`;

function problemsOf(text: string) {
  try {
    parseConfig(text, 'syncward.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.problems;
  }
  assert.fail('config was accepted');
}

test('a full example config is accepted with defaults filled in', () => {
  const c = parseConfig(good, 'syncward.yaml');
  assert.equal(c.sources.length, 1);
  const s = c.sources[0];
  assert.ok(s);
  assert.equal(s.delayMs, 0);
  assert.equal(s.delete, true);
  assert.equal(s.initialSync, true);
  // inotify on a tree up to 50,000 directories, fanotify above where it can
  assert.equal(s.watcher, 'auto');
  assert.deepEqual(
    s.targets.map((t) => t.parsed.kind),
    ['daemon', 'ssh', 'local'],
  );
  assert.equal(c.api.listen, '127.0.0.1:8730');
});

test('malformed YAML names the file and the line', () => {
  const [p] = problemsOf('sources:\n  - name: a\n    path: [unclosed\n');
  assert.ok(p);
  assert.equal(p.file, 'syncward.yaml');
  assert.ok(p.line !== undefined && p.line >= 3, `line ${p.line}`);
  assert.match(p.message, /YAML syntax/);
});

test('a value of the wrong type is named as such, not as a missing key; a missing key still is', () => {
  const wrong = problemsOf(
    good.replace('    exclude:', '    delete: 5\n    delay_ms: .inf\n    max_delete: [1]\n    exclude:'),
  );
  const by = (k: string) =>
    wrong.find((p) => p.key === k)?.message ?? `no problem for ${k}: ${JSON.stringify(wrong)}`;
  assert.equal(by('sources[0].delete'), 'expected boolean, not 5');
  assert.match(by('sources[0].delay_ms'), /^expected number, not Infinity \(a finite number is needed\)$/);
  assert.equal(by('sources[0].max_delete'), 'expected number, not a list');
  const missing = problemsOf(good.replace('    path: /srv/www\n', ''));
  assert.ok(
    missing.some((p) => p.key === 'sources[0].path' && /required key is missing/.test(p.message)),
    JSON.stringify(missing),
  );
});

test('an unknown key is named with its line and a hint', () => {
  const text = good.replace('    exclude:', '    exclud:');
  const problems = problemsOf(text);
  const p = problems.find((x) => x.message.includes('unknown key'));
  assert.ok(p, JSON.stringify(problems));
  assert.equal(p.key, 'sources[0].exclud');
  assert.equal(p.line, 6);
});

test('a wrong type names the key path and line', () => {
  const problems = problemsOf(good.replace('    path: /srv/www', '    path: /srv/www\n    delay_ms: soon'));
  const p = problems[0];
  assert.ok(p);
  assert.equal(p.key, 'sources[0].delay_ms');
  assert.equal(p.line, 6);
  assert.match(p.message, /expected number/);
});

test('a target URL that does not parse is an error at its line', () => {
  const problems = problemsOf(good.replace('url: /backup/www', 'url: ftp://x/y'));
  const p = problems[0];
  assert.ok(p);
  assert.equal(p.key, 'sources[0].targets[2].url');
  assert.equal(p.line, 14);
  assert.match(p.message, /rsync:\/\//);
});

test('duplicate names and a relative source path are reported together', () => {
  const text = good.replace('name: web2', 'name: web1').replace('path: /srv/www', 'path: srv/www');
  const problems = problemsOf(text);
  assert.ok(problems.some((p) => /duplicate target name "web1"/.test(p.message)));
  assert.ok(problems.some((p) => /absolute path/.test(p.message)));
});

test('a missing required key says it is missing', () => {
  const problems = problemsOf('sources:\n  - name: a\n    targets: [{name: t, url: /x}]\n');
  assert.ok(problems.some((p) => p.key === 'sources[0].path' && /missing/.test(p.message)));
});

test('a local target inside its own source is refused', () => {
  const problems = problemsOf(good.replace('url: /backup/www', 'url: /srv/www/mirror'));
  assert.ok(problems.some((p) => /inside the source/.test(p.message)));
});

test('start --source/--target builds the same config shape', () => {
  const c = configFromArgs({
    source: '/srv/www',
    targets: ['/backup/www', 'rsync://u@h/m'],
    passwordFile: '/p',
  });
  assert.equal(c.sources[0]?.name, 'www');
  assert.equal(c.sources[0]?.targets[1]?.passwordFile, '/p');
  assert.equal(c.sources[0]?.targets[0]?.passwordFile, undefined);
  assert.throws(() => configFromArgs({ source: '/srv/www', targets: ['nope://'] }), /--target nope:\/\//);
});

test('two start --source/--target daemons on one host get their own state_dir and any free API port by default', () => {
  const a = configFromArgs({ source: '/srv/www', targets: ['/backup/www'] });
  const b = configFromArgs({ source: '/srv/www', targets: ['/backup2/www'] });
  const img = configFromArgs({ source: '/srv/img', targets: ['/backup/www'] });
  assert.notEqual(a.stateDir, b.stateDir);
  assert.notEqual(a.stateDir, img.stateDir);
  assert.match(
    a.stateDir,
    /\/www-[0-9a-f]{12}$/,
    'named after the source, so an operator can tell them apart',
  );
  assert.equal(
    configFromArgs({ source: '/srv/www', targets: ['/backup/www'] }).stateDir,
    a.stateDir,
    'run again: same journal',
  );
  assert.equal(a.api.listen, '127.0.0.1:0');
  assert.equal(configFromArgs({ source: '/srv/www', targets: ['/b'], api: 'off' }).api.listen, 'off');
  assert.equal(
    configFromArgs({ source: '/srv/www', targets: ['/b'], api: '127.0.0.1:9000' }).api.listen,
    '127.0.0.1:9000',
  );
  assert.throws(
    () => configFromArgs({ source: '/srv/www', targets: ['/b'], api: 'nowhere' }),
    /--api: .*not host:port/,
  );
});

test('the environment check finds a missing source and a password file others can read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncward-cfg-'));
  try {
    const pass = join(dir, 'pass');
    writeFileSync(pass, 'secret\n');
    chmodSync(pass, 0o644);
    const c = parseConfig(
      `sources:\n  - name: a\n    path: ${join(dir, 'nope')}\n    targets:\n      - name: t\n        url: rsync://u@127.0.0.1/m\n        password_file: ${pass}\n`,
    );
    const problems = checkEnvironment(c);
    assert.ok(problems.some((p) => /does not exist/.test(p.message)));
    assert.ok(problems.some((p) => /chmod 600/.test(p.message)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a config file named by a relative path is kept absolute, so `-c FILE` in printed commands runs from any directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncward-cfg-'));
  try {
    const file = join(dir, 'syncward.yaml');
    writeFileSync(
      file,
      `state_dir: ${join(dir, 'state')}\nsources:\n  - name: a\n    path: ${join(dir, 'src')}\n    initial_sync: false\n    targets:\n      - name: t\n        url: rsync://u@127.0.0.1/m\n`,
    );
    const c = loadConfig(relative(process.cwd(), file));
    assert.equal(c.file, file);
    assert.equal(c.alerts.configFile, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
