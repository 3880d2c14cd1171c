export {
  Canary,
  type CanaryEvent,
  type CanaryOptions,
  type CanaryState,
  CanaryTracker,
  type CanaryWrite,
  canaryText,
  parseCanary,
} from './canary.js';
export { type ScheduledJob, Scheduler } from './scheduler.js';
