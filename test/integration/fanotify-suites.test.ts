import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fanotifyUnavailable } from '../helpers/backend.js';

/**
 * The suites again with every source on the fanotify backend
 * (SYNCWARD_TEST_WATCHER=fanotify makes the test config say watcher:
 * fanotify, watch.test build FanotifyWatchers, and the queue tests lower
 * fs.fanotify.max_queued_events): the same mirrors, events, rename races and
 * overflow catch-ups must come out of the other watcher. A suite that falls
 * back to inotify would pass without testing anything, so each run must also
 * have said it watched with fanotify: the daemon's log line
 * (SYNCWARD_TEST_LOG), or watch.test's own.
 */
const DAEMON = /with fanotify \(one filesystem mark\)/;
const SUITES: Array<[suite: string, watchedWithFanotify: RegExp]> = [
  ['churn', DAEMON],
  ['mirror', DAEMON],
  ['hardlinks', DAEMON],
  ['moves', DAEMON],
  ['root-attrs', DAEMON],
  ['watch', /watch\.test: every tree watched with FanotifyWatcher/],
  ['overflow', DAEMON],
];

function run(suite: string): Promise<{ code: number | null; out: string }> {
  const file = fileURLToPath(new URL(`./${suite}.test.js`, import.meta.url));
  return new Promise((resolve, reject) => {
    // a test file run as a program runs its tests; node's runner marks its own children (NODE_TEST_CONTEXT) and would skip them
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(process.execPath, ['--test-reporter=tap', file], {
      // churn on a fixed seed here: its random seed runs in churn.test itself; watch.test's
      // churn keeps its random seed, which tests fanotify's directory handles after random renames
      env: {
        ...env,
        SYNCWARD_TEST_WATCHER: 'fanotify',
        SYNCWARD_TEST_LOG: '1',
        ...(suite === 'churn' ? { SEED: '1' } : {}),
      },
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

describe('the suites with watcher: fanotify', () => {
  for (const [suite, watched] of SUITES) {
    test(`${suite}.test with every source on fanotify`, {
      skip: fanotifyUnavailable() ?? false,
    }, async () => {
      const { code, out } = await run(suite);
      const failed = out
        .split('\n')
        .filter((l) => /^\s*not ok /.test(l))
        .join('\n');
      assert.equal(code, 0, `${suite} failed on fanotify:\n${failed}\n${out.slice(-3000)}`);
      assert.match(out, watched, `${suite} never watched with fanotify`);
      // a skipped test proves nothing here: only the inotify-only ones may skip (watch.test's watch limit, its TreeWatcher failure)
      const skipped = out.split('\n').filter((l) => /^\s*ok .*# SKIP/.test(l));
      assert.ok(
        skipped.every((l) => /inotify watch limit|the inotify watcher only/.test(l)),
        `${suite} skipped tests on fanotify:\n${skipped.join('\n')}`,
      );
      assert.doesNotMatch(out, /fanotify cannot watch/, `${suite} fell back to inotify`);
    });
  }
});
