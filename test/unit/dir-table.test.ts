import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DirRef, DirTable, NO_DIR } from '../../src/watch/dir-table.js';
import { rng } from '../helpers/rng.js';

test('directories are found by wd and by parent and name, and their paths follow renames of their ancestors', () => {
  const t = new DirTable();
  const root = t.add(NO_DIR, '', 1);
  const a = t.add(root, 'a', 2);
  const b = t.add(a, 'b', 3);
  const c = t.add(b, '\xff\xfe c', 4);
  assert.equal(t.size, 4);
  assert.equal(t.pathOf(root), '');
  assert.equal(t.pathOf(c), 'a/b/\xff\xfe c');
  assert.equal(t.byWd(3), b);
  assert.equal(t.byWd(9), NO_DIR);
  assert.equal(t.child(a, 'b'), b);
  assert.equal(t.child(a, 'c'), NO_DIR);
  assert.equal(t.parent(b), a);
  assert.equal(t.parent(root), NO_DIR);
  t.attach(a, root, 'renamed');
  assert.equal(t.pathOf(c), 'renamed/b/\xff\xfe c');
  assert.equal(t.child(root, 'a'), NO_DIR);
  assert.equal(t.child(root, 'renamed'), a);
  assert.ok(t.within(c, a) && t.within(c, c) && !t.within(a, c));
});

test('a dropped directory and everything beneath it are forgotten, and a reference kept to one is stale', () => {
  const t = new DirTable();
  const root = t.add(NO_DIR, '', 1);
  const a = t.add(root, 'a', 2);
  const b = t.add(a, 'b', 3);
  t.add(b, 'c', 4);
  const forgotten: number[] = [];
  t.drop(a, (wd) => forgotten.push(wd));
  assert.deepEqual(forgotten.sort(), [2, 3, 4]);
  assert.equal(t.size, 1);
  assert.ok(!t.live(b) && !t.known(b));
  assert.equal(t.byWd(3), NO_DIR);
  assert.equal(t.child(root, 'a'), NO_DIR);
  // the slots are reused: the old references do not name the new directories
  const x = t.add(root, 'x', 5);
  const y = t.add(x, 'y', 6);
  assert.ok(x !== a && y !== a && x !== b && y !== b);
  assert.ok(!t.known(a) && !t.known(b) && t.live(x) && t.live(y));
  assert.throws(() => t.pathOf(b), /stale/);
});

test('a directory whose watch the kernel removed keeps the paths of what lies beneath it until that is gone too', () => {
  const t = new DirTable();
  const root = t.add(NO_DIR, '', 1);
  const a = t.add(root, 'a', 2);
  const b = t.add(a, 'b', 3);
  t.detach(a);
  assert.ok(!t.live(a) && t.known(a));
  assert.equal(t.child(root, 'a'), NO_DIR);
  assert.equal(t.pathOf(b), 'a/b');
  assert.equal(t.child(a, 'b'), b);
  t.drop(b, () => {});
  assert.ok(!t.known(a), 'its slot is reused once nothing beneath names it');
});

test('a directory linked under a name another had keeps watching, unlinked, as a Map set() left it', () => {
  const t = new DirTable();
  const root = t.add(NO_DIR, '', 1);
  const first = t.add(root, 'n', 2);
  const second = t.add(root, 'n', 3);
  assert.equal(t.child(root, 'n'), second);
  assert.ok(t.live(first));
  assert.equal(t.pathOf(first), 'n');
  const forgotten: number[] = [];
  t.drop(root, (wd) => forgotten.push(wd));
  assert.deepEqual(forgotten.sort(), [1, 3], 'a drop reaches only what is linked');
  assert.ok(t.live(first));
});

test('names stay right when the bytes of released names are compacted away', () => {
  const t = new DirTable();
  const root = t.add(NO_DIR, '', 1);
  const dirs = Array.from({ length: 10 }, (_, i) => t.add(root, `d${i}`, i + 2));
  const inner = t.add(dirs[3] as DirRef, 'inner', 99);
  // 2,000 renames of 200-byte names release 400 KB: far more than is in use
  const long = (i: number, round: number) => `${String(round).padStart(200, '\xe9')}-${i}`;
  for (let round = 0; round < 200; round++)
    dirs.forEach((d, i) => {
      t.attach(d, root, long(i, round));
    });
  dirs.forEach((d, i) => {
    assert.equal(t.child(root, long(i, 199)), d);
    assert.ok(t.nameIs(d, long(i, 199)));
  });
  assert.equal(t.pathOf(inner), `${long(3, 199)}/inner`);
  assert.equal(t.child(root, long(0, 198)), NO_DIR);
});

/**
 * The table against a model of what it replaced: an object per directory
 * with a Map of its children, and a Map from wd.
 */
interface Node {
  wd: number;
  name: string;
  parent: Node | null;
  children: Map<string, Node> | null;
}

class Model {
  byWd = new Map<number, Node>();
  live(n: Node): boolean {
    return this.byWd.get(n.wd) === n;
  }
  path(n: Node): string {
    const parts: string[] = [];
    for (let m: Node | null = n; m?.parent; m = m.parent) parts.push(m.name);
    return parts.reverse().join('/');
  }
  within(n: Node, a: Node): boolean {
    for (let m: Node | null = n; m; m = m.parent) if (m === a) return true;
    return false;
  }
  unlink(n: Node): void {
    const p = n.parent;
    if (p?.children?.get(n.name) === n) {
      p.children.delete(n.name);
      if (p.children.size === 0) p.children = null;
    }
  }
  attach(n: Node, p: Node, name: string): void {
    this.unlink(n);
    n.parent = p;
    n.name = name;
    if (!p.children) p.children = new Map();
    p.children.set(name, n);
  }
  drop(n: Node, forgotten: number[]): void {
    this.unlink(n);
    const stack = [n];
    while (stack.length > 0) {
      const m = stack.pop() as Node;
      if (m.children) for (const c of m.children.values()) stack.push(c);
      m.children = null;
      if (this.byWd.get(m.wd) === m) {
        this.byWd.delete(m.wd);
        forgotten.push(m.wd);
      }
    }
  }
}

test('random adds, renames, unlinks, watch removals and drops: the table answers as the objects and Maps did', (ctx) => {
  const seed = Number(process.env.DIR_TABLE_SEED ?? Date.now() % 1_000_000);
  ctx.diagnostic(`seed ${seed} (rerun with DIR_TABLE_SEED=${seed})`);
  const rand = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  // few short names, so names collide; some long ones, so released name bytes pile up and get compacted
  const names = ['a', 'b', 'c', 'd', '\xe9', '\xff x'];
  const name = () => (rand() < 0.1 ? `${'long'.repeat(40)}${Math.floor(rand() * 5)}` : pick(names));
  const t = new DirTable();
  const m = new Model();
  let wd = 1;
  const rootNode: Node = { wd, name: '', parent: null, children: null };
  m.byWd.set(wd, rootNode);
  const pairs: Array<[DirRef, Node]> = [[t.add(NO_DIR, '', wd), rootNode]];
  const refOf = new Map<Node, DirRef>(pairs.map(([r, n]) => [n, r]));
  const livePairs = () => pairs.filter(([, n]) => m.live(n));
  for (let step = 0; step < 4000; step++) {
    const live = livePairs();
    const [ref, node] = pick(live);
    const op = rand();
    const what = `seed ${seed} step ${step}`;
    if (op < 0.45 || live.length < 3) {
      const n = name();
      wd++;
      const child: Node = { wd, name: n, parent: null, children: null };
      m.byWd.set(wd, child);
      m.attach(child, node, n);
      const r = t.add(ref, n, wd);
      pairs.push([r, child]);
      refOf.set(child, r);
    } else if (node === rootNode) {
      continue;
    } else if (op < 0.65) {
      const [pref, pnode] = pick(live);
      if (m.within(pnode, node)) continue;
      const n = name();
      m.attach(node, pnode, n);
      t.attach(ref, pref, n);
    } else if (op < 0.75) {
      m.unlink(node);
      t.unlink(ref);
    } else if (op < 0.85) {
      m.byWd.delete(node.wd);
      m.unlink(node);
      t.detach(ref);
    } else {
      const want: number[] = [];
      const got: number[] = [];
      m.drop(node, want);
      t.drop(ref, (w) => got.push(w));
      assert.deepEqual(got.sort(), want.sort(), what);
    }
    assert.equal(t.size, m.byWd.size, what);
    // every directory now and then, a few at each step
    for (const [r, n] of step % 100 === 0 ? pairs : [pick(pairs), pick(pairs), pick(pairs)]) {
      assert.equal(t.live(r), m.live(n), `${what}: live`);
      if (!t.known(r)) {
        assert.ok(!m.live(n), `${what}: a live directory's reference went stale`);
        continue;
      }
      assert.equal(t.pathOf(r), m.path(n), `${what}: path`);
      assert.equal(t.wd(r), n.wd, `${what}: wd`);
      if (m.live(n)) assert.equal(t.byWd(n.wd), r, `${what}: by wd`);
      for (const x of [...names, `${'long'.repeat(40)}0`]) {
        const c = n.children?.get(x);
        assert.equal(t.child(r, x), c ? refOf.get(c) : NO_DIR, `${what}: child`);
      }
    }
    const now = livePairs();
    const [a, an] = pick(now);
    const [b, bn] = pick(now);
    assert.equal(t.within(a, b), m.within(an, bn), `${what}: within`);
  }
});
