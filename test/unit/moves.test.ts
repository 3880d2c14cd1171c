import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Change } from '../../src/change/index.js';
import { Coalescer, changesOf } from '../../src/coalesce/index.js';
import { parseTargetUrl, type SourceSpec, type TargetSpec } from '../../src/transport/index.js';
import {
  argvName,
  buildDirMoveCall,
  buildFileMovesCall,
  buildRelocationCall,
  hasMoves,
  linkDestOf,
  movesOf,
  relocationGroups,
  subtreeFilter,
} from '../../src/transport/moves.js';
import type { FsEvent } from '../../src/watch/types.js';

const src: SourceSpec = {
  root: '/home/www',
  filterArgs: ['--filter=- *.swp', '--filter=- .git/'],
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

const dirMove = (from: string, path: string): FsEvent => ({
  kind: 'move',
  from,
  path,
  isDir: true,
  cookie: 1,
  inode: '64768:42',
});

test('a move pair is an arrival with its old name and the delete of that name in the same batch', () => {
  const changes: Change[] = [
    { path: 'a/old', op: 'delete' },
    { path: 'a/new', op: 'upsertTree', from: 'a/old', inode: '1:2' },
    { path: 'd/f', op: 'delete' },
    { path: 'd/g', op: 'upsert', from: 'd/f' },
  ];
  assert.deepEqual(movesOf(changes), {
    dirs: [{ path: 'a/new', from: 'a/old', inode: '1:2' }],
    files: [{ path: 'd/g', from: 'd/f' }],
    relocated: [],
  });
});

test('no pair: the old name not deleted in the batch, no inode, or a file moved and renamed at once', () => {
  assert.deepEqual(movesOf([{ path: 'new', op: 'upsertTree', from: 'old', inode: '1:2' }]), {
    dirs: [],
    files: [],
    relocated: [],
  });
  // the old name came back meanwhile: it stays on the target and must not share inodes with the new one
  assert.deepEqual(
    movesOf([
      { path: 'old', op: 'upsertTree' },
      { path: 'new', op: 'upsertTree', from: 'old', inode: '1:2' },
    ]),
    { dirs: [], files: [], relocated: [] },
  );
  assert.deepEqual(
    movesOf([
      { path: 'old', op: 'delete' },
      { path: 'new', op: 'upsertTree', from: 'old' },
    ]),
    { dirs: [], files: [], relocated: [] },
  );
  assert.deepEqual(
    movesOf([
      { path: 'x/f', op: 'delete' },
      { path: 'y/g', op: 'upsert', from: 'x/f' },
    ]),
    { dirs: [], files: [], relocated: [] },
  );
});

test('files moved to other directories under their names go in one call per new and old directory', () => {
  const { relocated } = movesOf([
    { path: 'x/f', op: 'delete' },
    { path: 'x/g', op: 'delete' },
    { path: 'h', op: 'delete' },
    { path: 'y/f', op: 'upsert', from: 'x/f' },
    { path: 'y/g', op: 'upsert', from: 'x/g' },
    { path: 'y/h', op: 'upsert', from: 'h' },
  ]);
  assert.deepEqual(relocationGroups(relocated), [
    { dir: 'y', from: 'x', names: ['f', 'g'] },
    { dir: 'y', from: '', names: ['h'] },
  ]);
  const call = buildRelocationCall(
    src,
    target('rsync://u@h/www'),
    { dir: 'y', from: '', names: ['h'] },
    {
      isRoot: true,
    },
  );
  assert.ok(call);
  for (const a of ['--link-dest=..', '--checksum', '--files-from=-', '--ignore-missing-args'])
    assert.ok(call.argv.includes(a), `${a} in ${call.argv.join(' ')}`);
  assert.ok(!call.argv.some((a) => a.startsWith('--delete')));
  assert.deepEqual(call.argv.slice(-2), ['/home/www/y/', 'rsync://u@h/www/y/']);
  assert.deepEqual(call.stdin, Buffer.from('h\0'));
  // into the root, from a directory
  const up = buildRelocationCall(src, target('/b'), { dir: '', from: 'x', names: ['f'] }, { isRoot: true });
  assert.ok(up?.argv.includes('--link-dest=x'));
  assert.deepEqual(up?.argv.slice(-2), ['/home/www/', '/b/']);
});

test('a batch has moves only with a pair in it', () => {
  assert.equal(hasMoves([{ path: 'new', op: 'upsertTree', from: 'old', inode: '1:2' }]), false);
  assert.equal(
    hasMoves([
      { path: 'f', op: 'delete' },
      { path: 'g', op: 'upsert', from: 'f' },
    ]),
    true,
  );
});

test('the link-dest basis is the old directory relative to the new one, for any depths', () => {
  assert.equal(linkDestOf('new', 'old'), '../old');
  assert.equal(linkDestOf('a/b/new', 'a/b/old'), '../old');
  assert.equal(linkDestOf('x/y/new', 'a/b/old'), '../../../a/b/old');
  assert.equal(linkDestOf('a/new', 'a/b/c/old'), '../b/c/old');
  assert.equal(linkDestOf('new', 'a/b/old'), '../a/b/old');
  assert.equal(linkDestOf('a/b/c/new', 'old'), '../../../../old');
  // a common prefix only counts whole names
  assert.equal(linkDestOf('ab/new', 'a/old'), '../../a/old');
  // directories of moved files, the root as ''
  assert.equal(linkDestOf('y', ''), '..');
  assert.equal(linkDestOf('', 'x/z'), 'x/z');
});

test('filter rules read from inside the moved directory', () => {
  const rules = [
    '--filter=- *.swp',
    '--filter=- .git/',
    '--filter=- /a/b/cache/',
    '--filter=+ /top',
    '--exclude=/a/b/x',
  ];
  assert.deepEqual(subtreeFilter(rules, 'a/b'), [
    '--filter=- *.swp',
    '--filter=- .git/',
    '--filter=- /cache/',
    '--exclude=/x',
  ]);
  // anchored rules naming the directory itself or what lies elsewhere match nothing inside
  assert.deepEqual(subtreeFilter(['--filter=- /a/c/', '--filter=+ /a/'], 'a/b'), []);
  // what cannot be read from inside: a wildcard over the prefix, an unanchored path, **
  assert.equal(subtreeFilter(['--filter=- /*/b/c'], 'a/b'), null);
  assert.equal(subtreeFilter(['--filter=- b/c'], 'a/b'), null);
  assert.equal(subtreeFilter(['--filter=- **/tmp'], 'a/b'), null);
  assert.equal(subtreeFilter(['--filter=P /keep/'], 'a/b'), null);
});

test('a name rsync argv cannot carry goes by the batch', () => {
  assert.equal(argvName('with space/-rf'), 'with space/-rf');
  assert.equal(argvName(Buffer.from('café').toString('latin1')), 'café');
  assert.equal(argvName(Buffer.from([0x61, 0xff]).toString('latin1')), null);
  assert.equal(argvName('new\nline'), null);
});

test('a moved directory goes alone, recursive, from its old name, to each kind of target', () => {
  const move = { path: 'x/new dir', from: 'a/old', inode: '1:2' };
  const daemon = buildDirMoveCall(src, target('rsync://u@h:873/www/sub'), move, { isRoot: true });
  assert.ok(daemon);
  const argv = daemon.argv;
  for (const a of ['-a', '-r', '-H', '--delete', '--link-dest=../../a/old', '--filter=- *.swp', '--mkpath'])
    assert.ok(argv.includes(a), `${a} in ${argv.join(' ')}`);
  assert.deepEqual(argv.slice(-2), ['/home/www/x/new dir/', 'rsync://u@h:873/www/sub/x/new dir/']);
  assert.equal(daemon.stdin, undefined);
  const ssh = buildDirMoveCall(src, target('ssh://u@h/srv/www'), move, { isRoot: false });
  assert.deepEqual(ssh?.argv.slice(-2), ['/home/www/x/new dir/', 'u@h:/srv/www/x/new dir/']);
  assert.ok(ssh?.argv.includes('-e'));
  const local = buildDirMoveCall({ ...src, readRoot: '/proc/1/fd/7' }, target('/backup/www'), move, {
    isRoot: true,
  });
  assert.deepEqual(local?.argv.slice(-2), ['/proc/1/fd/7/x/new dir/', '/backup/www/x/new dir/']);
});

test('a moved directory goes by the batch when the source keeps deleted names, the target keeps backups, or the name or rules do not fit', () => {
  const move = { path: 'new', from: 'old', inode: '1:2' };
  // the old name stays on the target: it must not share inodes with the new one
  assert.equal(buildDirMoveCall({ ...src, delete: false }, target('/b'), move, { isRoot: true }), null);
  assert.equal(
    buildDirMoveCall(src, target('/b', { backup: { dir: '.bak', keepDays: 3 } }), move, { isRoot: true }),
    null,
  );
  assert.equal(
    buildDirMoveCall({ ...src, filterArgs: ['--filter=- x/y'] }, target('/b'), move, { isRoot: true }),
    null,
  );
  assert.equal(buildDirMoveCall(src, target('/b'), { ...move, path: 'n\new' }, { isRoot: true }), null);
});

test('renamed files go in one call of their new names with --fuzzy, deleting nothing', () => {
  const call = buildFileMovesCall(
    src,
    target('/backup/www'),
    [
      { path: 'd/g', from: 'd/f' },
      { path: 'h', from: 'i' },
    ],
    {
      isRoot: true,
    },
  );
  for (const a of ['--fuzzy', '--no-whole-file', '--files-from=-', '--from0', '--ignore-missing-args'])
    assert.ok(call.argv.includes(a), a);
  assert.ok(!call.argv.some((a) => a.startsWith('--delete')), 'the old names stay for the generator to find');
  assert.deepEqual(call.stdin, Buffer.from('d/g\0h\0'));
});

test('the coalescer keeps a move arrival old name and inode until a delete or another arrival', () => {
  const c = new Coalescer({ delayMs: 0, maxWaitMs: 10_000 });
  for (const ch of changesOf([dirMove('old', 'new')])) c.add(ch, 0);
  // writes inside the moved tree and its own metadata add to it
  c.add({ path: 'new/f', op: 'upsert' }, 0);
  c.add({ path: 'new', op: 'upsert', dir: true }, 0);
  assert.deepEqual(c.take(0), [
    { path: 'new', op: 'upsertTree', from: 'old', inode: '64768:42' },
    { path: 'old', op: 'delete' },
  ]);
  for (const ch of changesOf([dirMove('old', 'new')])) c.add(ch, 1);
  c.add({ path: 'new', op: 'delete' }, 1);
  c.add({ path: 'new', op: 'upsertTree' }, 1);
  assert.deepEqual(c.take(1), [
    { path: 'new', op: 'upsertTree' },
    { path: 'old', op: 'delete' },
  ]);
  // a file renamed and then written keeps its basis
  for (const ch of changesOf([{ kind: 'move', from: 'f', path: 'g', isDir: false, cookie: 2 }])) c.add(ch, 2);
  c.add({ path: 'g', op: 'upsert', writing: true }, 2);
  c.add({ path: 'g', op: 'upsert' }, 2);
  assert.deepEqual(c.take(2), [
    { path: 'f', op: 'delete' },
    { path: 'g', op: 'upsert', from: 'f' },
  ]);
});

test('a batch put back keeps its moves; a replay from the journal (no old name) is a plain send', () => {
  const c = new Coalescer({ delayMs: 0, maxWaitMs: 10_000 });
  c.addChange({ path: 'new', op: 'upsertTree', from: 'old', inode: '1:2' }, 0);
  c.addChange({ path: 'old', op: 'delete' }, 0);
  c.addChange({ path: 'x', op: 'upsertTree' }, 0);
  assert.deepEqual(c.take(0), [
    { path: 'new', op: 'upsertTree', from: 'old', inode: '1:2' },
    { path: 'old', op: 'delete' },
    { path: 'x', op: 'upsertTree' },
  ]);
});
