import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'syncward.pid';

export class StateLockedError extends Error {
  constructor(
    readonly stateDir: string,
    readonly pid: number,
  ) {
    super(
      `another syncward (pid ${pid}) is running on state_dir ${stateDir}; stop it first, or give this instance its own state_dir`,
    );
    this.name = 'StateLockedError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the exclusive lock on a state dir: a pid file created with O_EXCL.
 * A pid file left by a process that is gone (kill -9, crash) is taken over,
 * and `stale` says so: the caller treats that as an unclean restart.
 */
export function lockStateDir(stateDir: string): { stale: boolean; release(): void } {
  const file = join(stateDir, LOCK_FILE);
  let stale = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } catch (e) {
        // a full disk: an empty pid file left behind would read as a crash at the next start
        closeSync(fd);
        unlinkSync(file);
        throw e;
      }
      closeSync(fd);
      return {
        stale,
        release: () => {
          try {
            if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
          } catch {
            // already gone
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new StateLockedError(stateDir, pid);
      stale = true;
      unlinkSync(file);
    }
  }
  throw new Error(`cannot take the lock ${file}: it keeps reappearing`);
}
