import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The daemon suites again with every source on the fanotify backend
 * (SYNCWARD_TEST_WATCHER=fanotify makes the test config say watcher:
 * fanotify): the same mirrors must come out of the other watcher. A suite
 * that falls back to inotify would pass without testing anything, so each
 * run must also have logged the fanotify start (SYNCWARD_TEST_LOG).
 */
const SUITES = ['churn', 'mirror', 'hardlinks', 'moves', 'root-attrs'];

function run(suite: string): Promise<{ code: number | null; out: string }> {
  const file = fileURLToPath(new URL(`./${suite}.test.js`, import.meta.url));
  return new Promise((resolve, reject) => {
    // a test file run as a program runs its tests; node's runner marks its own children (NODE_TEST_CONTEXT) and would skip them
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(process.execPath, ['--test-reporter=tap', file], {
      // churn on a fixed seed here: its random seed runs in churn.test itself
      env: { ...env, SYNCWARD_TEST_WATCHER: 'fanotify', SYNCWARD_TEST_LOG: '1', SEED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('the daemon suites with watcher: fanotify', () => {
  for (const suite of SUITES) {
    test(`${suite}.test with every source on fanotify`, async () => {
      const { code, out } = await run(suite);
      const failed = out
        .split('\n')
        .filter((l) => /^\s*not ok /.test(l))
        .join('\n');
      assert.equal(code, 0, `${suite} failed on fanotify:\n${failed}\n${out.slice(-3000)}`);
      assert.match(out, /with fanotify \(one filesystem mark\)/, `${suite} never watched with fanotify`);
      assert.doesNotMatch(out, /fanotify cannot watch/, `${suite} fell back to inotify`);
    });
  }
});
