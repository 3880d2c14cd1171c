export { RelayWatch, type RelayWatchOptions } from './relay.js';
export {
  answeredView,
  flattenLeaves,
  leafOf,
  pickRelaySource,
  type RelayAnswer,
  unreachableView,
} from './view.js';
