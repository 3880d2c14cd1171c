import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeOpenFilesLimit, LOW_OPEN_FILES, parseOpenFilesLimit } from '../../src/native/index.js';

const limits = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

test('the open files line of /proc/PID/limits gives the soft and the hard limit', () => {
  assert.deepEqual(parseOpenFilesLimit(limits), { soft: 1024, hard: 524288 });
  assert.deepEqual(
    parseOpenFilesLimit('Max open files            unlimited            unlimited            files\n'),
    { soft: Number.POSITIVE_INFINITY, hard: Number.POSITIVE_INFINITY },
  );
  assert.throws(() => parseOpenFilesLimit('Max cpu time unlimited unlimited seconds\n'), /Max open files/);
});

test('a raised limit is logged with what it was; a low one is a warning that says how to raise it', () => {
  assert.deepEqual(describeOpenFilesLimit({ soft: 524288, hard: 524288, before: 1024, error: null }), {
    level: 'info',
    message: 'open files limit (RLIMIT_NOFILE): 524288 (hard 524288), raised from 1024',
  });
  assert.equal(
    describeOpenFilesLimit({ soft: 65536, hard: 65536, before: 65536, error: null }).message,
    'open files limit (RLIMIT_NOFILE): 65536 (hard 65536)',
  );
  const low = describeOpenFilesLimit({ soft: 1024, hard: 1024, before: 1024, error: null });
  assert.equal(low.level, 'warn');
  assert.ok(1024 < LOW_OPEN_FILES);
  assert.match(low.message, /that is low: .*alert unwatched.*LimitNOFILE=65536/);
  const failed = describeOpenFilesLimit({ soft: 8192, hard: 65536, before: 8192, error: 'EPERM' });
  assert.equal(failed.level, 'warn');
  assert.match(failed.message, /could not raise it to the hard limit: EPERM/);
});
