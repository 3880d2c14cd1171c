import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root folder, the one with binding.gyp, found by walking up
 * from this module: its depth differs by form (dist/src/util/ as tsc builds
 * it, dist/bundle/ as scripts/install.sh and the .deb ship it, src/util/).
 */
export const PACKAGE_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'binding.gyp'))) break;
    dir = dirname(dir);
  }
  return dir;
})();
