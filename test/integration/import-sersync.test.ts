import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { bin } from '../helpers/cli-daemon.js';
import { tempStateDir } from '../helpers/daemon.js';

const FIXTURE = new URL('../../../test/fixtures/sersync-confxml.xml', import.meta.url).pathname;

function syncward(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 30_000 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out, err });
    });
  });
}

test('syncward import-sersync prints the YAML on stdout and the warnings, with file and line, on stderr', async () => {
  const state = tempStateDir();
  try {
    const r = await syncward(['import-sersync', FIXTURE]);
    assert.equal(r.code, 0, r.err);
    const config = parse(r.out) as { sources: { path: string; targets: { url: string }[] }[] };
    assert.equal(config.sources[0]?.path, '/home/www.zhang.com');
    assert.equal(config.sources[0]?.targets.length, 2);
    assert.ok(!r.out.includes('warning:'), 'warnings stay off stdout (except as comments)');
    assert.match(
      r.err,
      new RegExp(`^warning: ${FIXTURE.replaceAll('.', '\\.')}:\\d+: commonParams -u is dropped`, 'm'),
    );
    assert.match(r.err, /^warning: dotfiles now sync/m);
    assert.match(r.err, /^imported .* with \d+ warning\(s\)/m);

    // what it printed is a valid config: check only finds the files of this example host missing (exit 1, not 2)
    const file = join(state.dir, 'syncward.yaml');
    writeFileSync(file, r.out);
    const check = await syncward(['check', '-c', file]);
    assert.equal(check.code, 1, check.out);
    assert.match(check.out, /source directory \/home\/www\.zhang\.com does not exist/);
  } finally {
    state.dispose();
  }
});

test('syncward import-sersync: malformed XML and a missing file exit 2 with the place to look', async () => {
  const state = tempStateDir();
  try {
    const bad = join(state.dir, 'confxml.xml');
    writeFileSync(
      bad,
      '<head version="2.5">\n  <sersync>\n    <localpath watch="/srv">\n  </sersync>\n</head>\n',
    );
    const r = await syncward(['import-sersync', bad]);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.match(r.err, new RegExp(`^syncward import-sersync: ${bad}:\\d+:\\d+: not well-formed XML: `));
    const missing = await syncward(['import-sersync', join(state.dir, 'nope.xml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /cannot read .*nope\.xml: no such file/);
  } finally {
    state.dispose();
  }
});

test('syncward import-sersync with two files prints one config with two sources', async () => {
  const state = tempStateDir();
  try {
    const second = join(state.dir, 'img.xml');
    writeFileSync(
      second,
      readFileSync(FIXTURE, 'latin1').replace('/home/www.zhang.com"', '/srv/img"'),
      'latin1',
    );
    const r = await syncward(['import-sersync', FIXTURE, second]);
    assert.equal(r.code, 0, r.err);
    const config = parse(r.out) as { sources: { name: string; path: string }[] };
    assert.deepEqual(
      config.sources.map((s) => [s.name, s.path]),
      [
        ['www.zhang.com', '/home/www.zhang.com'],
        ['img', '/srv/img'],
      ],
    );
    assert.match(
      r.err,
      new RegExp(`^warning: ${second.replaceAll('.', '\\.')}:\\d+: commonParams -u is dropped`, 'm'),
    );
  } finally {
    state.dispose();
  }
});
