/**
 * What to suggest for the kernel's inotify and fanotify limits, once for the
 * watcher's messages and for doctor (pure: no /proc, no addon).
 */

/** The kernel queue a backend's events wait in, as messages name it: its size is a sysctl read when the instance or group is made. */
export function eventQueue(backend: 'inotify' | 'fanotify'): { name: string; sysctl: string } {
  return { name: `${backend} queue`, sysctl: `fs.${backend}.max_queued_events` };
}

/** The fs.inotify.max_user_watches docs/operations.md recommends: a few million directories at about 1 KiB each, used only as watched. */
export const RECOMMENDED_MAX_USER_WATCHES = 4194304;

/** What to set a limit to: twice what is needed, at least `floor`, rounded up to a power of two. */
export function suggestLimit(needed: number, floor: number): number {
  let n = 1;
  while (n < Math.max(needed * 2, floor)) n *= 2;
  return n;
}

/** fs.inotify.max_user_watches for `needed` directories: the recommended value, or more for a bigger tree. */
export const suggestMaxUserWatches = (needed: number): number =>
  suggestLimit(needed, RECOMMENDED_MAX_USER_WATCHES);
