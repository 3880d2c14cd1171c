import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CanaryTracker, canaryText, parseCanary } from '../../src/probe/index.js';
import { buildFetchCall, parseTargetUrl, type TargetSpec } from '../../src/transport/index.js';

function target(url: string, extra: Partial<TargetSpec> = {}): TargetSpec {
  return {
    name: 't',
    url: parseTargetUrl(url),
    sshOptions: [],
    rsyncArgs: [],
    timeoutS: 30,
    contimeoutS: 15,
    ...extra,
  };
}

test('a canary file carries its nonce and write time, and nothing else parses as one', () => {
  const text = canaryText({ nonce: '0a1b2c3d4e5f6071', writtenAt: 1_700_000_000_123 });
  assert.deepEqual(parseCanary(text), { nonce: '0a1b2c3d4e5f6071', writtenAt: 1_700_000_000_123 });
  assert.equal(parseCanary('hello\n'), null);
  assert.equal(parseCanary(''), null);
  assert.equal(parseCanary('syncward canary\nnonce zz\n'), null);
});

test('a canary seen on the target gives its write-to-arrival lag, once', () => {
  const t = new CanaryTracker(10_000);
  t.written({ nonce: 'aa', writtenAt: 1000 });
  assert.equal(t.waiting, true);
  assert.deepEqual(t.seen('aa', 1250), { lagMs: 250, recovered: false });
  assert.equal(t.waiting, false);
  assert.equal(t.seen('aa', 1300), null, 'the same canary read again is not a new arrival');
  assert.equal(t.seen('ff', 1300), null, 'a nonce never written (a previous run) is not an arrival');
  assert.deepEqual(t.status(), { lastWrittenAt: 1000, lastArrivedAt: 1250, lagMs: 250, missingSince: null });
});

test('a canary overdue past the timeout is missing from its write time, reported once; a later arrival clears it', () => {
  const t = new CanaryTracker(5000);
  t.written({ nonce: 'aa', writtenAt: 1000 });
  assert.equal(t.check(6000), false, 'exactly at the timeout is not overdue yet');
  t.written({ nonce: 'bb', writtenAt: 4000 });
  assert.equal(t.check(6001), true);
  assert.equal(t.check(7000), false, 'already missing: not reported again');
  assert.equal(t.status().missingSince, 1000, 'missing since the oldest write not seen');
  t.written({ nonce: 'cc', writtenAt: 8000 });
  // the newest canary got through: everything older is accounted for
  assert.deepEqual(t.seen('cc', 8400), { lagMs: 400, recovered: true });
  assert.equal(t.status().missingSince, null);
  assert.equal(t.waiting, false);
});

test('canaries written while the target was down get a fresh timeout when it is back, not an alert at once', () => {
  const t = new CanaryTracker(5000);
  t.written({ nonce: 'aa', writtenAt: 1000 });
  assert.equal(t.check(20_000), true, 'missing while the target is down (its down alert speaks for it)');
  t.excuse(30_000);
  assert.equal(t.status().missingSince, null);
  assert.equal(t.check(34_000), false, 'the catch-up has until the timeout to bring it');
  assert.deepEqual(
    t.seen('aa', 31_000),
    { lagMs: 30_000, recovered: false },
    'its lag is still measured from its write',
  );
  const u = new CanaryTracker(5000);
  u.written({ nonce: 'bb', writtenAt: 1000 });
  u.excuse(30_000);
  assert.equal(u.check(35_001), true, 'still not there a timeout after the target came back: missing');
  assert.equal(u.status().missingSince, 30_000);
});

test('an older canary arriving leaves the newer ones awaited, and one of them may be overdue already', () => {
  const t = new CanaryTracker(5000);
  t.written({ nonce: 'aa', writtenAt: 0 });
  t.written({ nonce: 'bb', writtenAt: 1000 });
  const r = t.seen('aa', 7000);
  assert.deepEqual(r, { lagMs: 7000, recovered: false });
  assert.equal(t.waiting, true);
  assert.equal(t.status().missingSince, 1000, 'bb, written 6 s ago, is overdue');
});

test('the canary is fetched from a daemon target with its password file and timeouts, into a local directory', () => {
  const call = buildFetchCall(
    target('rsync://www@10.0.0.2:8873/www/sub', { passwordFile: '/etc/syncward/www.pass' }),
    '.syncward-canary',
    '/tmp/x',
  );
  assert.deepEqual(call.argv, [
    'rsync',
    '--ignore-times',
    '--no-motd',
    '--sockopts=TCP_NODELAY',
    '--contimeout=15',
    '--password-file=/etc/syncward/www.pass',
    'rsync://www@10.0.0.2:8873/www/sub/.syncward-canary',
    '/tmp/x/',
  ]);
  assert.equal(call.stdin, undefined);
});

test('the canary is fetched over ssh with the transfer ssh command, and from a local path directly', () => {
  const ssh = buildFetchCall(
    target('ssh://deploy@10.0.0.3:2222/srv/www', {
      identityFile: '/k',
      rsyncArgs: ['--rsync-path=sudo rsync'],
    }),
    'meta/canary',
    '/tmp/y/',
  );
  const e = ssh.argv.indexOf('-e');
  assert.ok(e > 0);
  assert.match(ssh.argv[e + 1] ?? '', /^ssh -p 2222 -i \/k -o BatchMode=yes/);
  assert.deepEqual(ssh.argv.slice(-3), [
    '--rsync-path=sudo rsync',
    'deploy@10.0.0.3:/srv/www/meta/canary',
    '/tmp/y/',
  ]);
  const local = buildFetchCall(target('/backup/www'), '.syncward-canary', '/tmp/z');
  assert.deepEqual(local.argv, ['rsync', '--ignore-times', '/backup/www/.syncward-canary', '/tmp/z/']);
});
