import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RsyncDaemon } from '../../test/helpers/rsyncd.js';
import type { Sshd } from '../../test/helpers/sshd.js';
import { type Context, scratch } from './context.js';
import {
  type LsyncdProcess,
  type SyncwardProcess,
  startLsyncd,
  startRsyncDaemon,
  startSyncward,
} from './procs.js';
import { linkWithRtt, startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/**
 * The side-by-side setup most scenarios share: one rsync daemon with the
 * modules floor, sw and ls; a source directory for each; syncward mirroring
 * `sw`, and lsyncd mirroring `ls` when it is installed. dispose() stops all.
 * The daemon has socket options = TCP_NODELAY unless `stock` asks for the
 * rsyncd.conf targets are deployed with (none). With `rttMs`, everyone
 * reaches the daemon through a proxy adding that round trip (url() points
 * at it).
 */
export interface Arena {
  rsyncd: RsyncDaemon;
  /** a module's URL as the contenders reach it: through the proxy when there is one */
  url(module: string): string;
  /** the latency proxy in front of the daemon (rttMs), or null */
  proxy: TcpProxy | null;
  dirs: { floor: string; sw: string; ls: string };
  sw: SyncwardProcess;
  ls: LsyncdProcess | null;
  /** the scenario's scratch directory (state dirs, floor sources) */
  dir: string;
  dispose(): Promise<void>;
}

export async function sideBySide(
  ctx: Context,
  prefix: string,
  o: { stock?: boolean; rttMs?: number } = {},
): Promise<Arena> {
  const rsyncd = await startRsyncDaemon({ modules: ['floor', 'sw', 'ls'], nodelay: o.stock !== true });
  const proxy = o.rttMs == null ? null : await startTcpProxy(rsyncd.port, linkWithRtt(o.rttMs));
  const url = (m: string) => (proxy ? `rsync://${rsyncd.user}@127.0.0.1:${proxy.port}/${m}` : rsyncd.url(m));
  const tmp = scratch(prefix);
  const dirs = { floor: join(tmp.dir, 'floor'), sw: join(tmp.dir, 'sw'), ls: join(tmp.dir, 'ls') };
  for (const d of Object.values(dirs)) mkdirSync(d);
  const sw = startSyncward({
    stateDir: tmp.dir,
    source: dirs.sw,
    targets: [{ name: 'sw', url: url('sw'), passwordFile: rsyncd.passwordFile }],
    cpuProfDir: ctx.cpuProfDir,
  });
  const ls = ctx.lsyncd
    ? startLsyncd({
        stateDir: tmp.dir,
        source: dirs.ls,
        targetUrl: url('ls'),
        passwordFile: rsyncd.passwordFile,
      })
    : null;
  return {
    rsyncd,
    url,
    proxy,
    dirs,
    sw,
    ls,
    dir: tmp.dir,
    async dispose() {
      await sw.stop();
      await ls?.stop();
      await proxy?.close();
      await rsyncd.dispose();
      tmp.dispose();
    },
  };
}

/** How ssh reaches an sshd through something listening on `port` (a proxy), its host key still pinned. */
export interface SshRoute {
  url(path: string): string;
  /** the -o options: the sshd helper's, plus the host key looked up under the sshd's own address */
  sshOptions: string[];
  /** rsync's -e command for a bare call over this route */
  rsh: string;
}

export function sshRoute(sshd: Sshd, port: number): SshRoute {
  // known_hosts pins the key as [127.0.0.1]:<sshd port>; HostKeyAlias is looked up as written, without a port
  const sshOptions = [...sshd.sshOptions, `HostKeyAlias=[127.0.0.1]:${sshd.port}`];
  return {
    url: (path) => `ssh://${sshd.user}@127.0.0.1:${port}${path}`,
    sshOptions,
    rsh: ['ssh', '-p', String(port), '-i', sshd.identityFile, ...sshOptions.flatMap((x) => ['-o', x])].join(
      ' ',
    ),
  };
}
