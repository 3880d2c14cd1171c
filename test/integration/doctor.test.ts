import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lchownSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bin, spawnSyncward } from '../helpers/cli-daemon.js';
import { freePort } from '../helpers/ports.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { startSshd } from '../helpers/sshd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  message: string;
  fix?: string[];
  detail?: string;
}

let daemon: RsyncDaemon;
const dirs: string[] = [];

before(async () => {
  daemon = await startRsyncDaemon({ modules: ['www'] });
});

after(async () => {
  await daemon.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await makeTempDir('syncward-doctor-');
  dirs.push(d);
  return d;
}

interface Setup {
  base: string;
  source: string;
  file: string;
}

/** A source of 21 directories (10 x d/sub + root) and 5 more under an excluded .git/. */
async function setup(
  targets: object[] | ((base: string) => object[]),
  o: { stateDir?: string } = {},
): Promise<Setup> {
  const base = await tempDir();
  const source = join(base, 'src');
  for (let i = 0; i < 10; i++) mkdirSync(join(source, `d${i}`, 'sub'), { recursive: true });
  for (let i = 0; i < 5; i++) mkdirSync(join(source, '.git', `o${i}`), { recursive: true });
  writeFileSync(join(source, 'd0', 'f'), 'x');
  const file = join(base, 'syncward.yaml');
  const config = {
    state_dir: o.stateDir ?? join(base, 'state'),
    sources: [
      {
        name: 'www',
        path: source,
        exclude: ['.git/'],
        targets: typeof targets === 'function' ? targets(base) : targets,
      },
    ],
  };
  // YAML is a superset of JSON
  writeFileSync(file, JSON.stringify(config, null, 2));
  return { base, source, file };
}

function doctor(
  file: string,
  wrap: string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): { code: number | null; checks: Check[]; out: string } {
  const argv = [process.execPath, bin, 'doctor', '-c', file, '--json', '--timeout', '10'];
  const [cmd, ...args] = [...wrap, ...argv];
  const r = spawnSync(cmd as string, args, { encoding: 'utf8', timeout: 60_000, env });
  let checks: Check[] = [];
  try {
    checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
  } catch {
    assert.fail(`doctor printed no JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.status, checks, out: `${r.stdout}\n${r.stderr}` };
}

function find(checks: Check[], name: string): Check {
  const c = checks.find((x) => x.name === name);
  assert.ok(c, `no check "${name}" in ${checks.map((x) => x.name).join(', ')}`);
  return c;
}

test('a healthy config (rsync daemon with auth, local target) passes every check: exit 0', async () => {
  const { file } = await setup((base) => [
    { name: 'web1', url: daemon.url('www'), password_file: daemon.passwordFile },
    { name: 'backup', url: join(base, 'mirror') },
  ]);
  const r = doctor(file);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(
    r.checks.filter((c) => c.status !== 'ok'),
    [],
  );
  assert.match(find(r.checks, 'target www/web1').message, /reachable, logged in to the module/);
  assert.match(find(r.checks, 'rsync').message, /rsync \d+\.\d+/);
  // the excluded .git/ tree is not counted: 10 x 2 + the root
  assert.match(find(r.checks, 'inotify watches').message, /^21 directories to watch/);
  // no watcher in the config: auto, which keeps this small tree on inotify
  assert.match(
    find(r.checks, 'watcher www').message,
    /^inotify \(watcher: auto, 21 directories, fanotify above 50,000\)/,
  );
  assert.match(find(r.checks, 'target www/backup').message, /does not exist yet; the first sync creates it/);
  // the text report says the same for a terminal
  const text = spawnSync(process.execPath, [bin, 'doctor', '-c', file], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^ok +target www\/web1: /m);
  assert.match(text.stdout, /all \d+ checks ok/);
});

test('a password file with mode 644 is a failure that names chmod 600 FILE', async () => {
  const base = await tempDir();
  const pass = join(base, 'web1.pass');
  copyFileSync(daemon.passwordFile, pass);
  chmodSync(pass, 0o644);
  const { file } = await setup([{ name: 'web1', url: daemon.url('www'), password_file: pass }]);
  const r = doctor(file);
  assert.equal(r.code, 2, r.out);
  const c = find(r.checks, 'password file www/web1');
  assert.equal(c.status, 'fail');
  assert.match(c.message, /mode 644/);
  assert.deepEqual(c.fix, [`chmod 600 ${pass}`]);
  // and rsync itself refuses it when it tries to log in
  const t = find(r.checks, 'target www/web1');
  assert.equal(t.status, 'fail');
  assert.match(t.detail ?? '', /password file must not be other-accessible/);
});

test('a wrong password fails the target check, naming authentication and showing rsync’s words', async () => {
  const base = await tempDir();
  const pass = join(base, 'wrong.pass');
  writeFileSync(pass, 'not-the-password\n', { mode: 0o600 });
  const { file } = await setup([{ name: 'web1', url: daemon.url('www'), password_file: pass }]);
  const r = doctor(file);
  assert.equal(r.code, 2, r.out);
  assert.equal(find(r.checks, 'password file www/web1').status, 'ok');
  const t = find(r.checks, 'target www/web1');
  assert.equal(t.status, 'fail');
  assert.match(t.message, /authentication failed \(rsync exit 5\)/);
  assert.match(t.detail ?? '', /@ERROR: auth failed on module www/);
  assert.ok(
    t.fix?.some((f) => f.startsWith('rsync --list-only ')),
    JSON.stringify(t.fix),
  );
});

test('an unknown module fails the target check and says to fix the module name', async () => {
  const { file } = await setup([
    {
      name: 'web1',
      url: `rsync://${daemon.user}@127.0.0.1:${daemon.port}/nosuch`,
      password_file: daemon.passwordFile,
    },
  ]);
  const r = doctor(file);
  assert.equal(r.code, 2, r.out);
  const t = find(r.checks, 'target www/web1');
  assert.match(t.detail ?? '', /Unknown module/);
  assert.match(t.fix?.[0] ?? '', /module name/);
});

test('a host with nothing listening (a closed port) fails as unreachable', async () => {
  const port = await freePort();
  const { file } = await setup([
    { name: 'web1', url: `rsync://syncward@127.0.0.1:${port}/www`, password_file: daemon.passwordFile },
  ]);
  const r = doctor(file);
  assert.equal(r.code, 2, r.out);
  const t = find(r.checks, 'target www/web1');
  assert.equal(t.status, 'fail');
  assert.match(t.message, /unreachable \(rsync exit 10\)/);
  assert.match(t.message, /Connection refused/);
  assert.doesNotMatch(t.message, /retrying/);
});

test('a host name that does not resolve is a configuration error, for a daemon and an ssh URL, not a daemon to start', async () => {
  const { file } = await setup([
    { name: 'web1', url: 'rsync://syncward@nohost.invalid/www', password_file: daemon.passwordFile },
    { name: 'web2', url: 'ssh://deploy@nohost.invalid/srv/www' },
  ]);
  const r = doctor(file);
  assert.equal(r.code, 2, r.out);
  for (const name of ['target www/web1', 'target www/web2']) {
    const t = find(r.checks, name);
    assert.equal(t.status, 'fail', r.out);
    assert.match(
      t.message,
      /configuration error \(rsync exit \d+\): the target host name does not resolve/,
      r.out,
    );
    assert.match(t.message, /nohost\.invalid/);
    assert.match(t.fix?.[0] ?? '', /^correct the host name in the target URL/, r.out);
    assert.doesNotMatch(r.out, /start the rsync daemon|check that sshd runs/);
  }
});

/**
 * Runs doctor in a user namespace whose watch limit is `limit`
 * (/proc/sys/user/max_inotify_watches is per user namespace), so the test
 * never touches the machine's own limit.
 */
function doctorWithWatchLimit(file: string, limit: number) {
  return doctor(file, [
    'unshare',
    '--user',
    '--map-root-user',
    'sh',
    '-c',
    `echo ${limit} > /proc/sys/user/max_inotify_watches && exec "$@"`,
    'sh',
  ]);
}

test('a watch limit below the directory count fails with the sysctl command and the sysctl.d line', async () => {
  const { file } = await setup((base) => [{ name: 'backup', url: join(base, 'mirror') }]);
  const r = doctorWithWatchLimit(file, 5);
  assert.equal(r.code, 2, r.out);
  const c = find(r.checks, 'inotify watches');
  assert.equal(c.status, 'fail');
  assert.match(
    c.message,
    /^21 directories to watch \(www 21\) against fs\.inotify\.max_user_watches = 5: 16 would go unwatched/,
  );
  assert.equal(c.fix?.[0], 'sysctl -w fs.inotify.max_user_watches=4194304');
  assert.match(
    c.fix?.[1] ?? '',
    /fs\.inotify\.max_user_watches = 4194304' >> \/etc\/sysctl\.d\/90-syncward\.conf/,
  );
});

test('a watch limit the directories nearly fill is a warning: exit 1', async () => {
  const { file } = await setup((base) => [{ name: 'backup', url: join(base, 'mirror') }]);
  // 21 of 22 is above the default alert share of 90%
  const r = doctorWithWatchLimit(file, 22);
  assert.equal(r.code, 1, r.out);
  const c = find(r.checks, 'inotify watches');
  assert.equal(c.status, 'warn');
  assert.match(c.message, /\(95%\)/);
  assert.deepEqual(
    r.checks.filter((x) => x.status !== 'ok').map((x) => x.name),
    ['inotify watches'],
  );
});

test('a state_dir this user cannot write fails with the chown that fixes it', async (t) => {
  if (spawnSync('setpriv', ['--version']).status !== 0) {
    t.skip('setpriv (util-linux) is not installed');
    return;
  }
  // root may write anywhere: run doctor as nobody against a root-owned state_dir
  const stateDir = join(await tempDir(), 'state');
  mkdirSync(stateDir, { mode: 0o755 });
  const { file, base } = await setup([{ name: 'backup', url: join(await tempDir(), 'mirror') }], {
    stateDir,
  });
  for (const d of [base, join(stateDir, '..')]) chmodSync(d, 0o755);
  const r = doctor(file, ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--']);
  assert.equal(r.code, 2, r.out);
  const c = find(r.checks, 'state_dir');
  assert.equal(c.status, 'fail');
  assert.match(c.message, /is not writable by this user \(uid 65534\): EACCES/);
  assert.deepEqual(c.fix, [`chown -R 65534 ${stateDir} && chmod 700 ${stateDir}`]);
});

test('a state_dir that cannot be created (its parent is a file) fails', async () => {
  const base = await tempDir();
  writeFileSync(join(base, 'plain-file'), '');
  const { file } = await setup([{ name: 'backup', url: join(base, 'mirror') }], {
    stateDir: join(base, 'plain-file', 'state'),
  });
  const r = doctor(file);
  assert.equal(r.code, 2, r.out);
  const c = find(r.checks, 'state_dir');
  assert.equal(c.status, 'fail');
  assert.match(c.message, /cannot be created: .*plain-file is not a directory/);
});

test('a missing source directory fails with mkdir -p', async () => {
  const { file, source } = await setup([{ name: 'backup', url: '/nonexistent-syncward-doctor/mirror' }]);
  rmSync(source, { recursive: true });
  const r = doctor(file);
  assert.equal(r.code, 2, r.out);
  const c = find(r.checks, 'source www');
  assert.equal(c.status, 'fail');
  assert.match(c.fix?.[0] ?? '', new RegExp(`^mkdir -p ${source}`));
});

test('ssh targets: the configured key logs in; a key the target does not know fails as an ssh login', async () => {
  const sshd = await startSshd();
  try {
    const base = await tempDir();
    const stranger = join(base, 'stranger_ed25519');
    const kg = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    assert.equal(kg.status, 0, String(kg.stderr));
    const dir = await sshd.targetDir();
    const { file } = await setup([
      { name: 'web2', url: sshd.url(dir), identity_file: sshd.identityFile, ssh_options: sshd.sshOptions },
      { name: 'web3', url: sshd.url(dir), identity_file: stranger, ssh_options: sshd.sshOptions },
    ]);
    const r = doctor(file);
    assert.equal(r.code, 2, r.out);
    assert.equal(find(r.checks, 'identity file www/web2').status, 'ok');
    assert.match(find(r.checks, 'target www/web2').message, /reachable, logged in over ssh/);
    assert.match(
      find(r.checks, 'rsync on target www/web2').message,
      /^the rsync on 127\.0\.0\.1 is rsync \d+\.\d+/,
    );
    const bad = find(r.checks, 'target www/web3');
    assert.equal(bad.status, 'fail');
    // ssh exits 255; rsync may see the pipe close first and exit 12: either is the same login failure
    assert.match(bad.message, /ssh login failed \(rsync exit (255|12)\)/);
    assert.match(bad.detail ?? '', /Permission denied/);
  } finally {
    await sshd.dispose();
  }
});

/** An executable `rsync` that claims `version` for --version and is the real rsync otherwise. */
function fakeRsync(file: string, version: string): void {
  const real = spawnSync('sh', ['-c', 'command -v rsync'], { encoding: 'utf8' }).stdout.trim();
  writeFileSync(
    file,
    `#!/bin/sh\nif [ "$1" = --version ]; then echo 'rsync  version ${version}  protocol version 32'; exit 0; fi\nexec ${real} "$@"\n`,
    { mode: 0o755 },
  );
}

test('as root, a local rsync older than 3.5.0 and rsync 3.4.3 on an ssh target are warnings that say why and what to do', async () => {
  assert.equal(process.geteuid?.(), 0, 'the sender rule applies to root; these tests run as root');
  const sshd = await startSshd();
  try {
    const base = await tempDir();
    // the ssh test user runs the remote wrapper
    chmodSync(base, 0o755);
    mkdirSync(join(base, 'bin'));
    fakeRsync(join(base, 'bin', 'rsync'), '3.4.1');
    fakeRsync(join(base, 'remote-rsync'), '3.4.3');
    const dir = await sshd.targetDir();
    const { file } = await setup([
      {
        name: 'web2',
        url: sshd.url(dir),
        identity_file: sshd.identityFile,
        ssh_options: sshd.sshOptions,
        rsync_args: [`--rsync-path=${join(base, 'remote-rsync')}`],
      },
    ]);
    const r = doctor(file, [], { ...process.env, PATH: `${join(base, 'bin')}:${process.env.PATH}` });
    assert.equal(r.code, 1, r.out);
    const sender = find(r.checks, 'rsync as sender');
    assert.equal(sender.status, 'warn');
    assert.match(sender.message, /rsync 3\.4\.1 running as root follows symlinks .* copied to the targets/);
    assert.match(sender.fix?.[0] ?? '', /install rsync 3\.5\.0 or newer/);
    // the probe itself worked through the wrappers
    assert.equal(find(r.checks, 'target www/web2').status, 'ok');
    const receiver = find(r.checks, 'rsync on target www/web2');
    assert.equal(receiver.status, 'warn');
    assert.match(receiver.message, /rsync 3\.4\.3, which rejects --delete-missing-args/);
    assert.deepEqual(receiver.fix, ['upgrade rsync on the target to 3.4.4 or newer']);
    // check warns the same, and the config stays valid (exit 0)
    const check = spawnSync(process.execPath, [bin, 'check', '-c', file], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PATH: `${join(base, 'bin')}:${process.env.PATH}` },
    });
    assert.equal(check.status, 0, `${check.stdout}\n${check.stderr}`);
    assert.match(
      check.stdout,
      /^warning: rsync 3\.4\.1 running as root follows symlinks .*: install rsync 3\.5\.0 or newer/m,
    );
    // with the real rsync (3.5.0 here) neither warns
    const real = doctor(file);
    assert.equal(find(real.checks, 'rsync as sender').status, 'ok', real.out);
  } finally {
    await sshd.dispose();
  }
});

test('doctor names the pid of a daemon running on the state_dir', async () => {
  const { file, base } = await setup((b) => [{ name: 'backup', url: join(b, 'mirror') }]);
  const d = spawnSyncward(['start', '-c', file]);
  try {
    await waitFor(
      () => existsSync(join(base, 'state', 'syncward.pid')),
      20_000,
      'the daemon to take its lock',
    );
    const r = doctor(file);
    assert.equal(r.code, 0, r.out);
    assert.match(find(r.checks, 'daemon').message, new RegExp(`runs on .* \\(pid ${d.pid}\\)`));
  } finally {
    await d.stop();
  }
});

test('a local target reached through a symlink another user owns: rsync 3.5.0 refuses it, check and doctor say so first with the fix, and the printed fix works', async (t) => {
  if (process.geteuid?.() !== 0) return t.skip('needs root to give the symlink to another uid');
  const { file, base } = await setup((b) => [{ name: 'backup', url: join(b, 'link', 'mirror') }]);
  mkdirSync(join(base, 'real'));
  symlinkSync(join(base, 'real'), join(base, 'link'));
  lchownSync(join(base, 'link'), 12345, 12345);
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });

  // what happens without the check: every transfer fails with rsync's refusal
  const sync = run('sync', '-c', file);
  assert.equal(sync.status, 1, sync.stderr);
  assert.match(sync.stderr, /refusing to follow a symlink owned by an untrusted user/);

  const check = run('check', '-c', file);
  assert.equal(check.status, 1, check.stderr + check.stdout);
  assert.match(
    check.stdout + check.stderr,
    new RegExp(`${join(base, 'link')} .*belongs to uid 12345.*rsync 3\\.5\\.0`),
  );
  const r = doctor(file);
  assert.equal(r.code, 2, r.out);
  const c = find(r.checks, 'target www/backup');
  assert.equal(c.status, 'fail');
  assert.match(c.message, /refusing to follow a symlink owned by an untrusted user/);
  const chown = /`(chown -h [^`]+)`/.exec(c.fix?.join('\n') ?? '')?.[1];
  assert.ok(chown, `a chown -h fix: ${c.fix}`);
  const [cmd, ...args] = chown.split(' ');
  assert.equal(spawnSync(cmd as string, args).status, 0, chown);

  assert.equal(run('check', '-c', file).status, 0);
  assert.equal(find(doctor(file).checks, 'target www/backup').status, 'ok');
  const again = run('sync', '-c', file);
  assert.equal(again.status, 0, again.stderr);
  assert.ok(existsSync(join(base, 'real', 'mirror', 'd0', 'f')));
});
