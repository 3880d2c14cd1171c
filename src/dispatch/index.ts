export { type BackoffPolicy, defaultBackoff, retryDelay } from './backoff.js';
export {
  type Delivery,
  type TargetState,
  TargetWorker,
  type TargetWorkerOptions,
  type TransferReport,
  type WorkerAlert,
} from './target-worker.js';
