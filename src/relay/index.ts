export { RelayWatch, type RelayWatchOptions } from './relay.js';
export {
  answeredView,
  flattenLeaves,
  type LeafRow,
  leafOf,
  pickRelaySource,
  type RelayAnswer,
  unreachableView,
} from './view.js';
