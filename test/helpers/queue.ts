import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { testWatcher } from './backend.js';

/** A kernel event queue whose size a sysctl sets for every instance created after it changes. */
export interface KernelQueue {
  /** the sysctl's name, for messages */
  sysctl: string;
  /** its file under /proc/sys */
  file: string;
  /** flock(1)'s lock file: a lock on an open file dies with its holder, so a killed run leaves nothing held */
  lock: string;
  /** the value to restore, kept on disk while lowered: a holder killed outright is repaired by the next one */
  saved: string;
}

export const INOTIFY_QUEUE: KernelQueue = {
  sysctl: 'fs.inotify.max_queued_events',
  file: '/proc/sys/fs/inotify/max_queued_events',
  lock: '/tmp/syncward-test-max-queued-events.flock',
  saved: '/tmp/syncward-test-max-queued-events.saved',
};

/** fanotify_init(2) reads it for a group without FAN_UNLIMITED_QUEUE (syncward does not ask for that) */
export const FANOTIFY_QUEUE: KernelQueue = {
  sysctl: 'fs.fanotify.max_queued_events',
  file: '/proc/sys/fs/fanotify/max_queued_events',
  lock: '/tmp/syncward-test-fanotify-max-queued-events.flock',
  saved: '/tmp/syncward-test-fanotify-max-queued-events.saved',
};

/** The queue of the backend the suites run against (SYNCWARD_TEST_WATCHER). */
export function testQueue(): KernelQueue {
  return testWatcher() === 'fanotify' ? FANOTIFY_QUEUE : INOTIFY_QUEUE;
}

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
function lower(n: number, q: KernelQueue): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['-x', q.lock, 'sh', '-c', HOLDER, 'sh', String(n), q.file, q.saved], {
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
    child.once('exit', (code) => reject(new Error(`flock holder for ${q.file} exited ${code}: ${err}`)));
  });
}

/**
 * Runs `create` with the queue (by default the one of the backend under
 * test) lowered to `n`, restoring it afterwards. The kernel reads the limit
 * when an inotify instance or a fanotify group is created, so only those
 * made inside `create` get the small queue. Test files run in parallel: a
 * lock keeps two of them from saving each other's lowered value as the one
 * to restore. The lock and the restore survive a killed test run: see HOLDER.
 */
export async function withSmallQueue<T>(
  n: number,
  create: () => Promise<T>,
  q: KernelQueue = testQueue(),
): Promise<T> {
  const holder = await lower(n, q);
  try {
    return await create();
  } finally {
    const gone = new Promise((r) => holder.once('exit', r));
    holder.stdin?.end();
    await gone;
  }
}

/** Whether this process may change the queue size (root, writable /proc/sys, flock(1) installed). */
export function canChangeQueue(q: KernelQueue = testQueue()): boolean {
  try {
    writeFileSync(q.file, readFileSync(q.file, 'utf8').trim());
  } catch {
    return false;
  }
  return spawnSync('flock', ['--version']).status === 0;
}
