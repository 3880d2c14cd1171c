export { type HookMessage, Hooks, hookMatcher, hookPayload, mergePending, toMessage } from './hooks.js';
