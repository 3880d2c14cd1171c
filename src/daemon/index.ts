export { CONTROL_SOCKET, controlRequest } from './control.js';
export {
  type Alert,
  type AlertKind,
  type AuditSummary,
  type BatchEvent,
  type CanaryStatus,
  Daemon,
  type Incident,
  type SourceState,
  type SourceStatus,
  type TargetStatus,
} from './daemon.js';
export { routeEvents } from './route.js';
