export { type AuditOptions, type AuditResult, auditTarget } from './audit.js';
export {
  DRIFT_KINDS,
  type DriftEntry,
  type DriftKind,
  type ItemizeOptions,
  type ItemType,
  parseItemizeLine,
} from './itemize.js';
export { repairChanges } from './repair.js';
