export { EVENT_NAMES, type EventName, sseFrame } from './events.js';
export {
  type HostPolicy,
  INTENT_HEADER,
  parseHostHeader,
  type Refusal,
  type RequestFacts,
  refusal,
} from './request-check.js';
export {
  API_FILE,
  type ApiDaemon,
  type ApiOptions,
  type ApiServer,
  type ApiStatus,
  apiUrl,
  type RecentError,
  startApi,
} from './server.js';
export { contentType, staticPath, UI_DIR } from './static.js';
export { presentedToken, readApiToken, tokenMatches } from './token.js';
