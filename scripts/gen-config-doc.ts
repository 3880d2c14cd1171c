import { writeFileSync } from 'node:fs';
import { configReference } from '../src/config/reference.js';

const out = new URL('../../docs/configuration.md', import.meta.url);
writeFileSync(out, configReference());
console.log(`wrote ${out.pathname}`);
