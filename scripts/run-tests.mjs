#!/usr/bin/env node
// Runs the compiled tests with node's own test runner.
// Usage: node scripts/run-tests.mjs [unit|integration|<substring>...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../dist/test/', import.meta.url).pathname;
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const wanted = process.argv.slice(2);
const files = walk(root)
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
if (files.length === 0) {
  console.error(`no test files matched ${wanted.join(' ') || '(all)'} under ${root}`);
  process.exit(1);
}
// A hung test fails after 10 minutes, and the whole run after 60, instead of
// holding CI until its own limit: the report then names what hung.
const r = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=600000', ...files],
  { stdio: 'inherit', timeout: 60 * 60_000, killSignal: 'SIGKILL' },
);
if (r.error) console.error(`test run stopped: ${r.error.message}`);
process.exit(r.status ?? 1);
