import type { Config } from '../config/index.js';
import type { DaemonRef } from '../util/shell.js';

/**
 * The running daemon a command talks to (`status`, `resume`): the one a
 * config file names (-c FILE), or the one on a state_dir (--state-dir DIR,
 * for a daemon started with --source/--target), found by its control socket.
 */
export type DaemonAt = { config: Config } | { stateDir: string };

/** The state_dir of that daemon. */
export function stateDirOf(at: DaemonAt): string {
  return 'config' in at ? at.config.stateDir : at.stateDir;
}

/** How the commands the command prints name that daemon: as the operator named it. */
export function refOf(at: DaemonAt): DaemonRef {
  return 'config' in at
    ? { configFile: at.config.file, stateDir: at.config.stateDir }
    : { stateDir: at.stateDir };
}
