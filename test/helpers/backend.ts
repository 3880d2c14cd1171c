import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The watcher backend a suite runs against: SYNCWARD_TEST_WATCHER=fanotify
 * (the fanotify suites set it), else inotify (the default, auto, is inotify
 * on a test's small tree).
 */
export function testWatcher(): 'inotify' | 'fanotify' {
  return process.env.SYNCWARD_TEST_WATCHER === 'fanotify' ? 'fanotify' : 'inotify';
}

/** Why fanotify cannot be tested in this process, or null when it can: a filesystem mark needs CAP_SYS_ADMIN. */
export function fanotifyUnavailable(): string | null {
  return process.getuid?.() === 0
    ? null
    : 'fanotify needs root (CAP_SYS_ADMIN for a filesystem mark); CI runs these as root';
}

/**
 * A directory that is a tmpfs of its own (root only). A fanotify group marks
 * a whole filesystem and queues every change made on it, by anyone: a test
 * that lowers the queue to make it overflow on cue needs a filesystem no
 * other process writes to, or other work on the machine overflows it too.
 */
export function ownFilesystem(prefix: string): { dir: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m,mode=0755', 'tmpfs', dir]);
  return {
    dir,
    dispose: () => {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
