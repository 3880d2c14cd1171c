export { CONTROL_SOCKET, controlRequest } from './control.js';
export {
  type Alert,
  type AlertKind,
  Daemon,
  type SourceState,
  type SourceStatus,
  type TargetStatus,
} from './daemon.js';
export { routeEvents } from './route.js';
