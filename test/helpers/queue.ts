import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const QUEUE = '/proc/sys/fs/inotify/max_queued_events';
const LOCK = '/tmp/syncward-test-max-queued-events.lock';

/**
 * Runs `create` with fs.inotify.max_queued_events lowered to `n`, restoring
 * it afterwards. The kernel reads the limit when an inotify instance is
 * created, so only instances made inside `create` get the small queue. Test
 * files run in parallel: a lock directory keeps two of them from saving
 * each other's lowered value as the one to restore.
 */
export async function withSmallQueue<T>(n: number, create: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i > 600) throw e;
      await sleep(50);
    }
  }
  try {
    const saved = readFileSync(QUEUE, 'utf8').trim();
    writeFileSync(QUEUE, String(n));
    try {
      return await create();
    } finally {
      writeFileSync(QUEUE, saved);
    }
  } finally {
    rmdirSync(LOCK);
  }
}

/** Whether this process may change the queue size (root, writable /proc/sys). */
export function canChangeQueue(): boolean {
  try {
    writeFileSync(QUEUE, readFileSync(QUEUE, 'utf8').trim());
    return true;
  } catch {
    return false;
  }
}
