export { Source, type SourceContext } from './source.js';
