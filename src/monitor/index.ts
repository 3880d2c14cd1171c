export type { Alert, Incident } from '../alerts/index.js';
export { type AlertChannel, alertChannels, SEND_TIMEOUT_MS } from './channels.js';
export {
  type AlertMessage,
  Monitor,
  type MonitorOptions,
} from './monitor.js';
export {
  type Condition,
  type ConditionKind,
  conditionId,
  evaluate,
  type RulesConfig,
  type Snapshot,
} from './rules.js';
