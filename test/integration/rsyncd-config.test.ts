import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bin } from '../helpers/cli-daemon.js';
import { freePort } from '../helpers/ports.js';
import { compareTrees, makeTempDir, waitFor } from '../helpers/tree.js';

let base: string;
let port: number;
let daemon: ChildProcess | null = null;
let daemonErr = '';
let conf = '';
const secrets = () => join(base, 'rsyncd.www.secrets');
const clientPass = () => join(base, 'www.pass');

function syncward(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function accepts(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port: p, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function mode(file: string): string {
  return (statSync(file).mode & 0o777).toString(8);
}

/** The generated modules behind a real rsync daemon on 127.0.0.1 and a free port. */
before(async () => {
  base = await makeTempDir('syncward-rsyncd-config-');
  port = await freePort();
  mkdirSync(join(base, 'www'));
  mkdirSync(join(base, 'locked'));
  const www = syncward([
    'rsyncd-config',
    '--module',
    'www',
    '--path',
    join(base, 'www'),
    '--user',
    'syncward',
    '--secrets',
    secrets(),
    '--password-file',
    clientPass(),
    '--hosts-allow',
    '127.0.0.1',
  ]);
  assert.equal(www.code, 0, www.stderr);
  // a second module that lets nobody on this host in
  const locked = syncward([
    'rsyncd-config',
    '--module',
    'locked',
    '--path',
    join(base, 'locked'),
    '--user',
    'syncward',
    '--secrets',
    join(base, 'locked.secrets'),
    '--password-file',
    join(base, 'locked.pass'),
    '--hosts-allow',
    '10.255.255.1/32',
  ]);
  assert.equal(locked.code, 0, locked.stderr);
  // the test's own global lines first; the printed text brings its own global line, then the module
  const globals = [
    `port = ${port}`,
    'address = 127.0.0.1',
    `pid file = ${join(base, 'rsyncd.pid')}`,
    `log file = ${join(base, 'rsyncd.log')}`,
  ];
  const lockedModule = locked.stdout.slice(locked.stdout.indexOf('[locked]'));
  conf = `${globals.join('\n')}\n${www.stdout}\n${lockedModule}`;
  writeFileSync(join(base, 'rsyncd.conf'), conf);
  const p = spawn('rsync', ['--daemon', '--no-detach', `--config=${join(base, 'rsyncd.conf')}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  daemon = p;
  p.stderr?.on('data', (d: Buffer) => {
    daemonErr += d.toString();
  });
  await waitFor(async () => p.exitCode !== null || (await accepts(port)), 10_000, `rsync daemon on ${port}`);
  assert.equal(p.exitCode, null, `rsync --daemon exited: ${daemonErr}`);
});

after(async () => {
  const p = daemon;
  if (p && p.exitCode === null) {
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  }
  rmSync(base, { recursive: true, force: true });
});

test('the secrets file and the client password file are mode 600 and hold the same password', () => {
  assert.equal(mode(secrets()), '600');
  assert.equal(mode(clientPass()), '600');
  const password = readFileSync(clientPass(), 'utf8').trim();
  assert.match(password, /^[A-Za-z0-9_-]{24}$/);
  assert.equal(readFileSync(secrets(), 'utf8'), `syncward:${password}\n`);
  assert.match(conf, /^socket options = TCP_NODELAY$/m);
  assert.match(conf, /^ {4}read only = no$/m);
});

test('syncward syncs a tree to the generated module with the generated password file', async () => {
  const src = join(base, 'source');
  mkdirSync(join(src, 'sub dir', 'deep'), { recursive: true });
  writeFileSync(join(src, 'index.html'), '<h1>hi</h1>\n');
  writeFileSync(join(src, 'sub dir', 'deep', 'a b.txt'), 'x'.repeat(10_000));
  const file = join(base, 'syncward.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      state_dir: join(base, 'state'),
      sources: [
        {
          name: 'www',
          path: src,
          targets: [
            { name: 'web1', url: `rsync://syncward@127.0.0.1:${port}/www`, password_file: clientPass() },
          ],
        },
      ],
    }),
  );
  const r = syncward(['sync', '-c', file]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${daemonErr}`);
  assert.deepEqual(await compareTrees(src, join(base, 'www')), []);
  // and doctor agrees the target is reachable and logs in
  const d = syncward(['doctor', '-c', file, '--json']);
  const checks = (JSON.parse(d.stdout) as { checks: { name: string; status: string }[] }).checks;
  assert.equal(checks.find((c) => c.name === 'target www/web1')?.status, 'ok', d.stdout);
});

test('the daemon refuses a wrong password', () => {
  const wrong = join(base, 'wrong.pass');
  writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });
  const r = spawnSync(
    'rsync',
    ['--list-only', `--password-file=${wrong}`, `rsync://syncward@127.0.0.1:${port}/www/`],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 5, r.stderr);
  assert.match(r.stderr, /@ERROR: auth failed on module www/);
  const ok = spawnSync(
    'rsync',
    ['--list-only', `--password-file=${clientPass()}`, `rsync://syncward@127.0.0.1:${port}/www/`],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(ok.status, 0, ok.stderr);
});

test('hosts allow keeps every other client out, with the right password too', () => {
  const r = spawnSync(
    'rsync',
    [
      '--list-only',
      `--password-file=${join(base, 'locked.pass')}`,
      `rsync://syncward@127.0.0.1:${port}/locked/`,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 5, r.stderr);
  assert.match(r.stderr, /@ERROR: access denied to locked from/);
});

test('existing files are never overwritten without --force; with it they are replaced and made 600', () => {
  const args = [
    'rsyncd-config',
    '--module',
    'www',
    '--path',
    join(base, 'www'),
    '--user',
    'syncward',
    '--secrets',
    join(base, 'again.secrets'),
    '--password-file',
    join(base, 'again.pass'),
  ];
  writeFileSync(join(base, 'again.secrets'), 'other:kept\n', { mode: 0o644 });
  chmodSync(join(base, 'again.secrets'), 0o644);
  const refused = syncward(args);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /again\.secrets exists; not overwriting it \(pass --force/);
  assert.equal(refused.stdout, '');
  assert.equal(readFileSync(join(base, 'again.secrets'), 'utf8'), 'other:kept\n');
  assert.throws(() => statSync(join(base, 'again.pass')), /ENOENT/);
  // RSYNC_PASSWORD is the password when given
  const forced = syncward([...args, '--force'], { RSYNC_PASSWORD: 'chosen-secret' });
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(readFileSync(join(base, 'again.secrets'), 'utf8'), 'syncward:chosen-secret\n');
  assert.equal(readFileSync(join(base, 'again.pass'), 'utf8'), 'chosen-secret\n');
  assert.equal(mode(join(base, 'again.secrets')), '600');
});

test('a module name that would inject rsyncd.conf lines is refused and nothing is written', () => {
  const r = syncward([
    'rsyncd-config',
    '--module',
    'www]\n[evil',
    '--path',
    join(base, 'www'),
    '--user',
    'syncward',
    '--secrets',
    join(base, 'evil.secrets'),
    '--password-file',
    join(base, 'evil.pass'),
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--module/);
  assert.throws(() => statSync(join(base, 'evil.secrets')), /ENOENT/);
});
