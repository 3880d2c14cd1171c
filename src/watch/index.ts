export {
  readMaxUserWatches,
  TreeWatcher,
  type TreeWatcherOptions,
  type WatchLimitInfo,
  type WatchWarning,
} from './tree-watcher.js';
export type { FsEvent, FsEventKind } from './types.js';
