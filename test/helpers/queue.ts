import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

export const QUEUE = '/proc/sys/fs/inotify/max_queued_events';
/** flock(1)'s lock file: a lock on an open file dies with its holder, so a killed run leaves nothing held */
export const LOCK = '/tmp/syncward-test-max-queued-events.flock';
/** the value to restore, kept on disk while lowered: a holder killed outright is repaired by the next one */
const SAVED = '/tmp/syncward-test-max-queued-events.saved';

/**
 * The holder: under flock, restores a value a killed holder left (SAVED),
 * saves the current one, lowers it and says "locked"; then waits for its
 * stdin to close (our release, or this test process dying in any way) and
 * restores. It ignores INT/TERM/HUP so a Ctrl-C of the whole process group
 * still restores the value.
 */
const HOLDER = `trap '' INT TERM HUP
if [ -s "$3" ]; then cat "$3" > "$2"; fi
cat "$2" > "$3.tmp" && mv "$3.tmp" "$3"
echo "$1" > "$2"
echo locked
cat > /dev/null
cat "$3" > "$2" && rm -f "$3"`;

/** Takes the lock and lowers the queue; resolves once both are done. */
function lower(n: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['-x', LOCK, 'sh', '-c', HOLDER, 'sh', String(n), QUEUE, SAVED], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('locked\n')) resolve(child);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err += s;
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`flock holder for ${QUEUE} exited ${code}: ${err}`)));
  });
}

/**
 * Runs `create` with fs.inotify.max_queued_events lowered to `n`, restoring
 * it afterwards. The kernel reads the limit when an inotify instance is
 * created, so only instances made inside `create` get the small queue. Test
 * files run in parallel: a lock keeps two of them from saving each other's
 * lowered value as the one to restore. The lock and the restore survive a
 * killed test run: see HOLDER.
 */
export async function withSmallQueue<T>(n: number, create: () => Promise<T>): Promise<T> {
  const holder = await lower(n);
  try {
    return await create();
  } finally {
    const gone = new Promise((r) => holder.once('exit', r));
    holder.stdin?.end();
    await gone;
  }
}

/** Whether this process may change the queue size (root, writable /proc/sys, flock(1) installed). */
export function canChangeQueue(): boolean {
  try {
    writeFileSync(QUEUE, readFileSync(QUEUE, 'utf8').trim());
  } catch {
    return false;
  }
  return spawnSync('flock', ['--version']).status === 0;
}
