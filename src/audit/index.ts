export { type AuditOptions, type AuditResult, auditTarget, failedAudit } from './audit.js';
export {
  DRIFT_KINDS,
  type DriftEntry,
  type DriftKind,
  type ItemizeOptions,
  type ItemType,
  parseItemizeLine,
} from './itemize.js';
export {
  isPending,
  NOTHING_PENDING,
  type PendingIndex,
  pendingIndex,
  splitPending,
  unionPending,
} from './pending.js';
export { repairChanges } from './repair.js';
export { AuditRunner, type AuditRunnerOptions, type AuditSubject } from './runner.js';
