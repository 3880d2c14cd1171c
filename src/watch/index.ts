export { HardLinks } from './hardlinks.js';
export { fullSyncAfterRecovery } from './recovery.js';
export {
  type RecoveredInfo,
  readMaxUserWatches,
  TreeWatcher,
  type TreeWatcherOptions,
  type UnwatchedSummary,
  type WatchLimitInfo,
  type WatchWarning,
} from './tree-watcher.js';
export type { FsEvent, FsEventKind } from './types.js';
