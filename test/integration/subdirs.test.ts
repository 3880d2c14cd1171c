import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { leafDevOf, subdirs } from '../../src/native/index.js';

/*
 * The inotify walk lists each directory with the addon's subdirs: only the
 * directories in it, and not even a read of one whose link count says it has
 * none, where the filesystem counts them (ext4 here).
 */
const root = mkdtempSync(join(tmpdir(), 'syncward-subdirs-'));
after(() => rmSync(root, { recursive: true, force: true }));

const names = (dir: string | Buffer, leafDev = -1) => subdirs(Buffer.from(dir), leafDev).sort();

test('subdirs gives the directories in a directory, names as bytes, never a symlink, a file or a fifo', () => {
  const d = join(root, 'mixed');
  mkdirSync(join(d, 'a', 'deeper'), { recursive: true });
  mkdirSync(join(d, 'sp ace'));
  mkdirSync(join(d, 'new\nline'));
  // a name that is not UTF-8: one byte 0xff
  mkdirSync(Buffer.concat([Buffer.from(`${d}/`), Buffer.from([0x6c, 0xff])]));
  writeFileSync(join(d, 'file'), 'x');
  symlinkSync(join(d, 'a'), join(d, 'link-to-a'));
  execFileSync('mkfifo', [join(d, 'fifo')]);
  const want = ['a', 'l\xff', 'new\nline', 'sp ace'].sort();
  assert.deepEqual(names(d), want);
  assert.deepEqual(names(d, leafDevOf(root)), want, 'the same with the leaf shortcut');
  assert.deepEqual(names(join(d, 'a')), ['deeper']);
  assert.deepEqual(names(join(d, 'a', 'deeper')), []);
});

test('a directory that cannot be listed throws with the errno name as its code', () => {
  assert.throws(() => names(join(root, 'nothing-here')), { code: 'ENOENT' });
  writeFileSync(join(root, 'a-file'), 'x');
  assert.throws(() => names(join(root, 'a-file')), { code: 'ENOTDIR' });
  assert.throws(() => names(join(root, 'nothing-here'), leafDevOf(root)), { code: 'ENOENT' });
});

test('leafDevOf: the device where st_nlink counts subdirectories (ext4, XFS, tmpfs), -1 elsewhere', (t) => {
  const type = execFileSync('stat', ['-f', '-c', '%T', root], { encoding: 'utf8' }).trim();
  if (!['ext2/ext3', 'xfs', 'tmpfs'].includes(type)) {
    t.skip(`${tmpdir()} is ${type}, not a filesystem that counts subdirectories`);
    return;
  }
  assert.equal(leafDevOf(root), statSync(root).dev);
  assert.equal(statSync(join(root, 'mixed', 'a', 'deeper')).nlink, 2, 'a leaf has two links');
  // procfs does not count them: every directory is read
  assert.equal(leafDevOf('/proc'), -1);
  assert.equal(leafDevOf(join(root, 'nothing-here')), -1);
  assert.ok(names('/proc', leafDevOf('/proc')).includes('sys'), '/proc listed in full');
});

test('a directory on another filesystem inside the tree is read in full', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('mounting a tmpfs needs root');
    return;
  }
  const m = join(root, 'mnt');
  mkdirSync(m);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', m]);
  try {
    mkdirSync(join(m, 'inside'));
    assert.notEqual(statSync(m).dev, statSync(root).dev);
    assert.deepEqual(names(m, leafDevOf(root)), ['inside']);
    assert.deepEqual(names(root, leafDevOf(root)).includes('mnt'), true);
  } finally {
    execFileSync('umount', ['-l', m]);
  }
});
