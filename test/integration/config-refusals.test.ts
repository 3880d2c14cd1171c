import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runSyncward } from '../helpers/cli-daemon.js';
import { makeTempDir } from '../helpers/tree.js';

/** `syncward check` and `sync` refuse a config that could destroy or skip data, before any rsync runs. */
describe('check refuses dangerous or impossible values with the key named and exit 2', () => {
  let dir: string;
  let src: string;
  let dst: string;
  before(async () => {
    dir = await makeTempDir('syncward-refusals-');
    src = join(dir, 'src');
    dst = join(dir, 'dst');
    for (const d of [src, dst]) mkdirSync(d);
    writeFileSync(join(src, 'keep-me'), 'source file\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function configWith(name: string, sourceLines: string[], targetLines: string[] = []): string {
    const f = join(dir, `${name}.yaml`);
    writeFileSync(
      f,
      [
        `state_dir: ${JSON.stringify(join(dir, 'state'))}`,
        'api: { listen: "off" }',
        'sources:',
        '  - name: src',
        `    path: ${JSON.stringify(src)}`,
        ...sourceLines.map((l) => `    ${l}`),
        '    targets:',
        '      - name: local',
        `        url: ${JSON.stringify(dst)}`,
        ...targetLines.map((l) => `        ${l}`),
        '',
      ].join('\n'),
    );
    return f;
  }

  test('rsync_args ["/etc/hostname", "--remove-source-files"]: check and sync refuse both elements by name, and nothing is touched', () => {
    const hostname = readFileSync('/etc/hostname');
    // an outside file sync would have sent and removed on the old code; /etc/hostname itself is only named to check
    const outside = join(dir, 'outside');
    writeFileSync(outside, 'not in any source\n');
    const f = configWith('rsync-args', [], ['rsync_args: ["/etc/hostname", "--remove-source-files"]']);
    const r = runSyncward(['check', '-c', f]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.out, /rsync_args\[0\]: "\/etc\/hostname" is not an option: rsync_args holds options only/);
    assert.match(
      r.out,
      /rsync_args\[1\]: --remove-source-files is not allowed in rsync_args: it deletes files from the source/,
    );

    const g = configWith(
      'rsync-args-sync',
      [],
      [`rsync_args: [${JSON.stringify(outside)}, "--remove-source-files"]`],
    );
    const s = runSyncward(['sync', '-c', g]);
    assert.equal(s.code, 2, s.out + s.err);
    assert.match(s.err + s.out, /--remove-source-files is not allowed in rsync_args/);
    assert.equal(readFileSync(join(src, 'keep-me'), 'utf8'), 'source file\n');
    assert.equal(readFileSync(outside, 'utf8'), 'not in any source\n');
    assert.deepEqual(readdirSync(dst), []);
    assert.deepEqual(readFileSync('/etc/hostname'), hostname);
  });

  test('exclude ["[abc"]: check names the pattern and why it does not compile', () => {
    const r = runSyncward(['check', '-c', configWith('pattern', ['exclude: ["*.swp", "[abc"]'])]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(
      r.out,
      /pattern\.yaml:6:24: sources\[0\]\.exclude\[1\]: exclude pattern: invalid pattern "\[abc": "\[" at byte 1 has no closing "\]"/,
    );
  });

  test('canary.interval_s 3000000: check names the limit', () => {
    const r = runSyncward(['check', '-c', configWith('canary', ['canary: { interval_s: 3000000 }'])]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.out, /sources\[0\]\.canary\.interval_s: at most 86400 s \(1 day\)/);
  });
});
