import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { checkRsyncArgs } from '../../src/config/rsync-args.js';

const messages = (args: string[]) => checkRsyncArgs(args).map((p) => `${p.index}: ${p.message}`);

test('rsync_args that only tune the transfer are accepted', () => {
  assert.deepEqual(
    messages([
      '--bwlimit=10m',
      '-z',
      '--compress-level=3',
      '-vz',
      '--partial',
      '--chmod=D755,F644',
      '-T/var/tmp',
      '--no-perms',
      '--rsync-path=sudo rsync',
    ]),
    [],
  );
});

test('a positional argument in rsync_args is refused as "not an option"', () => {
  const m = messages(['/etc/hostname', '--remove-source-files']);
  assert.equal(m.length, 2);
  assert.match(m[0] as string, /^0: "\/etc\/hostname" is not an option: rsync_args holds options only/);
  assert.match(
    m[1] as string,
    /^1: --remove-source-files is not allowed in rsync_args: it deletes files from the source/,
  );
  assert.match(messages(['--'])[0] as string, /"--" is not an option/);
  assert.match(messages(['-'])[0] as string, /"-" is not an option/);
});

test('options that destroy the source, pick other paths or bypass the delete guard are refused by name', () => {
  const cases: [string, RegExp][] = [
    ['--files-from=/etc/list', /--files-from .*syncward names the paths/],
    ['--delete-after', /--delete-after .*deletions follow the source's delete setting/],
    ['--delete-whatever-comes-next', /--delete-whatever-comes-next .*deletions follow/],
    ['--del', /--del .*deletions follow/],
    ['--exclude-from=/root/list', /--exclude-from .*belong in the source's exclude/],
    ['--filter=merge /etc/rules', /--filter .*belong in the source's exclude/],
    ['--rsh=ssh -p 2', /--rsh .*remote shell comes from the target URL/],
    ['--server', /--server .*internal server mode/],
    ['--sender', /--sender .*internal server mode/],
    ['--daemon', /--daemon /],
    ['--config=/etc/rsyncd.conf', /--config .*daemon option/],
    ['--password-file=/x', /--password-file .*password_file/],
    ['--dry-run', /--dry-run .*never changes the target/],
    ['--info=stats0', /--info .*--stats/],
    ['--remote-option=--remove-source-files', /--remote-option .*remote side/],
    ['--log-file=/etc/passwd', /--log-file .*outside the config/],
    ['--old-args', /--old-args .*remote shell split/],
    // rsync takes --no-OPTION for most options: these undo what syncward relies on
    ['--no-i', /--no-i .*--itemize-changes output/],
    ['--no-from0', /--no-from0 .*NUL-separated/],
    ['--no-timeout', /--no-timeout .*timeout_s/],
    ['--no-H', /--no-H .*hard-link groups/],
    ['--no-secluded-args', /--no-secluded-args .*remote shell split/],
    ['--insecure-links', /--insecure-links .*follow symlinks that other users plant/],
    ['--copy-links', /--copy-links .*symlink in the source points to.*\/etc\/shadow/],
    ['-L', /-L .*symlink in the source points to/],
    ['-avk', /-k .*symlink in the source points to/],
    ['--copy-unsafe-links', /--copy-unsafe-links .*symlink in the source points to/],
  ];
  for (const [arg, want] of cases) {
    const m = checkRsyncArgs([arg]);
    assert.equal(m.length, 1, arg);
    assert.match(m[0]?.message as string, want, arg);
  }
});

test('short option bundles are read letter by letter: -ae ssh, -vR, -n inside -avn', () => {
  assert.match(
    messages(['-ae ssh'])[0] as string,
    /-e \(in "-ae ssh"\) is not allowed in rsync_args: the remote shell/,
  );
  assert.match(messages(['-essh'])[0] as string, /-e \(in "-essh"\)/);
  assert.match(messages(['-vR'])[0] as string, /-R \(in "-vR"\) is not allowed .*where paths land/);
  assert.match(messages(['-avn'])[0] as string, /-n \(in "-avn"\) .*dry run/);
  assert.match(messages(['-@2'])[0] as string, /-@ \(in "-@2"\) is not allowed .*to the nanosecond/);
  assert.match(messages(['-F'])[0] as string, /-F is not allowed .*exclude and include keys/);
  // a letter that takes a value swallows the rest of the word: -Tn is --temp-dir=n, not a dry run
  assert.deepEqual(messages(['-Tn']), []);
});

test('an option whose value is a separate element is refused: rsync would take the source path as its value', () => {
  assert.match(
    messages(['--bwlimit'])[0] as string,
    /--bwlimit needs its value in the same element, as --bwlimit=VALUE/,
  );
  assert.match(
    messages(['-vT'])[0] as string,
    /-T needs its value in the same element, as -TVALUE or --temp-dir=VALUE/,
  );
  const m = messages(['--bwlimit', '10m']);
  assert.equal(m.length, 2);
  assert.match(m[1] as string, /"10m" is not an option/);
});

test('check names the key of a refused rsync_args element', () => {
  const text = `
state_dir: /tmp/syncward-state
sources:
  - name: www
    path: /srv/www
    targets:
      - name: backup
        url: /backup/www
        rsync_args: ["/etc/hostname", "--remove-source-files"]
`;
  assert.throws(
    () => parseConfig(text, 'syncward.yaml'),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(
        e.problems.map((p) => [p.key, p.line]),
        [
          ['sources[0].targets[0].rsync_args[0]', 9],
          ['sources[0].targets[0].rsync_args[1]', 9],
        ],
      );
      return true;
    },
  );
});
