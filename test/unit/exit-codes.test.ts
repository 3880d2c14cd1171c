import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  classifyExit,
  classifySpawnError,
  describeExit,
  EXIT_CLASSES,
  parseFailedPaths,
  parseFailures,
  transferred,
} from '../../src/transport/index.js';

// Real stderr from rsync 3.5.0 (protocol 32), captured with LC_ALL=C.
const F = {
  permissionDenied: [
    'rsync: [sender] opendir "/tmp/tx/np/src/sub" failed: Permission denied (13)',
    'rsync: [sender] send_files failed to open "/tmp/tx/np/src/secret": Permission denied (13)',
    'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]',
  ].join('\n'),
  nonUtf8: [
    'rsync: [sender] send_files failed to open "/tmp/tx/nu/src/bad\\#377\\#376name": Permission denied (13)',
    'rsync: [sender] send_files failed to open "/tmp/tx/nu/src/caf\\#303\\#251": Permission denied (13)',
    'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]',
  ].join('\n'),
  receiverMkstemp: [
    'rsync: [receiver] mkstemp "/tmp/tx/ro/.ok.0tAfwl" failed: Permission denied (13)',
    'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]',
  ].join('\n'),
  generatorDelete: [
    'rsync: [generator] failed to set times on "/tmp/tx/dl/dst/locked": Operation not permitted (1)',
    'rsync: [generator] delete_file: unlink(locked/victim) failed: Permission denied (13)',
    'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]',
  ].join('\n'),
  sourceGone: [
    'rsync: [sender] change_dir "/nonexistent" failed: No such file or directory (2)',
    'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]',
  ].join('\n'),
  vanished: [
    'file has vanished: "/tmp/tx/van/b_small"',
    'file has vanished: "/tmp/tx/van/c_dir_file"',
    'rsync warning: some files vanished before they could be transferred (code 24) at main.c(1394) [sender=3.5.0]',
  ].join('\n'),
  authFailed: [
    '@ERROR: auth failed on module m',
    'rsync error: error starting client-server protocol (code 5) at main.c(1954) [sender=3.5.0]',
  ].join('\n'),
  unknownModule: [
    "@ERROR: Unknown module 'nomod'",
    'rsync error: error starting client-server protocol (code 5) at main.c(1954) [sender=3.5.0]',
  ].join('\n'),
  notADaemon: [
    'rsync: server sent "HTTP/1.1 400 Bad Request" rather than greeting',
    'rsync error: error starting client-server protocol (code 5) at main.c(1954) [sender=3.5.0]',
  ].join('\n'),
  refused: [
    'rsync: [sender] failed to connect to 127.0.0.1 (127.0.0.1): Connection refused (111)',
    'rsync error: error in socket IO (code 10) at clientserver.c(165) [sender=3.5.0]',
  ].join('\n'),
  unknownHost: [
    'rsync: getaddrinfo: no-such-host.invalid 873: Name or service not known',
    'rsync error: error in socket IO (code 10) at clientserver.c(165) [sender=3.5.0]',
  ].join('\n'),
  ioTimeout: [
    '[sender] io timeout after 2 seconds -- exiting',
    'rsync error: timeout in data send/receive (code 30) at io.c(248) [sender=3.5.0]',
  ].join('\n'),
  connectionReset: [
    'rsync: [sender] safe_read failed to read 1 bytes: Connection reset by peer (104)',
    'rsync error: error in rsync protocol data stream (code 12) at io.c(340) [sender=3.5.0]',
  ].join('\n'),
  passwordFileMissing: [
    'rsync: [sender] could not open password file d/nope: No such file or directory (2)',
    'rsync error: syntax or usage error (code 1) at authenticate.c(247) [sender=3.5.0]',
  ].join('\n'),
  passwordFileMode: [
    'ERROR: password file must not be other-accessible',
    'rsync error: syntax or usage error (code 1) at authenticate.c(261) [sender=3.5.0]',
  ].join('\n'),
  unknownOption: [
    'rsync: --bogus: unknown option',
    'rsync error: syntax or usage error (code 1) at main.c(1886) [client=3.5.0]',
  ].join('\n'),
  destNotDir: [
    'rsync: [Receiver] ERROR: cannot stat destination "/etc/hostname/x/": Not a directory (20)',
    'rsync error: errors selecting input/output files, dirs (code 3) at main.c(789) [Receiver=3.5.0]',
  ].join('\n'),
  noSpaceLocal: [
    'rsync: [receiver] write failed on "/tmp/tx/small/d/f2": No space left on device (28)',
    'rsync error: error in file IO (code 11) at receiver.c(657) [receiver=3.5.0]',
  ].join('\n'),
  noSpaceDaemon: [
    'rsync: [receiver] write failed on "/f2" (in small): No space left on device (28)',
    'rsync error: error in file IO (code 11) at receiver.c(657) [receiver=3.5.0]',
    'rsync error: error in file IO (code 11) at io.c(1892) [generator=3.5.0]',
  ].join('\n'),
  sshRefused: [
    'ssh: connect to host 127.0.0.1 port 18883: Connection refused',
    'rsync: connection unexpectedly closed (0 bytes received so far) [sender]',
    'rsync error: unexplained error (code 255) at io.c(285) [sender=3.5.0]',
  ].join('\n'),
  sshUnknownHost: [
    'ssh: Could not resolve hostname no-such-host.invalid: Name or service not known',
    'rsync: connection unexpectedly closed (0 bytes received so far) [sender]',
    'rsync error: error in rsync protocol data stream (code 12) at io.c(285) [sender=3.5.0]',
  ].join('\n'),
  sshHostKey: [
    'No ED25519 host key is known for [127.0.0.1]:18884 and you have requested strict checking.',
    'Host key verification failed.',
    'rsync: connection unexpectedly closed (0 bytes received so far) [sender]',
    'rsync error: unexplained error (code 255) at io.c(285) [sender=3.5.0]',
  ].join('\n'),
  sshPermissionDenied: [
    "Warning: Permanently added '[127.0.0.1]:18884' (ED25519) to the list of known hosts.",
    'nobody@127.0.0.1: Permission denied (publickey,keyboard-interactive).',
    'rsync: connection unexpectedly closed (0 bytes received so far) [sender]',
    'rsync error: unexplained error (code 255) at io.c(285) [sender=3.5.0]',
  ].join('\n'),
  remoteRsyncMissing: [
    'sh: 1: rsync-missing: not found',
    'rsync: connection unexpectedly closed (0 bytes received so far) [sender]',
    'rsync error: remote command not found (code 127) at io.c(285) [sender=3.5.0]',
  ].join('\n'),
  sigterm: 'rsync error: received SIGINT, SIGTERM, or SIGHUP (code 20) at rsync.c(874) [sender=3.5.0]',
};

test('exit 0 is ok', () => {
  const e = classifyExit(0, null, '');
  assert.equal(e.class, 'ok');
  assert.equal(e.code, 0);
  assert.deepEqual(e.failedPaths, []);
});

test('exit 23 is partial, never ok, and names the failed paths relative to the source root', () => {
  const e = classifyExit(23, null, F.permissionDenied, { sourceRoot: '/tmp/tx/np/src' });
  assert.equal(e.class, 'partial');
  assert.deepEqual(e.failedPaths, ['sub', 'secret']);
  assert.match(e.message, /2 path\(s\) could not be transferred: sub, secret; they are retried/);
  assert.equal(e.rsyncMessage, F.permissionDenied);
});

test('failed paths with non-UTF-8 bytes come back as the raw bytes (byte strings)', () => {
  const e = classifyExit(23, null, F.nonUtf8, { sourceRoot: '/tmp/tx/nu/src/' });
  assert.deepEqual(
    e.failedPaths.map((p) => Buffer.from(p, 'latin1')),
    [Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x6e, 0x61, 0x6d, 0x65]), Buffer.from('café')],
  );
});

test('receiver and generator failures name target paths; temp files map to the file they were for', () => {
  assert.deepEqual(classifyExit(23, null, F.receiverMkstemp, { destRoot: '/tmp/tx/ro' }).failedPaths, ['ok']);
  assert.deepEqual(classifyExit(23, null, F.generatorDelete, { destRoot: '/tmp/tx/dl/dst' }).failedPaths, [
    'locked',
    'locked/victim',
  ]);
});

test('a source root that cannot be entered is said plainly', () => {
  const e = classifyExit(23, null, F.sourceGone, { sourceRoot: '/nonexistent' });
  assert.equal(e.class, 'partial');
  assert.deepEqual(e.failedPaths, ['']);
  assert.match(e.message, /source directory could not be read/);
});

test('exit 24 is vanished, with the vanished paths', () => {
  const e = classifyExit(24, null, F.vanished, { sourceRoot: '/tmp/tx/van' });
  assert.equal(e.class, 'vanished');
  assert.deepEqual(e.failedPaths, ['b_small', 'c_dir_file']);
  assert.match(e.message, /vanished/);
});

test('daemon auth failure and unknown module are misconfigured and quote the daemon', () => {
  const auth = classifyExit(5, null, F.authFailed);
  assert.equal(auth.class, 'misconfigured');
  assert.match(auth.message, /auth failed on module m/);
  assert.match(auth.message, /password file/);
  const mod = classifyExit(5, null, F.unknownModule);
  assert.equal(mod.class, 'misconfigured');
  assert.match(mod.message, /Unknown module 'nomod'/);
  assert.match(mod.message, /module name/);
  assert.match(classifyExit(5, null, F.notADaemon).message, /not an rsync daemon/);
});

test('a busy daemon (max connections) is transient even though it is exit 5', () => {
  const e = classifyExit(
    5,
    null,
    '@ERROR: max connections (2) reached -- try again later\nrsync error: error starting client-server protocol (code 5) at main.c(1954) [sender=3.5.0]',
  );
  assert.equal(e.class, 'transient');
});

test('network, protocol and timeout failures are transient', () => {
  for (const [code, err] of [
    [10, F.refused],
    [30, F.ioTimeout],
    [12, F.connectionReset],
    [255, F.sshRefused],
    [35, ''],
    [20, F.sigterm],
  ] as const) {
    assert.equal(classifyExit(code, null, err).class, 'transient', `exit ${code}: ${err}`);
  }
  assert.match(classifyExit(10, null, F.refused).message, /Connection refused/);
});

test('a host name that does not resolve is a configuration error, through rsync or ssh, not an outage', () => {
  const ssh255 = [
    'ssh: Could not resolve hostname nohost.invalid: Name or service not known',
    'rsync: connection unexpectedly closed (0 bytes received so far) [sender]',
    'rsync error: unexplained error (code 255) at io.c(285) [sender=3.5.0]',
  ].join('\n');
  const dnsDown = [
    'rsync: getaddrinfo: mirror.example.com 873: Temporary failure in name resolution',
    'rsync error: error in socket IO (code 10) at clientserver.c(165) [sender=3.5.0]',
  ].join('\n');
  for (const [code, err] of [
    [10, F.unknownHost],
    [12, F.sshUnknownHost],
    [255, ssh255],
    [10, dnsDown],
  ] as const) {
    const e = classifyExit(code, null, err);
    assert.equal(e.class, 'misconfigured', `exit ${code}: ${err}`);
    assert.match(
      e.message,
      /^the target host name does not resolve \(.+\): fix the host in the target URL, or the DNS/,
    );
    assert.doesNotMatch(e.message, /retrying|rsync: /);
  }
  assert.match(
    classifyExit(10, null, F.unknownHost).message,
    /\(getaddrinfo: no-such-host\.invalid 873: Name or service not known\)/,
  );
});

test('killed by a signal or by the runner timeout is transient', () => {
  assert.equal(classifyExit(null, 'SIGKILL', '').class, 'transient');
  assert.match(classifyExit(null, 'SIGKILL', '').message, /SIGKILL/);
  const t = classifyExit(null, 'SIGTERM', '', { timedOutMs: 120_000 });
  assert.equal(t.class, 'transient');
  assert.match(t.message, /within 120 s/);
});

test('ssh login and host key failures are misconfigured, not retried as network trouble', () => {
  for (const err of [F.sshHostKey, F.sshPermissionDenied]) {
    const e = classifyExit(255, null, err);
    assert.equal(e.class, 'misconfigured');
    assert.match(e.message, /ssh login failed/);
  }
});

test('usage and selection errors are misconfigured', () => {
  assert.equal(classifyExit(1, null, F.unknownOption).class, 'misconfigured');
  assert.match(classifyExit(1, null, F.passwordFileMode).message, /chmod 600/);
  assert.match(classifyExit(1, null, F.passwordFileMissing).message, /could not open password file d\/nope/);
  assert.equal(classifyExit(2, null, '').class, 'misconfigured');
  assert.equal(classifyExit(4, null, '').class, 'misconfigured');
  const dest = classifyExit(3, null, F.destNotDir);
  assert.equal(dest.class, 'misconfigured');
  assert.match(dest.message, /cannot stat destination/);
});

test('a full target disk is noSpace, whatever the code', () => {
  for (const err of [F.noSpaceLocal, F.noSpaceDaemon]) {
    const e = classifyExit(11, null, err, { destRoot: '/tmp/tx/small' });
    assert.equal(e.class, 'noSpace');
    assert.match(e.message, /target disk full/);
  }
  assert.deepEqual(classifyExit(11, null, F.noSpaceDaemon).failedPaths, ['f2']);
  const partial = `rsync: [receiver] write failed on "/x" (in m): No space left on device (28)\n${F.permissionDenied}`;
  assert.equal(classifyExit(23, null, partial).class, 'noSpace');
});

test('other file I/O errors are errors', () => {
  assert.equal(
    classifyExit(11, null, 'rsync error: error in file IO (code 11) at receiver.c(1) [receiver=3.5.0]').class,
    'error',
  );
});

test('rsync missing here or on the target is misconfigured', () => {
  assert.match(classifyExit(127, null, '').message, /rsync not found on PATH; install rsync/);
  const remote = classifyExit(127, null, F.remoteRsyncMissing);
  assert.equal(remote.class, 'misconfigured');
  assert.match(remote.message, /not installed on the target/);
});

test('unknown codes are errors', () => {
  assert.equal(classifyExit(99, null, '').class, 'error');
});

test('rsyncMessage is the verbatim tail, capped near 2 KB at a line start', () => {
  const lines = Array.from(
    { length: 200 },
    (_, i) => `rsync: [sender] send_files failed to open "/s/f${i}": Permission denied (13)`,
  );
  const e = classifyExit(23, null, `${lines.join('\n')}\n`, { sourceRoot: '/s' });
  assert.ok(e.rsyncMessage.length <= 2048);
  assert.ok(e.rsyncMessage.startsWith('rsync: '));
  assert.ok(e.rsyncMessage.endsWith('f199": Permission denied (13)'));
  assert.equal(e.failedPaths.length, 200);
});

test('the table covers every exit class, and describes codes', () => {
  const classOf = (c: number) => EXIT_CLASSES[c]?.class;
  assert.equal(classOf(0), 'ok');
  assert.equal(classOf(24), 'vanished');
  assert.equal(classOf(23), 'partial');
  for (const c of [10, 12, 30, 35, 255]) assert.equal(classOf(c), 'transient');
  for (const c of [1, 2, 3, 4, 5]) assert.equal(classOf(c), 'misconfigured');
  assert.equal(describeExit(30), 'timeout in data send/receive');
  assert.match(describeExit(77), /unknown/);
});

test('parseFailedPaths ignores summary lines and de-duplicates', () => {
  assert.deepEqual(
    parseFailedPaths(`${F.permissionDenied}\n${F.permissionDenied}`, { sourceRoot: '/tmp/tx/np/src' }),
    ['sub', 'secret'],
  );
  assert.deepEqual(parseFailedPaths(F.sshRefused), []);
});

test('rsync that cannot start for lack of fds, memory or processes is transient; a missing binary is misconfigured', () => {
  const err = (code: string) => Object.assign(new Error(`spawn rsync ${code}`), { code });
  for (const code of ['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN']) {
    const e = classifySpawnError('rsync', err(code));
    assert.equal(e.class, 'transient', code);
    assert.match(e.message, new RegExp(`cannot start rsync \\(${code}\\): .*; retrying`));
  }
  assert.match(
    classifySpawnError('rsync', err('EMFILE')).message,
    /out of file descriptors \(raise LimitNOFILE/,
  );
  const missing = classifySpawnError('rsync', err('ENOENT'));
  assert.equal(missing.class, 'misconfigured');
  assert.equal(missing.message, 'rsync not found on PATH; install rsync');
  assert.equal(classifySpawnError('rsync', err('EACCES')).class, 'misconfigured');
});

test('a source path longer than 4,096 bytes is a failed path named by rsync (not a failure of the whole target)', () => {
  // rsync 3.5.0, listing a tree 17 directories of 250 bytes deep (unquoted, relative to the source)
  const deep = Array.from({ length: 17 }, () => 'd'.repeat(250)).join('/');
  const stderr = [
    `filename overflows max-path len by 171: ${deep}`,
    'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]',
  ].join('\n');
  const info = classifyExit(23, null, stderr, { sourceRoot: '/tmp/lp/src' });
  assert.equal(info.class, 'partial');
  assert.deepEqual(info.failedPaths, [deep]);
  assert.deepEqual(parseFailedPaths(`skipping overly long name: ${deep}/f`), [`${deep}/f`]);
});

test('a path beneath something that is no longer a directory fails with cause notDirectory', () => {
  const stderr = [
    'rsync: [sender] link_stat "/tmp/sw/src/swap/d1/sub" failed: Not a directory (20)',
    'rsync: [sender] send_files failed to open "/tmp/sw/src/secret": Permission denied (13)',
    'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]',
  ].join('\n');
  assert.deepEqual(parseFailures(stderr, { sourceRoot: '/tmp/sw/src' }), [
    { path: 'swap/d1/sub', cause: 'notDirectory' },
    { path: 'secret', cause: 'other' },
  ]);
  const info = classifyExit(23, null, stderr, { sourceRoot: '/tmp/sw/src' });
  assert.deepEqual(info.notDirectory, ['swap/d1/sub']);
  assert.deepEqual(info.failedPaths, ['swap/d1/sub', 'secret']);
});

test('a transfer counts as delivered when rsync exits 0 or only source files vanished (24), never on a partial (23)', () => {
  assert.equal(transferred(classifyExit(0, null, '').class), true);
  assert.equal(transferred(classifyExit(24, null, '').class), true);
  assert.equal(transferred(classifyExit(23, null, '').class), false);
  assert.equal(transferred(classifyExit(10, null, '').class), false);
});

test('exit 2 after files vanished under the sender (Invalid packet at end of run) is transient, not a version problem', () => {
  // seen in the churn test against a daemon target, rsync 3.5.0 on both sides
  const stderr = [
    'file has vanished: "/proc/21670/fd/26/release5/f6"',
    'file has vanished: "/proc/21670/fd/26/release5/hl12"',
    'Invalid packet at end of run (9) [sender]',
    'rsync error: protocol incompatibility (code 2) at main.c(937) [sender=3.5.0]',
  ].join('\n');
  const e = classifyExit(2, null, stderr);
  assert.equal(e.class, 'transient');
  assert.match(e.message, /vanished/);
  // a real protocol mismatch stays a configuration problem
  assert.equal(
    classifyExit(2, null, 'protocol version mismatch -- is your shell clean?').class,
    'misconfigured',
  );
});

test('a path the receiver could not make way for is failed, so it goes again', () => {
  // churn against a daemon target: a directory replaced by a file in the source
  const stderr = [
    'could not make way for new regular file: release78 sp ace',
    'file has vanished: "/proc/21350/fd/26/mv155"',
    'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]',
  ].join('\n');
  const e = classifyExit(23, null, stderr, { sourceRoot: '/proc/21350/fd/26' });
  assert.deepEqual(e.failedPaths.sort(), ['mv155', 'release78 sp ace']);
  assert.deepEqual(
    parseFailures('could not make way for new symlink: a/b: c', {}).map((f) => f.path),
    ['a/b: c'],
  );
});
