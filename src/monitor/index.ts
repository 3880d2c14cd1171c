export { defaultRetry, postJson, type RetryPolicy, retryDelayMs, runCommand, Sink } from './deliver.js';
export {
  type AlertMessage,
  type Incident,
  Monitor,
  type MonitorOptions,
  type RawAlert,
} from './monitor.js';
export {
  type Condition,
  type ConditionKind,
  conditionId,
  evaluate,
  type RulesConfig,
  type Snapshot,
} from './rules.js';
