export {
  type BatchOptions,
  backupDay,
  buildBatchCall,
  buildFullSyncCall,
  buildListCall,
  buildPruneCall,
  type CallOptions,
  type FullSyncOptions,
  quoteRshWord,
  type RsyncCall,
  type SourceSpec,
  sshCommand,
  type TargetSpec,
} from './argv.js';
export {
  type ClassifyOptions,
  classifyExit,
  describeExit,
  EXIT_CLASSES,
  type ExitClass,
  type ExitInfo,
  parseFailedPath,
  parseFailedPaths,
  unescapeRsync,
} from './exit-codes.js';
export { buildFetchCall } from './fetch.js';
export { parseProgress2Line, type RsyncProgress } from './progress.js';
export {
  assertTransferred,
  parseStatsLine,
  type RsyncResult,
  type RsyncStats,
  type RunOptions,
  runRsync,
  TransferError,
} from './run.js';
export {
  formatTargetUrl,
  parseTargetUrl,
  rsyncDestination,
  TARGET_URL_FORMS,
  type TargetUrl,
  TargetUrlError,
} from './target-url.js';
