import { readFileSync } from 'node:fs';

/** syncward's version, read once from package.json (build/src/util → the package root); 'unknown' in a copy without it. */
export const VERSION: string = (() => {
  try {
    return (
      JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return 'unknown';
  }
})();
