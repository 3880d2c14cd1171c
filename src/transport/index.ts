export {
  type BatchOptions,
  backupDay,
  buildBatchCall,
  buildFullSyncCall,
  buildInboxCall,
  buildListCall,
  buildPruneCall,
  buildRemoteVersionCall,
  buildRootAttrsCall,
  type CallOptions,
  type FullSyncOptions,
  inboxArgs,
  inboxMissing,
  quoteRshWord,
  type RsyncCall,
  type SourceSpec,
  serverAliveS,
  sshCommand,
  sshConfigValue,
  sshWords,
  type TargetSpec,
  touchesRoot,
} from './argv.js';
export { excludeArgs, excludeRule, exclusionFor, PATTERN_MAX, RSYNC_PATH_MAX } from './exclude.js';
export {
  type ClassifyOptions,
  classifyExit,
  classifySpawnError,
  describeExit,
  EXIT_CLASSES,
  type ExitClass,
  type ExitInfo,
  type FailedPath,
  parseFailedPath,
  parseFailedPaths,
  parseFailures,
  transferred,
  unescapeRsync,
} from './exit-codes.js';
export { buildFetchCall } from './fetch.js';
export { parseIoBytes, parseStat, rsyncTreeCounters, type TreeCounters } from './proc-io.js';
export {
  bytes,
  describeTransfer,
  mergeProgress,
  parseProgress2Line,
  progressWords,
  type RsyncProgress,
  type TransferProgress,
  transferProgress,
} from './progress.js';
export { ReadyRsync, type ReadyRsyncOptions, type ReadyStats } from './ready.js';
export {
  fitsReady,
  learnedRecycleMs,
  MIN_RECYCLE_MS,
  type ReadyOutcome,
  retryCold,
  SLOT_FREED_MS,
  shouldArm,
  slotNotYetFreed,
} from './ready-rules.js';
export {
  type CallKind,
  commandBounds,
  daemonBounds,
  RsyncTransport,
  type RsyncTransportOptions,
  resultOf,
} from './rsync.js';
export {
  brokenDeleteMissingArgs,
  compareVersions,
  localRsyncVersion,
  parseRsyncVersion,
  type RsyncVersion,
  SENDER_REFUSES_FOREIGN_SYMLINKS,
  SENDER_SYMLINK_FIX,
  secludedArgsOption,
  senderFollowsForeignSymlinks,
  senderSymlinkWarning,
} from './rsync-version.js';
export {
  parseStatsLine,
  type RsyncResult,
  type RsyncStats,
  type RunOptions,
  rsyncEnv,
  runRsync,
  type StartedRsync,
  startRsync,
} from './run.js';
export {
  checkIntervalMs,
  observe,
  type Progress,
  type ProgressReading,
  stalled,
  stalledAfter,
} from './stall.js';
export {
  formatTargetUrl,
  parseTargetUrl,
  rsyncDestination,
  TARGET_URL_FORMS,
  type TargetUrl,
  TargetUrlError,
} from './target-url.js';
export type {
  BatchResult,
  BatchSendOptions,
  DeleteCount,
  ProbeResult,
  SendAllOptions,
  SendOptions,
  SendResult,
  Transport,
} from './transport.js';
