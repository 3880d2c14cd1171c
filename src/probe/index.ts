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
