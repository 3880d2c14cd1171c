import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Change } from '../../src/change/index.js';
import {
  buildBatchCall,
  buildFetchCall,
  buildFullSyncCall,
  buildListCall,
  buildPruneCall,
  buildRootAttrsCall,
  classifyExit,
  parseTargetUrl,
  quoteRshWord,
  type SourceSpec,
  serverAliveS,
  sshCommand,
  sshConfigValue,
  sshWords,
  type TargetSpec,
  touchesRoot,
} from '../../src/transport/index.js';

const src: SourceSpec = {
  root: '/home/www',
  filterArgs: ['--exclude=*.swp', '--exclude=.git/'],
  delete: true,
};

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

function stdinNames(buf: Buffer | undefined): Buffer[] {
  assert.ok(buf);
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) {
      out.push(buf.subarray(start, i));
      start = i + 1;
    }
  }
  assert.equal(start, buf.length, 'stdin ends with a NUL');
  return out;
}

test('a batch recurses (-r) only when it holds a new or moved-in directory', () => {
  const plain = buildBatchCall(src, target('/backup/www'), [{ path: 'dir', op: 'upsert' }], { isRoot: true });
  assert.ok(!plain.argv.includes('-r'), 'a chmod of a directory sends the directory, not its contents');
  const tree = buildBatchCall(src, target('/backup/www'), [{ path: 'dir', op: 'upsertTree' }], {
    isRoot: true,
  });
  assert.ok(tree.argv.includes('-r'));
  // with -H, incremental recursion hung such batches under churn (test/integration/churn)
  assert.ok(tree.argv.includes('--no-inc-recursive'), 'one file list up front when recursing with -H');
});

test('a batch to a local target: files-from stdin, deletes of missing args, filters before the paths', () => {
  const changes: Change[] = [
    { path: 'a/b.txt', op: 'upsert' },
    { path: 'new', op: 'upsertTree' },
    { path: 'gone', op: 'delete' },
  ];
  const call = buildBatchCall(src, target('/backup/www'), changes, { isRoot: true });
  assert.deepEqual(call.argv, [
    'rsync',
    '-a',
    '-r',
    '--no-inc-recursive',
    '-H',
    '--delete',
    '--delete-missing-args',
    '--files-from=-',
    '--from0',
    '--exclude=*.swp',
    '--exclude=.git/',
    '--mkpath',
    '--modify-window=-1',
    '--stats',
    '--numeric-ids',
    '/home/www/',
    '/backup/www/',
  ]);
  assert.deepEqual(stdinNames(call.stdin).map(String), ['a/b.txt', 'new', 'gone']);
  assert.deepEqual(call.env, {});
  assert.equal(call.sourceRoot, '/home/www');
  assert.equal(call.destRoot, '/backup/www');
});

test('the root is listed as "."', () => {
  const call = buildBatchCall(src, target('/backup/www'), [{ path: '', op: 'upsertTree' }], { isRoot: true });
  assert.deepEqual(stdinNames(call.stdin).map(String), ['.']);
});

test('the root\'s own metadata is never listed as "." (its whole first level, with --delete): a call of its own sends it', () => {
  const changes: Change[] = [
    { path: '', op: 'upsert' },
    { path: 'a/b', op: 'upsert' },
  ];
  const call = buildBatchCall(src, target('/backup/www'), changes, { isRoot: true });
  assert.deepEqual(stdinNames(call.stdin).map(String), ['a/b']);
  assert.equal(touchesRoot(changes), true);
  assert.equal(touchesRoot([{ path: 'top', op: 'delete' }]), true, 'an entry directly in the root');
  assert.equal(touchesRoot([{ path: 'a/b', op: 'delete' }]), false);
  const attrs = buildRootAttrsCall(src, target('/backup/www'), { isRoot: true });
  assert.equal(attrs.stdin, undefined);
  for (const flag of ['--no-r', '--dirs', '--filter=- /*'])
    assert.ok(attrs.argv.includes(flag), `${flag} in ${attrs.argv.join(' ')}`);
  assert.ok(!attrs.argv.some((a) => a.startsWith('--delete')), 'deletes nothing');
  assert.deepEqual(attrs.argv.slice(-2), ['/home/www/', '/backup/www/']);
});

test('a source held open by the daemon is read through its fd path, and failed paths are reported against it', () => {
  const held: SourceSpec = { ...src, readRoot: '/proc/4242/fd/17' };
  for (const call of [
    buildBatchCall(held, target('/backup/www'), [{ path: 'a', op: 'upsert' }], { isRoot: true }),
    buildFullSyncCall(held, target('rsync://u@h/m'), { isRoot: true }),
    buildRootAttrsCall(held, target('/backup/www'), { isRoot: true }),
  ]) {
    assert.ok(call.argv.includes('/proc/4242/fd/17/'), call.argv.join(' '));
    assert.ok(!call.argv.includes('/home/www/'), 'not the path, which an unmount would empty');
    assert.equal(call.sourceRoot, '/proc/4242/fd/17');
  }
});

test('names travel as raw bytes: newline, quotes, $, backtick, leading dash, * and non-UTF-8', () => {
  const hostile = [
    'a b',
    'q"u\'o',
    'new\nline',
    '$HOME',
    '`id`',
    '-rf',
    '*',
    Buffer.from([0x66, 0xff, 0xfe]).toString('latin1'),
  ];
  const call = buildBatchCall(
    src,
    target('/backup/www'),
    hostile.map((path) => ({ path, op: 'upsert' as const })),
    { isRoot: true },
  );
  const names = stdinNames(call.stdin);
  assert.deepEqual(names[7], Buffer.from([0x66, 0xff, 0xfe]));
  assert.deepEqual(
    names.map((n) => n.toString('latin1')),
    hostile,
  );
  // none of them reaches argv
  for (const h of hostile) assert.ok(!call.argv.includes(h));
});

test('delete: false keeps target files: --ignore-missing-args, no --delete, deletes left out of the list', () => {
  const call = buildBatchCall(
    { ...src, delete: false },
    target('/backup/www'),
    [
      { path: 'keep-me', op: 'delete' },
      { path: 'f', op: 'upsert' },
    ],
    { isRoot: true },
  );
  assert.ok(call.argv.includes('--ignore-missing-args'));
  assert.ok(!call.argv.some((a) => a.startsWith('--delete')));
  assert.deepEqual(stdinNames(call.stdin).map(String), ['f']);
});

test('not root: owners and groups are not set', () => {
  const call = buildBatchCall(src, target('/backup/www'), [], { isRoot: false });
  assert.ok(call.argv.includes('--no-o') && call.argv.includes('--no-g'));
  assert.ok(!call.argv.includes('--numeric-ids'));
});

test('a daemon target: TCP_NODELAY, connect timeout and the password file', () => {
  const call = buildBatchCall(
    src,
    target('rsync://www@10.0.0.2:873/www', { passwordFile: '/etc/syncward/web1.pass' }),
    [],
    {
      isRoot: true,
    },
  );
  const tail = call.argv.slice(call.argv.indexOf('--numeric-ids'));
  assert.deepEqual(tail, [
    '--numeric-ids',
    '--sockopts=TCP_NODELAY',
    '--contimeout=15',
    '--password-file=/etc/syncward/web1.pass',
    '/home/www/',
    'rsync://www@10.0.0.2:873/www/',
  ]);
  assert.equal(call.destRoot, undefined);
});

test("no call passes rsync's --timeout, to any kind of target: syncward detects a stall itself", () => {
  // against a daemon without socket options = TCP_NODELAY, --timeout's keep-alive
  // traffic cost ~45 ms a call (Nagle and delayed ACK); it also kills a --checksum
  // audit while one big file is hashed (rsync issue 839)
  for (const url of ['rsync://www@10.0.0.2:873/www', 'ssh://deploy@10.0.0.3/srv/www', '/backup/www']) {
    const tgt = target(url, {
      passwordFile: url.startsWith('rsync') ? '/p' : undefined,
      backup: { dir: '.b', keepDays: 2 },
    });
    const calls = [
      buildBatchCall(src, tgt, [{ path: 'a', op: 'upsertTree' }], { isRoot: true }),
      buildBatchCall(src, tgt, [{ path: 'gone', op: 'delete' }], {
        isRoot: true,
        dryRun: true,
        itemize: true,
      }),
      buildRootAttrsCall(src, tgt, { isRoot: true }),
      buildFullSyncCall(src, tgt, { isRoot: true }),
      buildFullSyncCall(src, tgt, { isRoot: true, dryRun: true, itemize: true }),
      buildListCall(tgt),
      buildFetchCall(tgt, '.syncward-canary', '/tmp/c'),
      buildPruneCall(tgt, '/tmp/empty', { isRoot: true }),
    ];
    for (const call of calls) {
      assert.ok(call);
      assert.ok(!call.argv.some((a) => /^--(no-)?timeout/.test(a)), `${url}: ${call.argv.join(' ')}`);
      if (url.startsWith('rsync'))
        assert.ok(call.argv.includes('--contimeout=15'), 'the connect timeout stays');
    }
  }
});

test('an ssh target ends a connection whose peer went silent within about timeout_s (ServerAlive*)', () => {
  assert.equal(serverAliveS(30), 10);
  assert.equal(serverAliveS(2), 1);
  assert.equal(serverAliveS(100), 34);
  const e = sshCommand(target('ssh://h/srv', { timeoutS: 60 }));
  assert.match(e, / -o ServerAliveInterval=20 -o ServerAliveCountMax=3$/);
  // the operator's own value comes first, and ssh keeps the first one it sees
  const own = sshWords(target('ssh://h/srv', { sshOptions: ['ServerAliveInterval=5'] }));
  assert.ok(own.indexOf('ServerAliveInterval=5') < own.indexOf('ServerAliveInterval=10'));
});

test('a daemon target without a password file leaves RSYNC_PASSWORD to the environment', () => {
  const call = buildBatchCall(src, target('rsync://www@h/www'), [], { isRoot: true });
  assert.ok(!call.argv.some((a) => a.startsWith('--password-file')));
  assert.ok(!('RSYNC_PASSWORD' in call.env));
});

test('operator rsync_args come last, before source and destination, so they can override ours', () => {
  const call = buildFullSyncCall(
    src,
    target('/backup/www', { rsyncArgs: ['--bwlimit=10m', '--timeout=600'] }),
    {
      isRoot: true,
    },
  );
  assert.deepEqual(call.argv.slice(-4), ['--bwlimit=10m', '--timeout=600', '/home/www/', '/backup/www/']);
});

test('an ssh target: one -e string, port, key, batch mode, connection sharing, connect timeout', () => {
  const tgt = target('ssh://deploy@10.0.0.3:2222/srv/www', {
    identityFile: '/etc/syncward/id_ed25519',
    sshOptions: ['StrictHostKeyChecking=yes', 'UserKnownHostsFile=/etc/syncward/known_hosts'],
    controlPath: '/var/lib/syncward/ssh/0123456789abcdef',
  });
  const call = buildBatchCall(src, tgt, [], { isRoot: true });
  const e = call.argv[call.argv.indexOf('-e') + 1];
  assert.equal(
    e,
    'ssh -p 2222 -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/syncward/known_hosts -i /etc/syncward/id_ed25519 ' +
      '-o BatchMode=yes -o ControlMaster=auto -o ControlPath=/var/lib/syncward/ssh/0123456789abcdef -o ControlPersist=60 -o ConnectTimeout=15 ' +
      '-o ServerAliveInterval=10 -o ServerAliveCountMax=3',
  );
  assert.equal(call.argv.at(-1), 'deploy@10.0.0.3:/srv/www/');
  assert.ok(!call.argv.some((a) => a.startsWith('--sockopts') || a.startsWith('--contimeout')));
});

test("an ssh target's failures, named by their full path on the target, map back to paths in the tree", () => {
  const call = buildBatchCall(src, target('ssh://deploy@h/srv/www'), [], { isRoot: true });
  assert.equal(call.destRoot, '/srv/www');
  const err = 'rsync: [generator] chgrp "/srv/www/a/d" failed: Operation not permitted (1)\n';
  assert.deepEqual(classifyExit(23, null, err, call).failedPaths, ['a/d']);
});

test('ssh words with spaces or quotes are quoted the way rsync splits -e', () => {
  assert.equal(quoteRshWord('plain'), 'plain');
  assert.equal(quoteRshWord('ProxyCommand=nc -x a b'), "'ProxyCommand=nc -x a b'");
  assert.equal(quoteRshWord("it's"), "'it''s'");
  assert.equal(quoteRshWord('say "hi"'), '\'say "hi"\'');
  assert.equal(quoteRshWord(''), "''");
  const e = sshCommand(
    target('ssh://h/srv', { identityFile: '/keys/my key', sshOptions: ['ProxyJump=a b'] }),
  );
  assert.equal(
    e,
    "ssh -o 'ProxyJump=a b' -i '/keys/my key' -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=10 -o ServerAliveCountMax=3",
  );
});

test('a ControlPath with a space, quotes, a backslash or % reaches ssh as one literal path', () => {
  assert.equal(sshConfigValue('/var/lib/syncward/ssh/ab12'), '/var/lib/syncward/ssh/ab12');
  assert.equal(sshConfigValue('/srv/sync state/ssh/ab12'), '"/srv/sync state/ssh/ab12"');
  assert.equal(sshConfigValue('/a"b\\c/100%d'), '"/a\\"b\\\\c/100%%d"');
  assert.equal(sshConfigValue('/x/50%'), '/x/50%%');
  // rsync splits -e first: the whole option stays one word for ssh
  const e = sshCommand(target('ssh://h/srv', { controlPath: "/st ate/it's/ssh/ab12" }));
  assert.ok(e.includes(` -o 'ControlPath="/st ate/it''s/ssh/ab12"' `), e);
});

test('a full sync: -a -H --delete and the same filters, no files-from', () => {
  const call = buildFullSyncCall(src, target('/backup/www'), { isRoot: true });
  assert.deepEqual(call.argv, [
    'rsync',
    '-a',
    '-H',
    '--delete',
    '--exclude=*.swp',
    '--exclude=.git/',
    '--mkpath',
    '--modify-window=-1',
    '--stats',
    '--numeric-ids',
    '/home/www/',
    '/backup/www/',
  ]);
  assert.equal(call.stdin, undefined);
});

test('an audit is a dry run with itemized changes; progress is optional; delete: false drops --delete', () => {
  const call = buildFullSyncCall({ ...src, delete: false }, target('/backup/www'), {
    isRoot: false,
    dryRun: true,
    itemize: true,
    progress: true,
  });
  assert.ok(call.argv.includes('--dry-run'));
  assert.ok(call.argv.includes('--itemize-changes'));
  assert.ok(call.argv.includes('--info=progress2'));
  assert.ok(!call.argv.includes('--delete'));
});

test('a source root given with a trailing slash is not doubled', () => {
  const call = buildFullSyncCall({ ...src, root: '/home/www/' }, target('/backup/www'), { isRoot: true });
  assert.equal(call.argv.at(-2), '/home/www/');
});

test('backup: a dated --backup-dir, protected before the source filters; prune protects keep_days and deletes the rest', () => {
  const now = new Date('2026-11-25T10:00:00Z');
  const tgt = { ...target('/backup/www'), backup: { dir: '.bk', keepDays: 2 } };
  const batch = buildBatchCall(src, tgt, [{ path: 'f', op: 'upsert' }], { isRoot: true, now });
  const protect = batch.argv.indexOf('--filter=P /.bk/');
  assert.ok(protect > 0 && protect < batch.argv.indexOf('--exclude=*.swp'), 'protect rule comes first');
  assert.ok(batch.argv.includes('--backup'));
  assert.ok(batch.argv.includes('--backup-dir=.bk/2026-11-25'));
  const prune = buildPruneCall(tgt, '/tmp/empty', { isRoot: true, now });
  assert.ok(prune);
  assert.deepEqual(
    prune.argv.filter((a) => a.startsWith('--filter=')),
    ['--filter=P /2026-11-25/', '--filter=P /2026-11-24/', '--filter=P /2026-11-23/'],
  );
  assert.deepEqual(prune.argv.slice(-2), ['/tmp/empty/', '/backup/www/.bk/']);
  assert.equal(buildPruneCall(target('/backup/www'), '/tmp/empty', { isRoot: true }), null);
});
