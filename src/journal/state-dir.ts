import { chmodSync, existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where ssh keeps its connection-sharing sockets, under state_dir. */
export const SSH_DIR = 'ssh';

/** state_dir cannot be trusted or created; the message says why and what to do. */
export class StateDirError extends Error {
  constructor(
    readonly stateDir: string,
    /** unsafe: others could tamper with it; create: it could not be made */
    readonly kind: 'unsafe' | 'create',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StateDirError';
  }
}

const euid = () => process.geteuid?.() ?? 0;

/**
 * Why state_dir cannot be trusted, or null. syncward (often root) writes the
 * journal, lock, control socket and api.json there and ssh puts its sockets
 * there: a user who can write into it, or replace it, could plant a symlink
 * that root then writes through, or a socket that ssh then talks to. So
 * state_dir must belong to syncward's user and be writable by nobody else,
 * and so must every directory above it (root's, or sticky like /tmp).
 * A state_dir that does not exist yet is judged by the directories above it.
 */
export function stateDirProblem(dir: string, uid = euid()): string | null {
  let real = dir;
  try {
    real = realpathSync(dir);
    const st = statSync(real);
    if (!st.isDirectory())
      return `state_dir ${dir} is not a directory: set state_dir to a directory of its own, e.g. /var/lib/syncward`;
    if (st.uid !== uid)
      return `state_dir ${dir} belongs to uid ${st.uid}, not to uid ${uid} that runs syncward: that user could plant files syncward then writes through; run \`chown ${uid} ${dir} && chmod 700 ${dir}\`, or use a state_dir of this user's`;
    if ((st.mode & 0o022) !== 0)
      return `state_dir ${dir} is writable by ${(st.mode & 0o020) !== 0 ? 'its group' : 'others'} (mode ${(st.mode & 0o777).toString(8)}): they could plant files syncward then writes through; run \`chmod 700 ${dir}\``;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `state_dir ${dir}: ${(e as Error).message}`;
  }
  for (let p = dirname(real); ; p = dirname(p)) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      if (p === dirname(p)) return null;
      continue; // created later, by us, mode 700
    }
    const sticky = (st.mode & 0o1000) !== 0;
    if ((st.mode & 0o022) !== 0 && !sticky)
      return `${p}, above state_dir ${dir}, is writable by ${(st.mode & 0o020) !== 0 ? 'its group' : 'others'} (mode ${(st.mode & 0o777).toString(8)}): they could replace state_dir; run \`chmod go-w ${p}\`, or move state_dir (e.g. to /var/lib/syncward)`;
    // the owner of a directory can rename anything in it, sticky or not
    if (st.uid !== 0 && st.uid !== uid)
      return `${p}, above state_dir ${dir}, belongs to uid ${st.uid}: that user could replace state_dir; move state_dir under a directory owned by root or uid ${uid} (e.g. /var/lib/syncward)`;
    if (p === dirname(p)) return null;
  }
}

/**
 * Creates state_dir and its ssh/ directory (mode 700 whatever the umask) and
 * refuses a state_dir others could tamper with. Throws StateDirError.
 */
export function prepareStateDir(dir: string): void {
  const unsafe = stateDirProblem(dir);
  if (unsafe) throw new StateDirError(dir, 'unsafe', unsafe);
  for (const d of [dir, join(dir, SSH_DIR)]) {
    if (existsSync(d)) continue;
    try {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chmodSync(d, 0o700);
    } catch (e) {
      throw new StateDirError(
        dir,
        'create',
        `cannot create ${d}: ${(e as Error).message} (set state_dir to a directory this user can write, e.g. /var/lib/syncward)`,
        { cause: e },
      );
    }
  }
}
