#!/usr/bin/env node
// Bundles the program, as tsc built it in dist/src, into dist/bundle: the form
// scripts/install.sh and the .deb ship, and bin/syncward runs where there is
// no dist/src. Loaded as its ~300 modules, dist/src keeps each one's source,
// record and namespace in memory, and zod's index brings its 64 locales and
// JSON Schema code along; bundled, shaken and minified, the daemon takes less
// (measured, RSS once watching: 61.7 against 64.8 MB on one directory, 68.5
// against 73.2 MB on 100,001).
// Split where the CLI imports a command's code when it runs, so `start` still
// loads only what the daemon uses.
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const out = `${root}dist/bundle`;
rmSync(out, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'dist/src/cli/main.js' },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // identifiers kept: stack traces and CPU profiles name the functions of dist/src (~0.2 MB)
  minifyWhitespace: true,
  minifySyntax: true,
  // from node_modules at run time: a native addon, and packages loaded by path with createRequire
  external: ['better-sqlite3', 'prom-client', 'pino-pretty'],
  // the CommonJS packages inside (yaml, pino) require() node's own modules
  banner: {
    js: "import { createRequire as __syncwardRequire } from 'node:module'; const require = __syncwardRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
// the bundle run as a command from a clone, whose bin/syncward runs dist/src: what the bench measures
writeFileSync(
  `${out}/syncward.js`,
  "import { main } from './main.js';\n\nprocess.exitCode = await main(process.argv);\n",
);
console.log(
  `build:bundle: dist/bundle/main.js ${(statSync(`${out}/main.js`).size / 1024).toFixed(1)} KiB, with its chunks`,
);
