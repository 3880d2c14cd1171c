import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catchUpText, storageTrouble, storageTroubleMessage } from '../../src/journal/index.js';

const err = (code: string, message: string) => Object.assign(new Error(message), { code });
const ctx = {
  stateDir: '/var/lib/syncward',
  file: '/var/lib/syncward/journal.db',
  catchUp: 'the full sync at start resends every difference',
  uid: 0,
};

test('SQLite and errno codes map to what happened', () => {
  assert.equal(storageTrouble(err('SQLITE_NOTADB', 'file is not a database')), 'corrupt');
  assert.equal(storageTrouble(err('SQLITE_CORRUPT', 'database disk image is malformed')), 'corrupt');
  assert.equal(storageTrouble(err('SQLITE_CORRUPT_INDEX', 'x')), 'corrupt');
  assert.equal(storageTrouble(err('SQLITE_FULL', 'database or disk is full')), 'full');
  assert.equal(storageTrouble(err('ENOSPC', 'no space left on device')), 'full');
  assert.equal(storageTrouble(err('EDQUOT', 'disk quota exceeded')), 'full');
  assert.equal(storageTrouble(err('SQLITE_READONLY', 'attempt to write a readonly database')), 'readonly');
  assert.equal(storageTrouble(err('EROFS', 'read-only file system')), 'readonly');
  assert.equal(storageTrouble(err('SQLITE_CANTOPEN', 'unable to open database file')), 'denied');
  assert.equal(storageTrouble(err('EACCES', 'permission denied')), 'denied');
  assert.equal(storageTrouble(new Error('something else')), 'other');
  assert.equal(storageTrouble(null), 'other');
});

test('each message says what happened, what to do and what is lost', () => {
  const corrupt = storageTroubleMessage(err('SQLITE_CORRUPT', 'database disk image is malformed'), ctx);
  assert.match(
    corrupt,
    /journal \/var\/lib\/syncward\/journal\.db is damaged \(SQLite: database disk image is malformed\)/,
  );
  assert.match(corrupt, /mv \/var\/lib\/syncward\/journal\.db \/var\/lib\/syncward\/journal\.db\.broken/);
  assert.match(
    corrupt,
    /Nothing in the source or on the targets is lost.*the full sync at start resends every difference/,
  );
  const full = storageTroubleMessage(err('SQLITE_FULL', 'database or disk is full'), ctx);
  assert.match(
    full,
    /no space left on the file system of state_dir \/var\/lib\/syncward \(database or disk is full\)/,
  );
  assert.match(full, /Free space there \(df -h \/var\/lib\/syncward shows it\).*Nothing is lost/);
  assert.match(
    storageTroubleMessage(err('EROFS', 'read-only'), ctx),
    /read-only.*ReadWritePaths=\/var\/lib\/syncward/,
  );
  assert.match(
    storageTroubleMessage(err('EACCES', 'permission denied'), ctx),
    /chown 0 \/var\/lib\/syncward\/journal\.db\*/,
  );
  assert.equal(
    storageTroubleMessage(new Error('odd'), ctx),
    'cannot open the journal /var/lib/syncward/journal.db: odd',
  );
});

test('the commands in the messages are quoted for a shell when state_dir holds a space', () => {
  const spaced = { ...ctx, stateDir: '/srv/sync ward', file: '/srv/sync ward/journal.db' };
  assert.match(
    storageTroubleMessage(err('SQLITE_NOTADB', 'file is not a database'), spaced),
    /mv '\/srv\/sync ward\/journal\.db' '\/srv\/sync ward\/journal\.db\.broken'/,
  );
  assert.match(
    storageTroubleMessage(err('SQLITE_FULL', 'full'), spaced),
    /df -h '\/srv\/sync ward' shows it/,
  );
  assert.match(
    storageTroubleMessage(err('EACCES', 'denied'), spaced),
    /chown 0 '\/srv\/sync ward\/journal\.db'\* && chmod 600 '\/srv\/sync ward\/journal\.db'\*/,
  );
  assert.match(
    catchUpText([{ name: 'www', initialSync: false }], '/etc/sync ward.yaml'),
    /run `syncward sync -c '\/etc\/sync ward\.yaml'`/,
  );
});

test('the catch-up named in the message is the startup full sync, or a sync to run by hand where initial_sync is off', () => {
  const on = { name: 'www', initialSync: true };
  const off = { name: 'img', initialSync: false };
  assert.equal(catchUpText([on]), 'the full sync at start resends every difference');
  assert.match(
    catchUpText([off], '/etc/syncward.yaml'),
    /initial_sync is off, so run `syncward sync -c \/etc\/syncward\.yaml`/,
  );
  assert.match(
    catchUpText([on, off], '/etc/s.yaml'),
    /except for img \(initial_sync: false\): run `syncward sync -c \/etc\/s\.yaml --source img` once/,
  );
});
