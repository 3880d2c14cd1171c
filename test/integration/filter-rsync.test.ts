/**
 * Our Filter against the real rsync: for each rule set, the paths of a small
 * tree that Filter.excludes() lets through must be exactly the paths that
 * `rsync -a` with Filter.rsyncArgs() transfers, and the paths it excludes
 * exactly those that `rsync -a --delete` leaves on a target holding the tree
 * (with the directories that hold them) — so
 * events and transfers agree, and excluded paths on a target are left alone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Filter, type FilterOptions } from '../../src/filter/index.js';
import { type BytePath, display, fromBuffer, fromText, joinRel, toFs } from '../../src/util/bytes.js';

const hasRsync = spawnSync('rsync', ['--version']).status === 0;

/** Names the rule sets care about, plus awkward ones. Byte strings; parents listed before children. */
const DIRS: BytePath[] = [
  'a',
  'a/b',
  'a/b/c',
  'a/c',
  'a/c/b',
  'a/tmp',
  'a/tmp/b',
  'a/tmp/b/tmp',
  'cache',
  'cache/tmp',
  'cache/keep',
  'src',
  'src/cache',
  'src/cache/deep',
  'src/cache/deep/cache',
  'src/node_modules',
  'src/node_modules/pkg',
  '.git',
  '.git/objects',
  '.cache',
  'sub',
  'sub/.hidden',
  'tmp',
  'tmp2',
  'x',
  'x/tmp',
  'x/y',
  'x/y/tmp',
  'logs',
  'logs/old',
  'd',
  'd/x',
  'd/x/y',
  'with space',
  '-dash',
  ' lead',
  'trail ',
  '+ plus',
  '!bang',
  'bad\xff',
];
const FILES: BytePath[] = [
  'a/b/x.log',
  'a/b/c/x.log',
  'a/c/b/x.log',
  'a/x.log',
  'a/tmp/f',
  'a/tmp/b/tmp/f',
  'top.txt',
  'a/top.txt',
  'cache/f',
  'cache/tmp/f',
  'cache/keep/f',
  'src/cache/f',
  'src/cache/deep/cache/f',
  'src/main.c',
  'src/main.o',
  'src/.main.c.swp',
  'src/node_modules/pkg/index.js',
  '.git/config',
  '.git/objects/ab',
  '.cache/f',
  '.env',
  '.gitignore',
  '.swp',
  'sub/.hidden/f',
  'sub/tmp',
  'tmp/f',
  'tmp2/f',
  'x/cache',
  'x/tmp/f',
  'x/y/tmp/f',
  'x/tmp2',
  'notes~',
  'logs/a.log',
  'logs/b.txt',
  'logs/old/c.log',
  'd/f',
  'd/x/f',
  'd/x/y/f',
  'with space/file name.txt',
  '-dash/-f',
  ' lead/f',
  'trail /f',
  '+ plus/f',
  '!bang/f',
  'bad\xff/caf\xe9.bin',
  fromText('caf\u00e9.txt'),
  'a.c',
  'b.c',
  'ab.c',
  '7Q',
  'keep.log',
];

const RULE_SETS: FilterOptions[] = [
  // the examples, together
  { exclude: ['*.swp', '/cache/', '**/tmp/', '.git/', 'node_modules/', '*~', 'a/b/*.log'] },
  // nothing excluded: everything, dotfiles included, is sent
  { exclude: [] },
  // tmp and cache, every way of writing them
  { exclude: ['tmp'] },
  { exclude: ['tmp/'] },
  { exclude: ['/tmp/'] },
  { exclude: ['**/tmp/'] },
  { exclude: ['/**/tmp/'] },
  { exclude: ['**/tmp/**'] },
  { exclude: ['tmp/**'] },
  { exclude: ['tmp/*'] },
  { exclude: ['tmp*/'] },
  { exclude: ['x/*/tmp'] },
  { exclude: ['cache/'] },
  { exclude: ['cache/***'] },
  { exclude: ['*/cache/'] },
  { exclude: ['src/cache/'] },
  { exclude: ['/src/cache/'] },
  { exclude: ['**/cache/**/cache/'] },
  // anchoring and slashes
  { exclude: ['a/b'] },
  { exclude: ['/a/b'] },
  { exclude: ['a/**/b'] },
  { exclude: ['d/**/f'] },
  { exclude: ['/d/**'] },
  { exclude: ['logs/***'] },
  { exclude: ['/*.txt'] },
  { exclude: ['**.log'] },
  { exclude: ['/**/x.log'] },
  { exclude: ['*/*'] },
  { exclude: ['**'] },
  { exclude: ['*'] },
  { exclude: ['*/'] },
  // dotfiles only when asked
  { exclude: ['.*'] },
  { exclude: ['.*/'] },
  // '?', classes, escapes, bytes
  { exclude: ['?.c', '[[:digit:]][[:upper:]]'] },
  { exclude: ['[!a].c'] },
  { exclude: ['[a-c]*'] },
  { exclude: ['*[[:space:]]*'] },
  { exclude: ['\\-dash', '[+] plus', '!bang'] },
  // a '/' inside a class counts as a slash (so these never match)
  { exclude: ['[!/]Q', '[!x][/]b.c', '*[/]f'] },
  { exclude: ['*/f', '*/*/f', '/*/f'] },
  { exclude: [' lead', 'trail '] },
  { exclude: ['*.bin', 'with space/'] },
  { exclude: ['-dash', 'bad*/'] },
  { exclude: ['caf\u00e9.txt'] },
  { exclude: ['caf?.txt'] },
  { exclude: ['caf??.txt'] },
  // includes first; the first matching rule wins; no rescue inside an excluded directory
  { include: ['keep.log', '/logs/', '/logs/*.log'], exclude: ['*.log', '/logs/*'] },
  { include: ['*/', '*.c'], exclude: ['*'] },
  { include: ['/a/', '/a/b/', '/a/b/***'], exclude: ['*'] },
  { include: ['cache/keep/', 'f'], exclude: ['cache/'] },
  { include: ['/src/', '/src/cache/', '/src/cache/***'], exclude: ['/src/*', '/*'] },
  { include: ['tmp/'], exclude: ['*/'] },
];

/** rsync's file list lines: one name per line, raw bytes (-8), directories with a trailing '/' */
function names(out: Buffer): Set<BytePath> {
  const set = new Set<BytePath>();
  for (const line of fromBuffer(out).split('\n')) {
    let name = line;
    if (name === '' || name === './') continue;
    if (name.endsWith('/')) name = name.slice(0, -1);
    set.add(name);
  }
  return set;
}

const sorted = (s: Iterable<BytePath>) => [...s].map(display).sort();

/** every path beneath `root`, relative, as byte strings */
function walk(root: string, rel: BytePath = ''): BytePath[] {
  const out: BytePath[] = [];
  const dir = rel === '' ? toFs(fromText(root)) : toFs(`${fromText(root)}/${rel}`);
  for (const ent of readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })) {
    const path = joinRel(rel, fromBuffer(ent.name));
    out.push(path);
    if (ent.isDirectory()) out.push(...walk(root, path));
  }
  return out;
}

describe('the filter agrees with real rsync', { skip: !hasRsync && 'rsync not installed' }, () => {
  let tmp: string;
  let tree: string;
  let empty: string;
  let runs = 0;
  const entries = [
    ...DIRS.map((path) => ({ path, isDir: true })),
    ...FILES.map((path) => ({ path, isDir: false })),
  ];

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'syncward-filter-'));
    tree = join(tmp, 'tree');
    empty = join(tmp, 'empty');
    mkdirSync(tree);
    mkdirSync(empty);
    const root = fromText(tree);
    for (const d of DIRS) mkdirSync(toFs(`${root}/${d}`));
    for (const f of FILES) writeFileSync(toFs(`${root}/${f}`), 'x');
  });

  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const rules of RULE_SETS) {
    test(`include ${JSON.stringify(rules.include ?? [])} exclude ${JSON.stringify(rules.exclude)}`, () => {
      const f = new Filter(rules);
      const ours = new Set(entries.filter((e) => !f.excludes(e.path, e.isDir)).map((e) => e.path));

      // what a transfer of the tree sends
      const sent = spawnSync('rsync', [
        '-a',
        '-8',
        '--dry-run',
        '--out-format=%n',
        ...f.rsyncArgs(),
        `${tree}/`,
        join(tmp, 'nowhere/'),
      ]);
      assert.equal(sent.status, 0, sent.stderr.toString());
      assert.deepEqual(sorted(ours), sorted(names(sent.stdout)), 'sent by rsync vs not excluded by Filter');

      // what --delete removes from a target holding the tree when the source is
      // empty: rsync leaves excluded paths on the receiver alone, and so the
      // directories that hold them ("cannot delete non-empty directory")
      const holdsExcluded = (d: BytePath) =>
        entries.some((e) => e.path.startsWith(`${d}/`) && !ours.has(e.path));
      const deletable = entries
        .filter((e) => ours.has(e.path) && !(e.isDir && holdsExcluded(e.path)))
        .map((e) => e.path);
      // (a real run on a copy: --dry-run reports such a directory as deleted)
      const victim = join(tmp, `victim-${++runs}`);
      assert.equal(spawnSync('cp', ['-a', tree, victim]).status, 0);
      const del = spawnSync('rsync', ['-a', '--delete', ...f.rsyncArgs(), `${empty}/`, `${victim}/`]);
      assert.equal(del.status, 0, del.stderr.toString());
      const kept = entries.filter((e) => !deletable.includes(e.path)).map((e) => e.path);
      assert.deepEqual(
        sorted(kept),
        sorted(walk(victim)),
        'left on the target by rsync --delete vs excluded by Filter',
      );
      rmSync(victim, { recursive: true, force: true });
    });
  }
});
