import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

/** The unprivileged account the ssh targets log in as; shared by every test process on the machine. */
const USER = 'syncward-test';
const SSHD = '/usr/sbin/sshd';
const READY_TIMEOUT_MS = 10_000;

/** A real OpenSSH server on 127.0.0.1, accepting one key for `user`. */
export interface Sshd {
  port: number;
  user: string;
  /** the client's private key */
  identityFile: string;
  /** for ssh, each as `-o X`: pins the server's host key, no prompts */
  sshOptions: string[];
  /** `ssh://user@127.0.0.1:PORT/abs/path` */
  url(path: string): string;
  /** a fresh empty directory owned by `user`, removed by dispose() */
  targetDir(): Promise<string>;
  /** kills sshd (a target going down); temp files stay */
  stop(): Promise<void>;
  /** kills sshd and removes everything this helper made (the user stays) */
  dispose(): Promise<void>;
}

/**
 * Starts sshd with its own host key, config and client key in a temp dir, and
 * resolves once a real `ssh ... true` as the test user has succeeded — so
 * key auth, the user's shell and the host key pin are proven, not assumed.
 * Needs root (sshd's privilege separation, chown of target dirs).
 */
export async function startSshd(): Promise<Sshd> {
  const { uid, gid } = await ensureUser();
  // sshd refuses to start without its privilege separation directory
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const dir = await mkdtemp(join(tmpdir(), 'syncward-sshd-'));
  const made: string[] = [dir];
  let child: ChildProcess | undefined;
  try {
    // sshd reads AuthorizedKeysFile as the user, so the user must reach it
    await chmod(dir, 0o755);
    const hostKey = join(dir, 'host_ed25519');
    const identityFile = join(dir, 'client_ed25519');
    await Promise.all([keygen(hostKey, 'syncward-test-host'), keygen(identityFile, 'syncward-test-client')]);
    const authorizedKeys = join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, await readFile(`${identityFile}.pub`), { mode: 0o644 });
    await chmod(authorizedKeys, 0o644);
    const hostPub = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');

    let port = 0;
    let stderr: string[] = [];
    // freePort() can lose the port to another process before sshd binds it: try a few
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const config = join(dir, 'sshd_config');
      await writeFile(config, sshdConfig({ port, hostKey, authorizedKeys, pidFile: join(dir, 'sshd.pid') }));
      const started = spawnSshd(config);
      child = started.child;
      stderr = started.stderr;
      const knownHosts = join(dir, 'known_hosts');
      await writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
      const sshOptions = [
        'BatchMode=yes',
        'IdentitiesOnly=yes',
        'StrictHostKeyChecking=yes',
        `UserKnownHostsFile=${knownHosts}`,
        'GlobalKnownHostsFile=/dev/null',
        'LogLevel=ERROR',
        'ConnectTimeout=5',
      ];
      const ok = await waitUntilLoginWorks(child, port, identityFile, sshOptions);
      if (ok === true) {
        const sshd = child;
        const stop = async () => {
          await kill(sshd);
        };
        return {
          port,
          user: USER,
          identityFile,
          sshOptions,
          url: (path: string) => {
            if (!path.startsWith('/'))
              throw new Error(`ssh target path must be absolute, got ${JSON.stringify(path)}`);
            return `ssh://${USER}@127.0.0.1:${port}${path}`;
          },
          async targetDir() {
            const d = await mkdtemp(join(tmpdir(), 'syncward-ssh-target-'));
            made.push(d);
            await chown(d, uid, gid);
            await chmod(d, 0o755);
            return d;
          },
          stop,
          async dispose() {
            await stop();
            await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
          },
        };
      }
      await kill(child);
      const bindFailed = stderr.some((l) => /Address already in use|Cannot bind any address/i.test(l));
      if (!bindFailed || attempt >= 3) {
        throw new Error(
          `sshd on 127.0.0.1:${port} did not accept a login within ${READY_TIMEOUT_MS} ms: ${ok}\nsshd stderr:\n${stderr.join('\n')}`,
        );
      }
    }
  } catch (e) {
    if (child !== undefined) await kill(child);
    await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
    throw e;
  }
}

/**
 * Creates the test user if it is missing. Several test processes may race
 * here: a failed useradd is fine as long as the user exists afterwards.
 */
async function ensureUser(): Promise<{ uid: number; gid: number; home: string }> {
  let entry = await getent(USER);
  if (entry === undefined) {
    try {
      await run('useradd', ['--create-home', '--shell', '/bin/sh', USER]);
    } catch (e) {
      entry = await getent(USER);
      if (entry === undefined)
        throw new Error(`could not create the test user ${USER}: ${(e as { stderr?: string }).stderr ?? e}`);
    }
    entry ??= await getent(USER);
    if (entry === undefined) throw new Error(`useradd succeeded but ${USER} is not in the passwd database`);
  }
  // With UsePAM no, OpenSSH refuses accounts whose password hash starts with
  // '!' (useradd's default, "locked"); '*' means "no password" but not locked.
  const shadow = await run('getent', ['shadow', USER]).catch(() => undefined);
  if (shadow === undefined || shadow.stdout.split(':')[1]?.startsWith('!')) {
    await run('usermod', ['-p', '*', USER]).catch(() => undefined);
  }
  // sshd chdirs to the home after login; a missing one only warns, but keep it clean
  if (!existsSync(entry.home)) {
    await mkdir(entry.home, { recursive: true, mode: 0o755 });
    await chown(entry.home, entry.uid, entry.gid);
  }
  return entry;
}

async function getent(user: string): Promise<{ uid: number; gid: number; home: string } | undefined> {
  try {
    const { stdout } = await run('getent', ['passwd', user]);
    const f = stdout.trim().split(':');
    return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? `/home/${user}` };
  } catch {
    return undefined; // getent exits 2 for an unknown key
  }
}

async function keygen(file: string, comment: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  await chmod(file, 0o600);
}

function sshdConfig(o: { port: number; hostKey: string; authorizedKeys: string; pidFile: string }): string {
  return `${[
    `ListenAddress 127.0.0.1`,
    `Port ${o.port}`,
    `HostKey ${o.hostKey}`,
    `PidFile ${o.pidFile}`,
    // the temp dir is not root-only all the way up the way StrictModes wants
    'StrictModes no',
    `AuthorizedKeysFile ${o.authorizedKeys}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PermitRootLogin no',
    `AllowUsers ${USER}`,
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    // many targets and retries connect at once in the churn tests
    'MaxStartups 200',
    'MaxSessions 50',
    'LoginGraceTime 30',
    'LogLevel INFO',
  ].join('\n')}\n`;
}

function spawnSshd(config: string): { child: ChildProcess; stderr: string[] } {
  // -D: stay in the foreground as our child; -e: log to stderr
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    const lines = (partial + s).split('\n');
    partial = lines.pop() ?? '';
    stderr.push(...lines);
    if (stderr.length > 200) stderr.splice(0, stderr.length - 200);
  });
  child.on('error', (e) => stderr.push(`spawn ${SSHD}: ${e.message}`));
  // A test that forgets dispose() must not leave sshd running, or hang on it.
  const onExit = () => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  child.once('exit', () => process.removeListener('exit', onExit));
  child.unref();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  return { child, stderr };
}

/** true once `ssh ... true` succeeded; otherwise why not */
async function waitUntilLoginWorks(
  child: ChildProcess,
  port: number,
  identityFile: string,
  sshOptions: string[],
): Promise<true | string> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no attempt';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      return `sshd exited (${child.exitCode ?? child.signalCode})`;
    try {
      await run(
        'ssh',
        [
          '-i',
          identityFile,
          '-p',
          String(port),
          ...sshOptions.flatMap((o) => ['-o', o]),
          `${USER}@127.0.0.1`,
          'true',
        ],
        {
          timeout: 5_000,
        },
      );
      return true;
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      last = (err.stderr ?? '').trim() || err.message;
    }
    if (Date.now() >= deadline) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}
