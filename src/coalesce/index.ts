export { changesOf } from './changes.js';
export { Coalescer, type CoalescerOptions } from './coalescer.js';
