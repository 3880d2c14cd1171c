import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DriftEntry, type ItemizeOptions, parseItemizeLine } from '../../src/audit/index.js';

// Real stdout of rsync 3.5.0 (protocol 32), LC_ALL=C, local dirs:
//   rsync -a -H --delete --dry-run --itemize-changes --stats --modify-window=-1 [--checksum] s/ t/
// s/ and t/ crafted with: a missing file, an extra file, an extra dir with
// contents, a missing dir, same size + same mtime but other bytes (samesize),
// another size, chmod 600 on the target, an older mtime on the target, a
// symlink retargeted, a dir's mtime, names with a space, a newline, \xff, UTF-8.
const PLAIN = `*deleting   extradir/deep/f
*deleting   extradir/deep/
*deleting   extradir/
*deleting   extra
.d..t...... ./
>f+++++++++ bad\\#377
cLc.t...... link -> target1
>f+++++++++ missing
.f...p..... mode
>f..t...... mtime
>f+++++++++ new\\#012line
>f.s....... size
>f+++++++++ with space
>f+++++++++ \\#303\\#274n\\#303\\#257
cd+++++++++ missingdir/
cd+++++++++ missingdir/in/
>f+++++++++ missingdir/in/f
.d..t...... sub/

Number of files: 16 (reg: 11, dir: 4, link: 1)
Number of created files: 8 (reg: 6, dir: 2)
Number of deleted files: 4 (reg: 2, dir: 2)
Number of regular files transferred: 8
Total file size: 43 bytes
Total transferred file size: 23 bytes
Literal data: 0 bytes
Matched data: 0 bytes
File list size: 0
File list generation time: 0.001 seconds
File list transfer time: 0.000 seconds
Total bytes sent: 384
Total bytes received: 127

sent 384 bytes  received 127 bytes  1,022.00 bytes/sec
total size is 43  speedup is 0.08 (DRY RUN)`;

// the same trees with --checksum (no --stats)
const CHECKSUM = `*deleting   extradir/deep/f
*deleting   extradir/deep/
*deleting   extradir/
*deleting   extra
.d..t...... ./
>f+++++++++ bad\\#377
cLc.t...... link -> target1
>f+++++++++ missing
.f...p..... mode
.f..t...... mtime
>f+++++++++ new\\#012line
>fc........ samesize
>fcs....... size
>f+++++++++ with space
>f+++++++++ \\#303\\#274n\\#303\\#257
cd+++++++++ missingdir/
cd+++++++++ missingdir/in/
>f+++++++++ missingdir/in/f
.d..t...... sub/`;

// -H, --numeric-ids, as root: a hard link, a fifo, owner and group changed on the target
const HARDLINKS = `.d..t...... ./
>f+++++++++ b
hf+++++++++ a => b
cS+++++++++ fifo
.f....og... own
.f.....g... q`;

// the target directory does not exist yet (--mkpath)
const NO_TARGET = `created 1 directory for t2/nonexist
created directory t2/nonexist
cd+++++++++ ./
>f+++++++++ b`;

function parse(text: string, o: ItemizeOptions = {}): DriftEntry[] {
  return text.split('\n').flatMap((l) => parseItemizeLine(l, o) ?? []);
}

function byPath(entries: DriftEntry[]): Map<string, DriftEntry> {
  return new Map(entries.map((e) => [e.path, e]));
}

test('a file only on the source is missing, one only on the target is extra', () => {
  const e = byPath(parse(PLAIN));
  assert.deepEqual(e.get('missing'), { kind: 'missing', path: 'missing', detail: 'file', type: 'file' });
  assert.deepEqual(e.get('extra'), { kind: 'extra', path: 'extra', detail: 'entry', type: 'file' });
});

test('an extra directory is reported with everything inside it', () => {
  const extra = parse(PLAIN).filter((x) => x.kind === 'extra');
  assert.deepEqual(
    extra.map((x) => [x.path, x.type]),
    [
      ['extradir/deep/f', 'file'],
      ['extradir/deep', 'dir'],
      ['extradir', 'dir'],
      ['extra', 'file'],
    ],
  );
});

test('a missing directory and its contents are missing', () => {
  const e = byPath(parse(PLAIN));
  assert.equal(e.get('missingdir')?.kind, 'missing');
  assert.equal(e.get('missingdir')?.detail, 'directory');
  assert.equal(e.get('missingdir/in')?.type, 'dir');
  assert.equal(e.get('missingdir/in/f')?.kind, 'missing');
});

test('another size is content drift', () => {
  assert.deepEqual(byPath(parse(PLAIN)).get('size'), {
    kind: 'content',
    path: 'size',
    detail: 'size',
    type: 'file',
  });
  assert.equal(byPath(parse(CHECKSUM, { checksum: true })).get('size')?.detail, 'size, checksum');
});

test('same size and same mtime with other bytes: only --checksum sees it', () => {
  assert.equal(byPath(parse(PLAIN)).get('samesize'), undefined);
  assert.deepEqual(byPath(parse(CHECKSUM, { checksum: true })).get('samesize'), {
    kind: 'content',
    path: 'samesize',
    detail: 'checksum',
    type: 'file',
  });
});

test('chmod on the target is metadata: mode', () => {
  assert.deepEqual(byPath(parse(PLAIN)).get('mode'), {
    kind: 'metadata',
    path: 'mode',
    detail: 'mode',
    type: 'file',
  });
});

test('an mtime difference is metadata, and says content was not compared without --checksum', () => {
  const plain = byPath(parse(PLAIN)).get('mtime');
  assert.equal(plain?.kind, 'metadata');
  assert.match(plain?.detail ?? '', /^mtime \(content not compared/);
  assert.deepEqual(byPath(parse(CHECKSUM, { checksum: true })).get('mtime'), {
    kind: 'metadata',
    path: 'mtime',
    detail: 'mtime',
    type: 'file',
  });
});

test('a retargeted symlink is metadata naming the source target', () => {
  assert.deepEqual(byPath(parse(PLAIN)).get('link'), {
    kind: 'metadata',
    path: 'link',
    detail: 'symlink target -> target1, mtime',
    type: 'symlink',
  });
});

test("a directory's mtime alone is ignored unless asked for", () => {
  const e = byPath(parse(PLAIN));
  assert.equal(e.get('sub'), undefined);
  assert.equal(e.get(''), undefined);
  const withDirs = byPath(parse(PLAIN, { dirMtime: true }));
  assert.deepEqual(withDirs.get('sub'), { kind: 'metadata', path: 'sub', detail: 'mtime', type: 'dir' });
  assert.equal(withDirs.get('')?.detail, 'mtime');
});

test('names with a space, a newline, non-UTF-8 and UTF-8 bytes decode to byte strings', () => {
  const e = byPath(parse(PLAIN));
  assert.equal(e.get('with space')?.kind, 'missing');
  assert.equal(e.get('new\nline')?.kind, 'missing');
  assert.equal(e.get('bad\xff')?.kind, 'missing');
  assert.equal(e.get(Buffer.from('ünï', 'utf8').toString('latin1'))?.kind, 'missing');
});

test('--stats and summary lines are not drift', () => {
  const all = parse(PLAIN);
  assert.equal(all.length, 16);
  assert.ok(all.every((x) => !/Number|Total|sent|total/.test(x.path)));
  assert.deepEqual(parse(NO_TARGET), [
    { kind: 'missing', path: '', detail: 'directory', type: 'dir' },
    { kind: 'missing', path: 'b', detail: 'file', type: 'file' },
  ]);
});

test('hard links, specials, owner and group', () => {
  const e = byPath(parse(HARDLINKS));
  assert.deepEqual(e.get('a'), { kind: 'missing', path: 'a', detail: 'hard link to b', type: 'file' });
  assert.deepEqual(e.get('fifo'), { kind: 'missing', path: 'fifo', detail: 'special file', type: 'special' });
  assert.equal(e.get('own')?.detail, 'owner, group');
  assert.equal(e.get('q')?.detail, 'group');
});

test('a file pushed to a daemon (<f) reads like one received (>f)', () => {
  assert.equal(parseItemizeLine('<f.st...... docs/a b.txt')?.kind, 'content');
  assert.equal(parseItemizeLine('<f.st...... docs/a b.txt')?.path, 'docs/a b.txt');
  assert.equal(parseItemizeLine('<f+++++++++ x')?.kind, 'missing');
  assert.match(parseItemizeLine('<f..t...... y')?.detail ?? '', /^mtime \(content not compared/);
});
