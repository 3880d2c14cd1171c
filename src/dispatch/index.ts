export type { WorkerAlert } from '../alerts/index.js';
export { type BackoffPolicy, defaultBackoff, retryDelay } from './backoff.js';
export {
  type Allowance,
  EVERYTHING_ALLOWED,
  type GuardRule,
  type GuardVerdict,
  judgeDeletes,
  NOTHING_ALLOWED,
  type RootState,
} from './delete-rules.js';
export { type GuardOutcome, type GuardRequest, guardDeletes, probeRoot } from './guard.js';
export {
  type Delivery,
  type TargetState,
  TargetWorker,
  type TargetWorkerOptions,
  type TransferReport,
} from './target-worker.js';
