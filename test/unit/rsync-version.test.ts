import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rsyncReceiverCheck, rsyncSenderCheck } from '../../src/cli/doctor-rules.js';
import { buildFetchCall } from '../../src/transport/fetch.js';
import {
  brokenDeleteMissingArgs,
  buildBatchCall,
  buildFullSyncCall,
  buildListCall,
  buildPruneCall,
  buildRemoteVersionCall,
  classifyExit,
  parseRsyncVersion,
  parseTargetUrl,
  rsyncEnv,
  secludedArgsOption,
  senderFollowsForeignSymlinks,
  senderSymlinkWarning,
  type TargetSpec,
} from '../../src/transport/index.js';

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
const src = { root: '/home/www', filterArgs: [], delete: true };

test('rsync --version lines of every era parse to a version and protocol', () => {
  assert.deepEqual(parseRsyncVersion('rsync  version 3.4.3  protocol version 32\n'), {
    version: '3.4.3',
    protocol: 32,
  });
  assert.deepEqual(parseRsyncVersion('rsync  version 3.2.5  protocol version 31'), {
    version: '3.2.5',
    protocol: 31,
  });
  assert.equal(parseRsyncVersion('ssh: connect to host h port 22: Connection refused'), null);
});

test('the argument-protection option is named after the local rsync version', () => {
  assert.equal(secludedArgsOption('3.5.0'), '--secluded-args');
  // renamed in 3.2.6 (rsync NEWS); the old name still works there, the new one not before
  assert.equal(secludedArgsOption('3.2.6'), '--secluded-args');
  assert.equal(secludedArgsOption('3.2.5'), '--protect-args');
  assert.equal(secludedArgsOption('3.2.3'), '--protect-args');
  assert.equal(secludedArgsOption(undefined), '-s');
});

test('every call to an ssh target protects its arguments from the remote shell; others do not need to', () => {
  const ssh = target('ssh://u@h/srv/a $(touch x) b', { rsyncVersion: '3.5.0' });
  const change = [{ path: 'f', op: 'upsert' as const }];
  const calls = [
    buildBatchCall(src, ssh, change, { isRoot: true }),
    buildFullSyncCall(src, ssh, { isRoot: true }),
    buildListCall(ssh),
    buildFetchCall(ssh, 'canary', '/tmp/in'),
    buildPruneCall({ ...ssh, backup: { dir: '.bk', keepDays: 3 } }, '/tmp/empty', { isRoot: true }),
  ];
  for (const c of calls) {
    assert.ok(c);
    assert.ok(c.argv.includes('--secluded-args'), c.argv.join(' '));
    // before the positional paths, so rsync reads it as an option
    assert.ok(c.argv.indexOf('--secluded-args') < c.argv.length - 2);
  }
  const old = buildFullSyncCall(src, target('ssh://u@h/srv', { rsyncVersion: '3.2.3' }), { isRoot: true });
  assert.ok(old.argv.includes('--protect-args'));
  for (const url of ['/backup/www', 'rsync://h/mod']) {
    const c = buildFullSyncCall(src, target(url, { rsyncVersion: '3.5.0' }), { isRoot: true });
    assert.ok(!c.argv.some((a) => a === '--secluded-args' || a === '--protect-args' || a === '-s'), url);
  }
});

test('RSYNC_OLD_ARGS and RSYNC_PROTECT_ARGS never reach rsync; LC_ALL is C', () => {
  const env = rsyncEnv(
    { PATH: '/bin', RSYNC_OLD_ARGS: '1', RSYNC_PROTECT_ARGS: '0', LC_ALL: 'de_DE' },
    { RSYNC_PASSWORD: 'p' },
  );
  assert.equal(env.RSYNC_OLD_ARGS, undefined);
  assert.ok(!('RSYNC_OLD_ARGS' in env));
  assert.ok(!('RSYNC_PROTECT_ARGS' in env));
  assert.equal(env.LC_ALL, 'C');
  assert.equal(env.PATH, '/bin');
  assert.equal(env.RSYNC_PASSWORD, 'p');
  assert.ok(!rsyncEnv({}, { RSYNC_OLD_ARGS: '2' }).RSYNC_OLD_ARGS, 'not even from a call');
});

test('a sender rsync older than 3.5.0 is warned about only when it runs as root', () => {
  assert.ok(senderFollowsForeignSymlinks('3.4.4'));
  assert.ok(!senderFollowsForeignSymlinks('3.5.0'));
  assert.ok(!senderFollowsForeignSymlinks('3.10.0'));
  assert.equal(senderSymlinkWarning('3.4.1', false), null);
  assert.equal(senderSymlinkWarning('3.5.0', true), null);
  assert.match(senderSymlinkWarning('3.4.1', true) ?? '', /rsync 3\.4\.1 running as root follows symlinks/);

  const warn = rsyncSenderCheck('3.2.7', 0);
  assert.equal(warn?.status, 'warn');
  assert.match(warn?.message ?? '', /swap a directory for a symlink/);
  assert.match(warn?.fix?.[0] ?? '', /install rsync 3\.5\.0 or newer/);
  assert.equal(rsyncSenderCheck('3.5.0', 0)?.status, 'ok');
  assert.equal(rsyncSenderCheck('3.2.7', 1000), null, 'a non-root sender reads only what its user may');
  assert.equal(rsyncSenderCheck(null, 0), null);
});

test('a receiver running rsync 3.4.3 is warned about: its --delete-missing-args is broken', () => {
  assert.ok(brokenDeleteMissingArgs('3.4.3'));
  assert.ok(!brokenDeleteMissingArgs('3.4.4'));
  assert.ok(!brokenDeleteMissingArgs('3.4.2'));
  const w = rsyncReceiverCheck('www/web2', '3.4.3', 'the rsync on h');
  assert.equal(w.status, 'warn');
  assert.match(w.message, /every batch that deletes a path fails/);
  assert.deepEqual(w.fix, ['upgrade rsync on the target to 3.4.4 or newer']);
  assert.equal(rsyncReceiverCheck('www/web2', '3.5.0', 'the rsync on h').status, 'ok');
  assert.equal(rsyncReceiverCheck('www/web2', null, 'the rsync on h').status, 'ok');
});

test('the receiver rejecting a delete says which rsync does that and what to do', () => {
  const e = classifyExit(
    2,
    null,
    'rsync: [receiver] invalid file mode 00 for "gone" (in www)\nrsync error: protocol incompatibility (code 2) at flist.c(785) [receiver=3.4.3]',
  );
  assert.equal(e.class, 'misconfigured');
  assert.match(
    e.message,
    /rsync 3\.4\.3 breaks --delete-missing-args.*upgrade rsync on the target to 3\.4\.4/,
  );
});

test('the remote version probe runs rsync --version over the same ssh, honouring --rsync-path', () => {
  const tgt = target('ssh://deploy@10.0.0.3:2222/srv/www', {
    identityFile: '/k',
    controlPath: '/state/ssh/%C',
    rsyncArgs: ['--rsync-path=sudo rsync'],
  });
  const call = buildRemoteVersionCall(tgt);
  assert.ok(call);
  assert.deepEqual(call.argv.slice(0, 3), ['ssh', '-p', '2222']);
  assert.deepEqual(call.argv.slice(-3), ['deploy@10.0.0.3', 'sudo rsync', '--version']);
  assert.ok(!call.argv.some((a) => a.startsWith('ControlPath=')), 'a probe leaves no ssh master behind');
  assert.equal(buildRemoteVersionCall(target('rsync://h/mod')), null);
  assert.equal(buildRemoteVersionCall(target('/backup')), null);
});
