export { defaultRetry, postJson, type RetryPolicy, retryDelayMs, runCommand, Sink } from './deliver.js';
