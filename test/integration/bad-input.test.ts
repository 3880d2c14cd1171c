import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { JournalReader } from '../../src/journal/index.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const bin = new URL('../../../bin/syncward', import.meta.url).pathname;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('bad input from the command line gets a clear message and a meaningful exit code', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('syncward-badcli-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('malformed YAML: exit 2, the file and line are named', () => {
    const f = join(dir, 'broken.yaml');
    writeFileSync(f, 'sources:\n  - name: a\n    path: [unclosed\n');
    const r = cli('check', '-c', f);
    assert.equal(r.code, 2, r.err + r.out);
    assert.match(r.out, new RegExp(`${f}:\\d+:\\d+: YAML syntax`));
  });

  test('an unknown key is named with its line', () => {
    const f = join(dir, 'typo.yaml');
    writeFileSync(
      f,
      `sources:\n  - name: a\n    path: ${dir}\n    exlude: ["*.swp"]\n    targets: [{name: t, url: /tmp/x}]\n`,
    );
    const r = cli('start', '-c', f);
    assert.equal(r.code, 2);
    assert.match(r.err, /typo\.yaml:4:5: sources\[0\]\.exlude: unknown key "exlude"/);
  });

  test('a target URL that does not parse shows the valid forms', () => {
    const r = cli('start', '--source', dir, '--target', 'ftp://example/x');
    assert.equal(r.code, 2);
    assert.match(r.err, /ftp:\/\/example\/x/);
    assert.match(r.err, /rsync:\/\//);
    assert.match(r.err, /ssh:\/\//);
  });

  test('check names a missing source directory and exits 1', () => {
    const f = join(dir, 'missing.yaml');
    writeFileSync(
      f,
      `sources:\n  - name: a\n    path: ${join(dir, 'no-such-dir')}\n    targets: [{name: t, url: /tmp/x}]\n`,
    );
    const r = cli('check', '-c', f);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /no-such-dir does not exist/);
  });

  test('a config file that does not exist is named', () => {
    const r = cli('check', '-c', join(dir, 'nope.yaml'));
    assert.equal(r.code, 2);
    assert.match(r.out + r.err, /nope\.yaml: cannot read config: no such file/);
  });

  test('--help and --version work for every command', () => {
    for (const args of [['--help'], ['start', '--help'], ['sync', '--help'], ['check', '--help']]) {
      const r = cli(...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.match(r.out, /Usage: syncward/);
    }
    assert.match(cli('--version').out, /^\d+\.\d+\.\d+/);
  });

  test('start with no config and no source is a usage error', () => {
    const r = cli('start');
    assert.equal(r.code, 2);
    assert.match(r.err, /missing -c FILE/);
  });
});

describe('a bad target never stops the others', () => {
  let rsyncd: RsyncDaemon;
  before(async () => {
    rsyncd = await startRsyncDaemon({ modules: ['good', 'bad'] });
  });
  after(async () => {
    await rsyncd?.dispose();
  });

  test('wrong password, unknown module and an unreachable port: each named, the good target still syncs', async () => {
    const src = await makeTempDir('syncward-bad-src-');
    const local = await makeTempDir('syncward-bad-local-');
    const state = tempStateDir();
    const wrongPass = join(state.dir, 'wrong.pass');
    writeFileSync(wrongPass, 'not-the-password\n', { mode: 0o600 });
    const closedPort = await freePort();
    const good: TargetUnderTest[] = [
      {
        name: 'daemon',
        url: rsyncd.url('good'),
        dir: rsyncd.modulePath('good'),
        passwordFile: rsyncd.passwordFile,
      },
      { name: 'local', url: local, dir: local },
    ];
    const bad: TargetUnderTest[] = [
      { name: 'wrongpass', url: rsyncd.url('bad'), dir: rsyncd.modulePath('bad'), passwordFile: wrongPass },
      {
        name: 'nomodule',
        url: rsyncd.url('nosuchmodule'),
        dir: '/nonexistent',
        passwordFile: rsyncd.passwordFile,
      },
      {
        name: 'unreachable',
        url: `rsync://u@127.0.0.1:${closedPort}/m`,
        dir: '/nonexistent',
        passwordFile: rsyncd.passwordFile,
      },
    ];
    writeFileSync(join(src, 'a.txt'), 'a\n');
    const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets: [...bad, ...good] }));
    try {
      await converged(src, good);
      mkdirSync(join(src, 'more/deep'), { recursive: true });
      writeFileSync(join(src, 'more/deep/b.txt'), 'b\n');
      await converged(src, good);
      await waitFor(
        () => {
          const t = d.daemon.status()[0]?.targets ?? [];
          const by = (n: string) => t.find((x) => x.target === n);
          return (
            by('wrongpass')?.state === 'misconfigured' &&
            by('nomodule')?.state === 'misconfigured' &&
            by('unreachable')?.state === 'down'
          );
        },
        20_000,
        'bad targets reach their states',
      );
      const t = d.daemon.status()[0]?.targets ?? [];
      const msg = (n: string) => t.find((x) => x.target === n)?.lastError ?? '';
      assert.match(msg('wrongpass'), /auth/i);
      assert.match(msg('nomodule'), /module/i);
      assert.match(msg('unreachable'), /connect|refused|reach/i);
      // nothing is dropped for the bad targets: their changes wait in the journal, and so does
      // the startup full sync they never had; the good targets owe nothing once delivered
      const journal = JournalReader.open(state.dir);
      assert.ok(journal, 'the daemon has a journal');
      try {
        for (const name of ['wrongpass', 'nomodule', 'unreachable']) {
          const rows = journal.pending(`src/${name}`).map((c) => c.path);
          assert.ok(
            rows.some((p) => p === 'more' || p.startsWith('more/')),
            `${name}: the new directory waits in the journal (${JSON.stringify(rows)})`,
          );
          assert.match(journal.needsFull(`src/${name}`) ?? '', /startup/, `${name} still owes its full sync`);
        }
        await waitFor(
          () => journal.pending('src/local').length === 0 && journal.needsFull('src/local') === null,
          20_000,
          'the local target to owe nothing',
        );
      } finally {
        journal.close();
      }
    } finally {
      await d.dispose();
      rmSync(src, { recursive: true, force: true });
      rmSync(local, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('a missing source directory is reported and the other sources keep syncing', async () => {
    const src = await makeTempDir('syncward-bad-src2-');
    const local = await makeTempDir('syncward-bad-local2-');
    const state = tempStateDir();
    const yaml = `state_dir: ${state.dir}
api: { listen: "off" }
sources:
  - name: missing
    path: ${join(src, 'does-not-exist')}
    targets: [{ name: t, url: ${local}-unused }]
  - name: present
    path: ${src}
    targets: [{ name: t, url: ${local} }]
`;
    const config = parseConfig(yaml);
    const d = await startDaemon(config, { readySources: 1 });
    try {
      writeFileSync(join(src, 'x'), 'x\n');
      await converged(src, [{ name: 't', url: local, dir: local }]);
      const missing = d.daemon.status().find((s) => s.name === 'missing');
      assert.equal(missing?.state, 'missing');
    } finally {
      await d.dispose();
      rmSync(src, { recursive: true, force: true });
      rmSync(local, { recursive: true, force: true });
      rmSync(`${local}-unused`, { recursive: true, force: true });
      state.dispose();
    }
  });
});
