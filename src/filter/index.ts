export { Filter, FilterError, type FilterOptions } from './filter.js';
export { type CompiledPattern, compilePattern, PatternSyntaxError } from './pattern.js';
export { routeEvents } from './route.js';
