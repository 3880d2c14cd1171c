import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RsyncDaemon } from '../../test/helpers/rsyncd.js';
import { type Context, scratch } from './context.js';
import {
  type LsyncdProcess,
  type SyncwardProcess,
  startLsyncd,
  startRsyncDaemon,
  startSyncward,
} from './procs.js';

/**
 * The side-by-side setup most scenarios share: one rsync daemon with the
 * modules floor, sw and ls; a source directory for each; syncward mirroring
 * `sw`, and lsyncd mirroring `ls` when it is installed. dispose() stops all.
 * The daemon has socket options = TCP_NODELAY unless `stock` asks for the
 * rsyncd.conf targets are deployed with (none).
 */
export interface Arena {
  rsyncd: RsyncDaemon;
  dirs: { floor: string; sw: string; ls: string };
  sw: SyncwardProcess;
  ls: LsyncdProcess | null;
  /** the scenario's scratch directory (state dirs, floor sources) */
  dir: string;
  dispose(): Promise<void>;
}

export async function sideBySide(ctx: Context, prefix: string, o: { stock?: boolean } = {}): Promise<Arena> {
  const rsyncd = await startRsyncDaemon({ modules: ['floor', 'sw', 'ls'], nodelay: o.stock !== true });
  const tmp = scratch(prefix);
  const dirs = { floor: join(tmp.dir, 'floor'), sw: join(tmp.dir, 'sw'), ls: join(tmp.dir, 'ls') };
  for (const d of Object.values(dirs)) mkdirSync(d);
  const sw = startSyncward({
    stateDir: tmp.dir,
    source: dirs.sw,
    targets: [{ name: 'sw', url: rsyncd.url('sw'), passwordFile: rsyncd.passwordFile }],
    cpuProfDir: ctx.cpuProfDir,
  });
  const ls = ctx.lsyncd
    ? startLsyncd({
        stateDir: tmp.dir,
        source: dirs.ls,
        targetUrl: rsyncd.url('ls'),
        passwordFile: rsyncd.passwordFile,
      })
    : null;
  return {
    rsyncd,
    dirs,
    sw,
    ls,
    dir: tmp.dir,
    async dispose() {
      await sw.stop();
      await ls?.stop();
      await rsyncd.dispose();
      tmp.dispose();
    },
  };
}
