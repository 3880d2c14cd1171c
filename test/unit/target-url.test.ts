import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatTargetUrl,
  parseTargetUrl,
  rsyncDestination,
  TargetUrlError,
} from '../../src/transport/index.js';

test('an rsync daemon URL gives user, host, port, module and path', () => {
  assert.deepEqual(parseTargetUrl('rsync://www@10.0.0.2:873/www/sub/dir'), {
    kind: 'daemon',
    user: 'www',
    host: '10.0.0.2',
    port: 873,
    module: 'www',
    path: 'sub/dir',
  });
  assert.deepEqual(parseTargetUrl('rsync://backup.example.com/www/'), {
    kind: 'daemon',
    host: 'backup.example.com',
    module: 'www',
  });
});

test('an ssh URL needs an absolute path; the port is kept apart', () => {
  assert.deepEqual(parseTargetUrl('ssh://deploy@10.0.0.3:2222/srv/www/'), {
    kind: 'ssh',
    user: 'deploy',
    host: '10.0.0.3',
    port: 2222,
    path: '/srv/www',
  });
  assert.deepEqual(parseTargetUrl('ssh://host/srv'), { kind: 'ssh', host: 'host', path: '/srv' });
});

test('a local target is an absolute path, normalized', () => {
  assert.deepEqual(parseTargetUrl('/backup/www'), { kind: 'local', path: '/backup/www' });
  assert.deepEqual(parseTargetUrl('/backup//www/./x/../'), { kind: 'local', path: '/backup/www' });
});

test('IPv6 hosts are written in brackets and come back without them', () => {
  assert.deepEqual(parseTargetUrl('rsync://u@[::1]:8730/m'), {
    kind: 'daemon',
    user: 'u',
    host: '::1',
    port: 8730,
    module: 'm',
  });
  assert.deepEqual(parseTargetUrl('ssh://[fe80::1%eth0]/srv'), {
    kind: 'ssh',
    host: 'fe80::1%eth0',
    path: '/srv',
  });
  assert.equal(rsyncDestination(parseTargetUrl('rsync://u@[::1]:8730/m/p')), 'rsync://u@[::1]:8730/m/p/');
  assert.equal(rsyncDestination(parseTargetUrl('ssh://u@[::1]:22/srv')), 'u@[::1]:/srv/');
});

test('the rsync destination always ends in a slash; an ssh port is not in it', () => {
  assert.equal(
    rsyncDestination(parseTargetUrl('rsync://www@10.0.0.2:873/www')),
    'rsync://www@10.0.0.2:873/www/',
  );
  assert.equal(rsyncDestination(parseTargetUrl('rsync://h/www/a/b')), 'rsync://h/www/a/b/');
  assert.equal(rsyncDestination(parseTargetUrl('ssh://deploy@h:2222/srv/www')), 'deploy@h:/srv/www/');
  assert.equal(rsyncDestination(parseTargetUrl('/backup/www')), '/backup/www/');
});

test('formatTargetUrl writes the canonical URL back', () => {
  for (const u of [
    'rsync://www@10.0.0.2:873/www/sub',
    'ssh://d@[::1]:22/srv/www',
    '/backup/www',
    'rsync://h/m',
  ]) {
    assert.equal(formatTargetUrl(parseTargetUrl(u)), u);
  }
});

const bad: [string, RegExp][] = [
  ['', /empty/],
  ['backup/www', /absolute path/],
  ['./backup', /absolute path/],
  ['host:/srv/www', /scp style/],
  ['ftp://h/x', /unknown scheme "ftp:\/\/"/],
  ['rsync://h', /module is missing/],
  ['rsync://h/', /module is missing/],
  ['rsync://h:0/m', /port "0"/],
  ['rsync://h:65536/m', /port "65536"/],
  ['rsync://h:abc/m', /port "abc"/],
  ['rsync://h:/m', /port ""/],
  ['rsync://@h/m', /user before "@" is empty/],
  ['rsync://:873/m', /host is missing/],
  ['rsync://h/m/../etc', /"\.\." is not allowed/],
  ['ssh://h', /remote directory is missing/],
  ['ssh://h/', /remote directory is missing/],
  ['ssh://-oProxyCommand=x/srv', /not a valid host name/],
  ['ssh://[::1/srv', /closing "\]"/],
  ['ssh://[nothost]/srv', /not an IPv6 address/],
  ['ssh://a b/srv', /not a valid host name/],
  ['/', /root directory/],
  ['/a/..', /root directory/],
  ['/backup/\nwww', /control character/],
];

for (const [url, why] of bad) {
  test(`rejects ${JSON.stringify(url)} saying what is wrong and what is valid`, () => {
    assert.throws(
      () => parseTargetUrl(url),
      (e: unknown) => {
        assert.ok(e instanceof TargetUrlError);
        assert.match(e.message, why);
        assert.match(e.message, /rsync:\/\/\[user@\]host\[:port\]\/module\[\/path\]/);
        assert.match(e.message, /ssh:\/\/\[user@\]host\[:port\]\/abs\/path/);
        assert.match(e.message, /\/abs\/path/);
        return true;
      },
    );
  });
}
