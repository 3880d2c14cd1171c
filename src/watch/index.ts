import type { FanotifyWatcher } from './fanotify-watcher.js';
import type { TreeWatcher } from './tree-watcher.js';

export {
  AUTO_FANOTIFY_DIRS,
  FanotifyWatcher,
  type FanotifyWatcherOptions,
  fanotifyRefusal,
  mountsBeneath,
} from './fanotify-watcher.js';
export { HardLinks } from './hardlinks.js';
export { eventQueue } from './limits.js';
export { fullSyncAfterRecovery } from './recovery.js';
export {
  type RecoveredInfo,
  readMaxUserWatches,
  TOO_MANY_DIRS,
  TreeWatcher,
  type TreeWatcherOptions,
  type UnwatchedSummary,
  type WatchLimitInfo,
  type WatchWarning,
} from './tree-watcher.js';
export type { BatchInfo, FsEvent, FsEventKind } from './types.js';

/** How a source is watched: one inotify watch per directory, or one fanotify mark on its filesystem. */
export type WatcherBackend = 'auto' | 'inotify' | 'fanotify';
export type Watcher = TreeWatcher | FanotifyWatcher;
