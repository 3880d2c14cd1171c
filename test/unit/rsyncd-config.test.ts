import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  modulePassword,
  type RsyncdModule,
  renderRsyncdConfig,
  rsyncdProblems,
} from '../../src/cli/rsyncd-config.js';

const m: RsyncdModule = {
  module: 'www',
  path: '/srv/www',
  user: 'syncward',
  secretsFile: '/etc/rsyncd.www.secrets',
  hostsAllow: ['10.0.0.5', '192.168.1.0/24'],
  uid: 'root',
  gid: 'root',
  chroot: true,
};

/** the non-comment lines, trimmed */
function settings(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

test('the module has what a syncward target needs, TCP_NODELAY in the global section', () => {
  assert.deepEqual(settings(renderRsyncdConfig(m)), [
    'socket options = TCP_NODELAY',
    '[www]',
    'comment = syncward mirror',
    'path = /srv/www',
    'read only = no',
    'uid = root',
    'gid = root',
    'use chroot = yes',
    'auth users = syncward',
    'secrets file = /etc/rsyncd.www.secrets',
    'hosts allow = 10.0.0.5, 192.168.1.0/24',
  ]);
});

test('no hosts allow line without --hosts-allow; --no-chroot says what it costs', () => {
  const text = renderRsyncdConfig({ ...m, hostsAllow: [], chroot: false, uid: 'www-data', gid: 'www-data' });
  assert.doesNotMatch(text, /hosts allow/);
  assert.match(text, /use chroot = no/);
  assert.match(text, /strips the leading "\/" of absolute symlinks/);
  assert.match(text, /uid = www-data/);
});

test('values rsyncd.conf cannot hold are refused, not escaped', () => {
  assert.deepEqual(rsyncdProblems(m), []);
  const bad = rsyncdProblems({
    ...m,
    module: 'www]\n[evil',
    path: 'relative/dir',
    user: 'a:b',
    secretsFile: '/etc/%HOME%/s',
    hostsAllow: ['10.0.0.1\nhosts deny = *'],
    uid: 'root\npath=/',
  });
  assert.equal(bad.length, 6, bad.join('\n'));
  assert.match(bad.join('\n'), /--module/);
  assert.match(bad.join('\n'), /--path "relative\/dir": must be an absolute path/);
  assert.match(bad.join('\n'), /--secrets .*"%"/);
});

test('the password is RSYNC_PASSWORD when set, else random and URL-safe', () => {
  assert.equal(modulePassword({ RSYNC_PASSWORD: 'given' }), 'given');
  const a = modulePassword({});
  assert.match(a, /^[A-Za-z0-9_-]{24}$/);
  assert.notEqual(a, modulePassword({}));
});
