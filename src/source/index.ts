export { type Lifted, Source, type SourceContext } from './source.js';
