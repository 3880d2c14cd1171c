import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Filter, FilterError } from '../../src/filter/index.js';
import { fromText } from '../../src/util/bytes.js';

type Row = [pattern: string | string[], path: string, isDir: boolean, excluded: boolean];

// [exclude pattern(s), path, isDir, expected]; paths are byte strings
const table: Row[] = [
  // nothing is excluded by default, dotfiles included
  [[], '.env', false, false],
  [[], '.git/config', false, false],
  [['*.swp'], '.hidden', false, false],
  // '*.swp': the last component, at any depth
  ['*.swp', 'a.swp', false, true],
  ['*.swp', 'deep/er/.a.swp', false, true],
  ['*.swp', 'a.swp.txt', false, false],
  ['*.swp', 'dir.swp', true, true],
  ['*.swp', 'dir.swp/inside.txt', false, true],
  // '*~'
  ['*~', 'notes.txt~', false, true],
  ['*~', 'a/b~', false, true],
  ['*~', 'a~b', false, false],
  // '/cache/': anchored at the root, directories only
  ['/cache/', 'cache', true, true],
  ['/cache/', 'cache/x/y', false, true],
  ['/cache/', 'cache', false, false],
  ['/cache/', 'sub/cache', true, false],
  ['/cache/', 'sub/cache/x', false, false],
  ['/cache/', 'cache2', true, false],
  // '.git/' and 'node_modules/': directories with that name anywhere
  ['.git/', '.git', true, true],
  ['.git/', '.git/objects/ab/cdef', false, true],
  ['.git/', 'vendor/lib/.git/HEAD', false, true],
  ['.git/', '.git', false, false],
  ['.git/', '.gitignore', false, false],
  ['node_modules/', 'node_modules', true, true],
  ['node_modules/', 'app/node_modules/x/index.js', false, true],
  ['node_modules/', 'node_modules', false, false],
  // '**/tmp/': a leading '**' may match nothing, so a top-level tmp counts too
  ['**/tmp/', 'tmp', true, true],
  ['**/tmp/', 'a/b/tmp', true, true],
  ['**/tmp/', 'a/b/tmp/f', false, true],
  ['**/tmp/', 'a/tmp', false, false],
  ['**/tmp/', 'a/tmpx', true, false],
  // 'a/b/*.log': contains '/', so the last three components must match
  ['a/b/*.log', 'a/b/x.log', false, true],
  ['a/b/*.log', 'top/a/b/x.log', false, true],
  ['a/b/*.log', 'a/b/c/x.log', false, false],
  ['a/b/*.log', 'xa/b/x.log', false, false],
  ['a/b/*.log', 'b/x.log', false, false],
  // anchoring
  ['/top.txt', 'top.txt', false, true],
  ['/top.txt', 'sub/top.txt', false, false],
  ['top.txt', 'sub/top.txt', false, true],
  ['/a/*', 'a/x', false, true],
  ['/a/*', 'a/x/y', false, true], // beneath the excluded a/x
  ['/a/*', 'b/a/x', false, false],
  ['/a/*', 'a', true, false],
  ['a/b', 'q/a/b', false, true],
  ['/a/b', 'q/a/b', false, false],
  // '*' stops at '/', '**' does not
  ['/*.txt', 'x.txt', false, true],
  ['/*.txt', 'd/x.txt', false, false],
  ['/**.txt', 'd/e/x.txt', false, true],
  ['d/*/f', 'd/x/f', false, true],
  ['d/*/f', 'd/x/y/f', false, false],
  ['d/**/f', 'd/x/y/f', false, true],
  ['d/**/f', 'd/f', false, false], // rsync: '/**/' needs a '/' of its own
  ['/d/**', 'd', true, false],
  ['/d/**', 'd/x', false, true],
  // 'dir/***': the directory and everything inside
  ['logs/***', 'logs', true, true],
  ['logs/***', 'logs/a/b', false, true],
  ['logs/***', 'logs', false, false], // a file named logs is not "logs/"
  ['logs/***', 'x/logs/a', false, true],
  ['/logs/***', 'x/logs/a', false, false],
  // '?' and classes: one byte, never '/'
  ['?.c', 'a.c', false, true],
  ['?.c', 'ab.c', false, false],
  ['a?b', 'a/b', false, false],
  ['[ab].c', 'b.c', false, true],
  ['[ab].c', 'c.c', false, false],
  ['[!ab].c', 'c.c', false, true],
  ['[^ab].c', 'a.c', false, false],
  ['[a-c]x', 'bx', false, true],
  ['[]]x', ']x', false, true],
  ['[[:digit:]][[:upper:]]', '7Q', false, true],
  ['[[:digit:]][[:upper:]]', '7q', false, false],
  ['x[/]y', 'x/y', false, false],
  // a '/' inside a class still counts as one of the pattern's slashes for
  // rsync: '[!/]a' must match two components, which it never can
  ['[!/]a', 'ba', false, false],
  ['[!/]a', 'd/ba', false, false],
  ['[!x][/]a/', 'ba', true, false],
  // an unanchored pattern with a slash needs that many components
  ['a/b', 'b', false, false],
  ['*/b', 'b', false, false],
  ['*/b', 'a/b', false, true],
  // escapes only count in wildcard patterns
  ['\\*.txt', '*.txt', false, true],
  ['\\*.txt', 'a.txt', false, false],
  // non-UTF-8 names: the pattern's UTF-8 bytes against the name's bytes
  ['caf\u00e9', fromText('caf\u00e9'), false, true],
  ['caf?', 'caf\xe9', false, true], // Latin-1 é is one byte
  ['caf?', fromText('caf\u00e9'), false, false], // UTF-8 é is two
  ['caf??', fromText('caf\u00e9'), false, true],
  ['*.bin', 'bad\xff\xfe.bin', false, true],
  ['bad*/', 'bad\xff', true, true],
  ['bad*/', 'bad\xff/x', false, true],
  // several patterns
  [['*.o', '/build/'], 'build/main.o', false, true],
  [['*.o', '/build/'], 'src/main.c', false, false],
  // the root itself is never excluded
  ['*', '', true, false],
  ['*', 'x', false, true],
];

test('exclude patterns match the way rsync matches them', () => {
  for (const [pattern, path, isDir, expected] of table) {
    const f = new Filter({ exclude: Array.isArray(pattern) ? pattern : [pattern] });
    assert.equal(
      f.excludes(path, isDir),
      expected,
      `${JSON.stringify(pattern)} on ${JSON.stringify(path)}${isDir ? '/' : ''}`,
    );
  }
});

test('anything beneath an excluded directory is excluded, whatever its own name', () => {
  const f = new Filter({ exclude: ['node_modules/'] });
  assert.equal(f.excludes('a/node_modules/b/c/d/e/f.js', false), true);
  assert.equal(f.excludes('a/node_modules/b/c/d/e', true), true);
  assert.equal(f.excludes('a/node_modulesx/b', false), false);
  // asked again (now from the cache), and in the other order
  assert.equal(f.excludes('a/node_modules/b/c/d/e/g.js', false), true);
  assert.equal(f.excludes('a/x/y/z', false), false);
  assert.equal(f.excludes('a/x/node_modules/z', false), true);
});

test('includes come first and the first matching rule wins', () => {
  const f = new Filter({ include: ['keep.log', '/logs/', '/logs/*.log'], exclude: ['*.log', '/logs/*'] });
  assert.equal(f.excludes('keep.log', false), false);
  assert.equal(f.excludes('d/keep.log', false), false);
  assert.equal(f.excludes('other.log', false), true);
  assert.equal(f.excludes('logs', true), false);
  assert.equal(f.excludes('logs/a.log', false), false);
  assert.equal(f.excludes('logs/a.txt', false), true);
});

test('an include cannot rescue a path inside an excluded directory', () => {
  const f = new Filter({ include: ['important.txt'], exclude: ['cache/'] });
  assert.equal(f.excludes('cache/important.txt', false), true);
  assert.equal(f.excludes('important.txt', false), false);
});

test('rsyncArgs gives the same rules as --filter rules, in order: the reserved relay inbox, then includes', () => {
  const f = new Filter({ include: ['/keep/'], exclude: ['*.swp', '.git/', 'caf\u00e9'] });
  assert.deepEqual(f.rsyncArgs(), [
    '--filter=- /.syncward-inbox/',
    '--filter=+ /keep/',
    '--filter=- *.swp',
    '--filter=- .git/',
    '--filter=- caf\u00e9',
  ]);
  assert.deepEqual(new Filter({ exclude: [] }).rsyncArgs(), ['--filter=- /.syncward-inbox/']);
});

test('an invalid pattern is a FilterError naming the pattern and the reason', () => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['/', /matches nothing/],
    ['[abc', /no closing "]"/],
    ['x[[:nope:]]', /unknown character class/],
    ['*\\', /lone backslash/],
    ['- foo', /rule prefix/],
    ['+ foo', /rule prefix/],
    ['!', /clear the list/],
  ];
  for (const [pattern, why] of bad) {
    assert.throws(
      () => new Filter({ exclude: ['ok', pattern] }),
      (e: unknown) =>
        e instanceof FilterError && e.pattern === pattern && e.list === 'exclude' && why.test(e.message),
      JSON.stringify(pattern),
    );
  }
  assert.throws(
    () => new Filter({ exclude: [], include: ['[z-'] }),
    (e: unknown) => e instanceof FilterError && e.list === 'include',
  );
});

test('the relay inbox in the root is left out whatever the includes say; the name elsewhere is an ordinary name', () => {
  const f = new Filter({ include: ['*'], exclude: [] });
  assert.equal(f.excludes('.syncward-inbox', true), true);
  assert.equal(f.excludes('.syncward-inbox/.f.AbC123', false), true);
  assert.equal(f.excludes('d/.syncward-inbox', true), false);
  assert.equal(f.excludes('.syncward-inbox', false), false, 'a file of that name is not the inbox directory');
});
