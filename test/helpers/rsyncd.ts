import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { makeTempDir, waitFor } from './tree.js';

export interface RsyncDaemon {
  port: number;
  user: string;
  password: string;
  /** client-side password file (mode 600), for --password-file / password_file */
  passwordFile: string;
  /** the directory behind a module */
  modulePath(name: string): string;
  /** rsync://user@127.0.0.1:port/name */
  url(name: string): string;
  stop(): Promise<void>;
  /** starts again on the same port, same modules */
  restart(): Promise<void>;
  /**
   * Replaces the extra lines of a module's section ("post-xfer exec = ...").
   * rsyncd reads its config at every connection: the next call sees them.
   */
  setModuleOptions(name: string, lines: string[]): Promise<void>;
  /** the daemon's log so far (connections, logins, transfers, errors) */
  log(): Promise<string>;
  /** stop and remove every temp directory */
  dispose(): Promise<void>;
}

export interface RsyncDaemonOptions {
  modules: string[];
  /** socket options = TCP_NODELAY on the daemon side (default true, as docs/operations.md recommends; false: a stock rsyncd.conf) */
  nodelay?: boolean;
  user?: string;
  password?: string;
  /** extra lines of every module's section, e.g. "max connections = 1", "timeout = 2" (per module: setModuleOptions) */
  moduleOptions?: Record<string, string[]>;
}

/** A real `rsync --daemon` on 127.0.0.1, a random free port, with auth on every module. */
export async function startRsyncDaemon(o: RsyncDaemonOptions): Promise<RsyncDaemon> {
  const user = o.user ?? 'syncward';
  const password = o.password ?? randomBytes(9).toString('base64url');
  const base = await makeTempDir('syncward-rsyncd-');
  const conf = join(base, 'rsyncd.conf');
  const secrets = join(base, 'secrets');
  const passwordFile = join(base, 'client.pass');
  const port = await freePort();
  // rsync refuses secrets and password files that others can read
  await writeFile(secrets, `${user}:${password}\n`, { mode: 0o600 });
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const modulePath = (name: string) => join(base, 'modules', name);
  const lines = [
    // chroot keeps absolute symlinks as they are (we run as root in tests)
    'use chroot = yes',
    'uid = root',
    'gid = root',
    'read only = no',
    `pid file = ${join(base, 'rsyncd.pid')}`,
    `port = ${port}`,
    'address = 127.0.0.1',
    // What docs/operations.md recommends for a target: without it, once a timeout is set
    // (--timeout, or "timeout" in rsyncd.conf), the daemon's side of the protocol waits on
    // Nagle + delayed ACK (~40 ms per call); syncward passes none (nodelay: false is stock)
    ...(o.nodelay === false ? [] : ['socket options = TCP_NODELAY']),
    `log file = ${join(base, 'rsyncd.log')}`,
    // max connections counts clients in this file (the default lives in /var/run, shared by every daemon)
    `lock file = ${join(base, 'rsyncd.lock')}`,
  ];
  const extra = new Map<string, string[]>(Object.entries(o.moduleOptions ?? {}));
  const writeConf = () => {
    const all = [...lines];
    for (const m of o.modules)
      all.push(
        `[${m}]`,
        `path = ${modulePath(m)}`,
        `auth users = ${user}`,
        `secrets file = ${secrets}`,
        ...(extra.get(m) ?? []),
      );
    // a connection reads the file while it is rewritten: replace it whole, or it may find no module ("Unknown module")
    const next = `${conf}.next`;
    return writeFile(next, `${all.join('\n')}\n`).then(() => rename(next, conf));
  };
  for (const m of o.modules) await mkdir(modulePath(m), { recursive: true });
  await writeConf();

  let proc: ChildProcess | null = null;
  let stderr = '';
  const start = async () => {
    stderr = '';
    // its own process group: stop() ends the daemon with the connections it
    // forked, as `systemctl stop rsync` or a host going down does (a child
    // left serving a pre-connected client would deliver a "down" target's batch)
    const p = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    proc = p;
    p.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let exited = false;
    p.once('exit', () => {
      exited = true;
    });
    try {
      await waitFor(async () => exited || (await accepts(port)), 10_000, `rsync daemon on port ${port}`);
    } catch (e) {
      p.kill('SIGKILL');
      throw e;
    }
    if (exited) throw new Error(`rsync --daemon exited at start: ${stderr.trim()}`);
  };
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    try {
      process.kill(-(p.pid as number), 'SIGTERM');
    } catch {
      p.kill('SIGTERM');
    }
    await gone;
    // the listening socket can outlive the parent briefly in a forked child
    await waitFor(async () => !(await accepts(port)), 5000, `port ${port} to close`);
  };
  await start();
  return {
    port,
    user,
    password,
    passwordFile,
    modulePath,
    url: (name) => `rsync://${user}@127.0.0.1:${port}/${name}`,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    setModuleOptions: async (name, more) => {
      extra.set(name, more);
      await writeConf();
    },
    log: () => readFile(join(base, 'rsyncd.log'), 'utf8').catch(() => ''),
    dispose: async () => {
      await stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
