export { Daemon, type SourceState, type SourceStatus, type TargetStatus } from './daemon.js';
export { routeEvents } from './route.js';
