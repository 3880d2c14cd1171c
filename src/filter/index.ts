export { Filter, FilterError, type FilterOptions, RELAY_INBOX, RESERVED_EXCLUDES } from './filter.js';
export { type CompiledPattern, compilePattern, PatternSyntaxError } from './pattern.js';
export { routeEvents } from './route.js';
