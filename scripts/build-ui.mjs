#!/usr/bin/env node
// Builds the dashboard (ui/) into dist/ui: index.html, app.js, app.css.
// Everything is bundled; the page loads nothing from elsewhere at run time.
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const out = `${root}dist/ui`;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { app: 'ui/src/main.ts' },
  outdir: out,
  bundle: true,
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(`${root}ui/index.html`, `${out}/index.html`);
const size = (f) => `${(statSync(`${out}/${f}`).size / 1024).toFixed(1)} KiB`;
console.log(`build:ui: dist/ui/app.js ${size('app.js')}, app.css ${size('app.css')}`);
