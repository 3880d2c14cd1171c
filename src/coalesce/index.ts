export { changesOf } from './changes.js';
export { Coalescer, type CoalescerOptions } from './coalescer.js';
export type { Change, Op } from './types.js';
