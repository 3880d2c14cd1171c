import { rmSync } from 'node:fs';
import { parseTargetUrl, type TargetSpec } from '../../src/transport/index.js';
import { type TargetUnderTest, tempStateDir } from './daemon.js';
import { type RsyncDaemon, startRsyncDaemon } from './rsyncd.js';
import type { Sshd } from './sshd.js';
import { makeTempDir } from './tree.js';

/** A target on a module of a real rsyncd, logging in with its password file (default: module "m", named "daemon"). */
export function rsyncdTarget(rsyncd: RsyncDaemon, module = 'm', name = 'daemon'): TargetUnderTest {
  return {
    name,
    url: rsyncd.url(module),
    dir: rsyncd.modulePath(module),
    passwordFile: rsyncd.passwordFile,
  };
}

/** A target in `dir` over a real sshd, as its unprivileged user (whose files keep their own owner). */
export function sshTarget(sshd: Sshd, dir: string, name = 'ssh'): TargetUnderTest {
  return { name, url: sshd.url(dir), dir, identityFile: sshd.identityFile, sshOptions: sshd.sshOptions };
}

export interface RsyncdAndLocal {
  /** the (empty) source tree */
  src: string;
  /** the local target's directory */
  local: string;
  state: { dir: string; dispose(): void };
  /** serves module "m" */
  rsyncd: RsyncDaemon;
  /** "daemon" (module m of rsyncd) and "local", in that order */
  targets: TargetUnderTest[];
  /** stops rsyncd, removes the source, the local target and the state dir */
  dispose(): Promise<void>;
}

/**
 * The audit and canary tests' setup: an empty source and state dir, and two
 * targets of different kinds, a real rsyncd with auth and a local directory.
 * Temp dirs are named `${prefix}-src-...` and `${prefix}-dst-...`.
 */
export async function rsyncdAndLocalTargets(prefix: string): Promise<RsyncdAndLocal> {
  const src = await makeTempDir(`${prefix}-src-`);
  const local = await makeTempDir(`${prefix}-dst-`);
  const state = tempStateDir();
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  return {
    src,
    local,
    state,
    rsyncd,
    targets: [rsyncdTarget(rsyncd), { name: 'local', url: local, dir: local }],
    async dispose() {
      await rsyncd.dispose();
      rmSync(src, { recursive: true, force: true });
      rmSync(local, { recursive: true, force: true });
      state.dispose();
    },
  };
}

/** A transport's view of a target at `url`, as the transport tests build one (name "t", 20 s stall, 5 s connect). */
export function targetSpec(url: string, extra: Partial<TargetSpec> = {}): TargetSpec {
  return {
    name: 't',
    url: parseTargetUrl(url),
    sshOptions: [],
    rsyncArgs: [],
    timeoutS: 20,
    contimeoutS: 5,
    ...extra,
  };
}
