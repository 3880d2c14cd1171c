export { Filter, FilterError, type FilterOptions } from './filter.js';
