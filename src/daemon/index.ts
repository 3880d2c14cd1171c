export { CONTROL_SOCKET, controlRequest } from './control.js';
export {
  type Alert,
  type AlertKind,
  type AuditEntry,
  type AuditEvent,
  type AuditSummary,
  type BatchEvent,
  type CanaryStatus,
  Daemon,
  type Incident,
  type RefusedEvent,
  type SourceAuditResult,
  type SourceState,
  type SourceStatus,
  type TargetAuditResult,
  type TargetStatus,
} from './daemon.js';
