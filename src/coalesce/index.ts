export { changesOf } from './changes.js';
export { Coalescer, type CoalescerOptions, sortByPath } from './coalescer.js';
