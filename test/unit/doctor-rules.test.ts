import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Check,
  compareVersions,
  doctorExitCode,
  formatChecks,
  identityFileCheck,
  instancesCheck,
  parseRsyncVersion,
  passwordFileCheck,
  queueCheck,
  relayCheck,
  rsyncCheck,
  shellWord,
  suggestLimit,
  targetProbeCheck,
  watcherCheck,
  watchesCheck,
} from '../../src/cli/doctor-rules.js';
import { answeredView, unreachableView } from '../../src/relay/index.js';
import type { LeafStatus } from '../../src/status/index.js';
import { buildListCall, classifyExit } from '../../src/transport/index.js';

test('rsync --version first lines parse into version and protocol, with or without a "v"', () => {
  assert.deepEqual(parseRsyncVersion('rsync  version 3.5.0  protocol version 32\nCopyright (C) 1996-2026'), {
    version: '3.5.0',
    protocol: 32,
  });
  assert.deepEqual(parseRsyncVersion('rsync  version v3.2.3  protocol version 31\n'), {
    version: '3.2.3',
    protocol: 31,
  });
  assert.deepEqual(parseRsyncVersion('rsync version 3.1.3pre1'), { version: '3.1.3' });
  assert.equal(parseRsyncVersion('openrsync: protocol version 29'), null);
});

test('versions compare numerically, not as text', () => {
  assert.ok(compareVersions('3.10.0', '3.2.3') > 0);
  assert.ok(compareVersions('3.2.2', '3.2.3') < 0);
  assert.equal(compareVersions('3.2', '3.2.0'), 0);
});

test('an rsync older than 3.2.3 fails naming --mkpath; a missing one says how to install it', () => {
  const old = rsyncCheck({ path: '/usr/bin/rsync', version: { version: '3.1.3' } });
  assert.equal(old.status, 'fail');
  assert.match(old.message, /--mkpath \(used in every call.*\) needs 3\.2\.3/);
  assert.doesNotMatch(old.message, /--delete-missing-args/);
  const older = rsyncCheck({ path: '/usr/bin/rsync', version: { version: '3.0.9', protocol: 30 } });
  assert.match(older.message, /--delete-missing-args .* needs 3\.1\.0/);
  assert.equal(rsyncCheck({ path: '/usr/bin/rsync', version: { version: '3.2.3' } }).status, 'ok');
  const none = rsyncCheck(null);
  assert.equal(none.status, 'fail');
  assert.match(none.fix?.[0] ?? '', /apt-get install rsync/);
  assert.equal(rsyncCheck({ path: '/x/rsync', version: null }).status, 'warn');
});

test('suggested limits are twice the need, at least the floor, a power of two', () => {
  assert.equal(suggestLimit(21, 524288), 524288);
  assert.equal(suggestLimit(300_000, 524288), 1048576);
  assert.equal(suggestLimit(3, 1), 8);
});

const limits = { maxUserWatches: 100, maxUserInstances: 128, maxQueuedEvents: 16384 };

test('watches: fail above the limit, warn above the share, ok below, each with the numbers', () => {
  const fail = watchesCheck(
    limits,
    [
      { source: 'a', dirs: 80 },
      { source: 'b', dirs: 30 },
    ],
    0.9,
  );
  assert.equal(fail.status, 'fail');
  assert.match(
    fail.message,
    /^110 directories to watch \(a 80, b 30\) against fs\.inotify\.max_user_watches = 100: 10 would go unwatched/,
  );
  assert.deepEqual(fail.fix, [
    'sysctl -w fs.inotify.max_user_watches=4194304',
    "echo 'fs.inotify.max_user_watches = 4194304' >> /etc/sysctl.d/90-syncward.conf   # keeps it after a reboot",
    'then restart syncward',
  ]);
  const warn = watchesCheck(limits, [{ source: 'a', dirs: 95 }], 0.9);
  assert.equal(warn.status, 'warn');
  assert.match(warn.message, /\(95%\)/);
  assert.equal(watchesCheck(limits, [{ source: 'a', dirs: 90 }], 0.9).status, 'ok');
  assert.equal(
    watchesCheck({ ...limits, maxUserWatches: null }, [{ source: 'a', dirs: 1 }], 0.9).status,
    'warn',
  );
  const none = watchesCheck({ ...limits, maxUserWatches: null }, [], 0.9);
  assert.deepEqual([none.status, none.message], ['ok', 'no source is watched with inotify']);
});

test('instances: one per source; queue: below the kernel default is a warning', () => {
  assert.equal(instancesCheck(limits, 3).status, 'ok');
  assert.equal(instancesCheck({ ...limits, maxUserInstances: 4 }, 3).status, 'warn');
  const f = instancesCheck({ ...limits, maxUserInstances: 2 }, 3);
  assert.equal(f.status, 'fail');
  assert.equal(f.fix?.[0], 'sysctl -w fs.inotify.max_user_instances=1024');
  assert.equal(queueCheck(limits).status, 'ok');
  const q = queueCheck({ ...limits, maxQueuedEvents: 1000 });
  assert.equal(q.status, 'warn');
  assert.equal(q.fix?.[0], 'sysctl -w fs.inotify.max_queued_events=1048576');
});

const file = (mode: number, uid = 0) => ({
  exists: true as const,
  isFile: true,
  mode: 0o100000 | mode,
  readable: true,
  uid,
});

test('password files: other-readable fails (rsync refuses), group-readable warns, 600 is ok', () => {
  const p = '/etc/syncward/web1.pass';
  const c644 = passwordFileCheck('www/web1', p, file(0o644), 0);
  assert.equal(c644.status, 'fail');
  assert.deepEqual(c644.fix, [`chmod 600 ${p}`]);
  const c640 = passwordFileCheck('www/web1', p, file(0o640), 0);
  assert.equal(c640.status, 'warn');
  assert.deepEqual(c640.fix, [`chmod 600 ${p}`]);
  assert.equal(passwordFileCheck('www/web1', p, file(0o600), 0).status, 'ok');
  assert.equal(passwordFileCheck('www/web1', p, file(0o400), 0).status, 'ok');
  // rsync as root refuses a password file that root does not own
  const notRoot = passwordFileCheck('www/web1', p, file(0o600, 1000), 0);
  assert.equal(notRoot.status, 'fail');
  assert.deepEqual(notRoot.fix, [`chown root ${p}`]);
  assert.equal(passwordFileCheck('www/web1', p, file(0o600, 1000), 1000).status, 'ok');
  const missing = passwordFileCheck('www/web1', p, { exists: false, error: 'does not exist' }, 0);
  assert.equal(missing.status, 'fail');
  assert.match(missing.fix?.[0] ?? '', /chmod 600 \/etc\/syncward\/web1\.pass/);
});

test('identity files: any group or other access fails (ssh ignores the key)', () => {
  assert.equal(identityFileCheck('www/web2', '/k', file(0o640), 0).status, 'fail');
  assert.equal(identityFileCheck('www/web2', '/k', file(0o600), 0).status, 'ok');
  assert.match(
    identityFileCheck('www/web2', '/k', { exists: false, error: 'does not exist' }, 0).fix?.[0] ?? '',
    /^ssh-keygen /,
  );
});

test('the target probe is rsync --list-only with the same connection options as a transfer', () => {
  const call = buildListCall({
    name: 'web1',
    url: { kind: 'daemon', user: 'syncward', host: '10.0.0.2', port: 8873, module: 'www' },
    passwordFile: '/etc/syncward/web1.pass',
    sshOptions: [],
    rsyncArgs: ['--bwlimit=10m'],
    timeoutS: 10,
    contimeoutS: 5,
  });
  assert.deepEqual(call.argv, [
    'rsync',
    '--list-only',
    '--no-motd',
    '--sockopts=TCP_NODELAY',
    '--contimeout=5',
    '--password-file=/etc/syncward/web1.pass',
    '--bwlimit=10m',
    'rsync://syncward@10.0.0.2:8873/www/',
  ]);
});

const probe = {
  class: 'misconfigured',
  code: 5,
  message:
    'the rsync daemon refused the login (auth failed on module www): check the user in the URL and the password file',
  rsyncMessage:
    '@ERROR: auth failed on module www\nrsync error: error starting client-server protocol (code 5)',
  durationMs: 12,
  argv: ['rsync', '--list-only', "--password-file=/etc/it's.pass", 'rsync://u@h/www/'],
};

test('probe outcomes: auth failure, unreachable, missing target directory, success', () => {
  const auth = targetProbeCheck('www/web1', 'rsync://u@h/www', 'daemon', probe);
  assert.equal(auth.status, 'fail');
  assert.match(auth.message, /^rsync:\/\/u@h\/www: authentication failed \(rsync exit 5\)/);
  assert.equal(auth.detail, probe.rsyncMessage);
  assert.match(auth.fix?.[0] ?? '', /secrets file/);
  assert.equal(
    auth.fix?.[1],
    "rsync --list-only '--password-file=/etc/it'\\''s.pass' rsync://u@h/www/   # the same probe by hand",
  );
  const down = targetProbeCheck('www/web1', 'rsync://u@h/www', 'daemon', {
    ...probe,
    class: 'transient',
    code: 10,
    message: 'cannot connect to the rsync daemon (Connection refused); retrying',
    rsyncMessage: 'rsync: [Receiver] failed to connect to h (10.0.0.2): Connection refused (111)',
  });
  assert.equal(
    down.message,
    'rsync://u@h/www: unreachable (rsync exit 10): cannot connect to the rsync daemon (Connection refused)',
  );
  assert.match(down.fix?.[0] ?? '', /start the rsync daemon/);
  const fresh = targetProbeCheck('www/web2', 'ssh://h/srv/www', 'ssh', {
    ...probe,
    class: 'partial',
    code: 23,
    rsyncMessage: 'rsync: [Receiver] change_dir "/srv/www" failed: No such file or directory (2)',
  });
  assert.equal(fresh.status, 'ok');
  assert.match(fresh.message, /the first sync creates it/);
  assert.equal(targetProbeCheck('x', 'u', 'ssh', { ...probe, class: 'ok', code: 0 }).status, 'ok');
});

test('a host name that does not resolve is a configuration error to fix, not a daemon to start', () => {
  for (const [kind, code, stderr] of [
    [
      'daemon',
      10,
      'rsync: getaddrinfo: nohost.invalid 873: Name or service not known\nrsync error: error in socket IO (code 10) at clientserver.c(165) [sender=3.5.0]',
    ],
    [
      'ssh',
      255,
      'ssh: Could not resolve hostname nohost.invalid: Name or service not known\nrsync: connection unexpectedly closed (0 bytes received so far) [sender]',
    ],
  ] as const) {
    const e = classifyExit(code, null, stderr);
    const c = targetProbeCheck('www/web1', `${kind === 'ssh' ? 'ssh' : 'rsync'}://nohost.invalid/www`, kind, {
      ...probe,
      class: e.class,
      code,
      message: e.message,
      rsyncMessage: e.rsyncMessage,
    });
    assert.equal(c.status, 'fail');
    assert.match(
      c.message,
      /: configuration error \(rsync exit \d+\): the target host name does not resolve/,
    );
    assert.match(
      c.fix?.[0] ?? '',
      /^correct the host name in the target URL, or make it resolve on this machine/,
    );
    assert.doesNotMatch((c.fix ?? []).join('\n'), /start the rsync daemon|sshd runs/);
  }
});

test('exit code: 0 all ok, 1 warnings only, 2 any failure; the text report shows fixes and rsync’s words', () => {
  const ok: Check = { name: 'a', status: 'ok', message: 'fine' };
  const warn: Check = { name: 'b', status: 'warn', message: 'hmm', fix: ['do x'] };
  const fail: Check = { name: 'c', status: 'fail', message: 'bad', fix: ['do y'], detail: 'line1\nline2' };
  assert.equal(doctorExitCode([ok]), 0);
  assert.equal(doctorExitCode([ok, warn]), 1);
  assert.equal(doctorExitCode([warn, fail, ok]), 2);
  assert.equal(
    formatChecks([ok, warn, fail]),
    'ok    a: fine\nWARN  b: hmm\n        fix: do x\nFAIL  c: bad\n        | line1\n        | line2\n        fix: do y\n\n1 failure(s), 1 warning(s), 1 ok\n',
  );
  assert.equal(shellWord('/plain/path'), '/plain/path');
  assert.equal(shellWord('a b'), "'a b'");
});

test('the watcher a source gets: configured, auto by its size, and a fanotify refusal as a warning that still counts its inotify watches', () => {
  const inotify = watcherCheck('www', 'inotify', 1200, 50_000, undefined);
  assert.deepEqual([inotify.check.status, inotify.inotify], ['ok', true]);
  assert.match(
    inotify.check.message,
    /^inotify \(watcher: inotify\), one watch for each of 1,200 directories/,
  );

  const fan = watcherCheck('www', 'fanotify', 1200, 50_000, null);
  assert.deepEqual([fan.check.status, fan.inotify], ['ok', false]);
  const refused = watcherCheck('www', 'fanotify', 1200, 50_000, 'it needs root');
  assert.deepEqual([refused.check.status, refused.inotify], ['warn', true]);
  assert.match(
    refused.check.message,
    /cannot watch this tree \(it needs root\); the daemon falls back to inotify/,
  );
  assert.match(refused.check.fix?.join('\n') ?? '', /watcher: inotify for www/);

  const small = watcherCheck('www', 'auto', 50_000, 50_000, undefined);
  assert.deepEqual([small.check.status, small.inotify], ['ok', true]);
  assert.match(small.check.message, /^inotify \(watcher: auto, 50,000 directories, fanotify above 50,000\)/);
  const big = watcherCheck('www', 'auto', 1_000_000, 50_000, null);
  assert.deepEqual([big.check.status, big.inotify], ['ok', false]);
  assert.match(big.check.message, /^fanotify \(watcher: auto, 1,000,000 directories/);
  const bigRefused = watcherCheck(
    'www',
    'auto',
    1_000_000,
    50_000,
    'its filesystem cannot report file handles',
  );
  assert.deepEqual([bigRefused.check.status, bigRefused.inotify], ['warn', true]);
});

test("a relay's API: the targets it reports, or what to fix when it cannot be read", () => {
  const ok = answeredView('http://r1:8730', 'www', [], 1);
  ok.leaves = [
    { ...leaf, target: 'web1', state: 'idle' },
    { ...leaf, target: 'web2', state: 'held' },
  ];
  const c = relayCheck('www/r1', ok, undefined);
  assert.equal(c.status, 'ok');
  assert.match(c.message, /http:\/\/r1:8730 answers: its source www has 2 targets \(web1 idle, web2 held\)/);
  const denied = relayCheck(
    'www/r1',
    unreachableView(null, 'http://r1:8730', 'HTTP 401 from http://r1:8730/api/status', 2),
    '/etc/syncward/r1.token',
  );
  assert.equal(denied.status, 'warn');
  assert.deepEqual(denied.fix, ["put the relay's api.token_file contents into /etc/syncward/r1.token"]);
  const down = relayCheck('www/r1', unreachableView(null, 'http://r1:8730', 'ECONNREFUSED', 2), undefined);
  assert.match(
    down.message,
    /cannot read the relay's status at http:\/\/r1:8730: ECONNREFUSED; the daemon would show its targets as unknown/,
  );
  assert.match(down.fix?.[0] ?? '', /check that syncward runs and that api.listen is reachable/);
});

const leaf: LeafStatus = {
  target: '',
  url: 'rsync://x/www',
  state: 'idle',
  stateSince: 0,
  stateReason: '',
  pending: 0,
  oldestPendingAt: null,
  stuck: 0,
  holdReason: null,
  pausedSince: null,
  lastSuccessAt: null,
  lastError: null,
  canary: null,
  relay: null,
};
