import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type Sshd, startSshd } from '../helpers/sshd.js';

const run = promisify(execFile);

describe('the sshd test helper', () => {
  let sshd: Sshd;
  let src: string;

  before(async () => {
    sshd = await startSshd();
    src = mkdtempSync(join(tmpdir(), 'syncward-sshd-src-'));
    mkdirSync(join(src, 'sub/deeper'), { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'alpha\n');
    writeFileSync(join(src, '.hidden'), 'dot\n');
    writeFileSync(join(src, 'sub/deeper/name with space'), 'spaced\n');
  });

  after(async () => {
    await sshd?.dispose();
    if (src) rmSync(src, { recursive: true, force: true });
  });

  const sshCommand = () => [
    'ssh',
    '-i',
    sshd.identityFile,
    '-p',
    String(sshd.port),
    ...sshd.sshOptions.flatMap((o) => ['-o', o]),
  ];

  test('url() names the user, loopback, the port and the absolute path', () => {
    assert.equal(sshd.url('/srv/x'), `ssh://syncward-test@127.0.0.1:${sshd.port}/srv/x`);
    assert.equal(sshd.user, 'syncward-test');
  });

  test('targetDir() is a fresh empty directory owned by the test user', async () => {
    const d = await sshd.targetDir();
    const { stdout } = await run('id', ['-u', sshd.user]);
    assert.equal(statSync(d).uid, Number(stdout.trim()));
    const whoami = await run(sshCommand()[0] as string, [
      ...sshCommand().slice(1),
      `${sshd.user}@127.0.0.1`,
      `id -un && test -w ${d} && echo writable`,
    ]);
    assert.deepEqual(whoami.stdout.trim().split('\n'), ['syncward-test', 'writable']);
  });

  test('a real rsync over ssh to targetDir() arrives complete, as the test user', async () => {
    const d = await sshd.targetDir();
    // -e takes one string that rsync splits on spaces; the temp paths have none
    const e = sshCommand().join(' ');
    await run('rsync', ['-a', '-e', e, `${src}/`, `${sshd.user}@127.0.0.1:${d}/`]);
    assert.equal(readFileSync(join(d, 'a.txt'), 'utf8'), 'alpha\n');
    assert.equal(readFileSync(join(d, '.hidden'), 'utf8'), 'dot\n');
    assert.equal(readFileSync(join(d, 'sub/deeper/name with space'), 'utf8'), 'spaced\n');
    const { stdout } = await run('id', ['-u', sshd.user]);
    assert.equal(
      statSync(join(d, 'sub/deeper/name with space')).uid,
      Number(stdout.trim()),
      'written by the remote user, not root',
    );
  });

  test('a wrong host key is refused (the options pin the host key)', async () => {
    const other = mkdtempSync(join(tmpdir(), 'syncward-sshd-kh-'));
    try {
      const kh = join(other, 'known_hosts');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(other, 'k')]);
      writeFileSync(
        kh,
        `[127.0.0.1]:${sshd.port} ${readFileSync(join(other, 'k.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`,
      );
      const opts = sshd.sshOptions.map((o) =>
        o.startsWith('UserKnownHostsFile=') ? `UserKnownHostsFile=${kh}` : o,
      );
      await assert.rejects(
        run('ssh', [
          '-i',
          sshd.identityFile,
          '-p',
          String(sshd.port),
          ...opts.flatMap((o) => ['-o', o]),
          `${sshd.user}@127.0.0.1`,
          'true',
        ]),
        (err: { code?: number }) => err.code === 255,
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('stop() takes the target down; dispose() removes its files', async () => {
    const s = await startSshd();
    const d = await s.targetDir();
    await s.stop();
    await assert.rejects(
      run('ssh', [
        '-i',
        s.identityFile,
        '-p',
        String(s.port),
        ...s.sshOptions.flatMap((o) => ['-o', o]),
        `${s.user}@127.0.0.1`,
        'true',
      ]),
      (err: { code?: number }) => err.code === 255,
    );
    await s.dispose();
    assert.equal(existsSync(d), false);
    assert.equal(existsSync(s.identityFile), false);
  });

  test('several servers start side by side', async () => {
    const servers = await Promise.all([startSshd(), startSshd(), startSshd()]);
    try {
      assert.equal(new Set(servers.map((s) => s.port)).size, 3);
    } finally {
      await Promise.all(servers.map((s) => s.dispose()));
    }
  });
});
