import assert from 'node:assert/strict';
import {
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HardLinks } from '../../src/watch/hardlinks.js';
import type { FsEvent } from '../../src/watch/types.js';
import { waitFor } from '../helpers/tree.js';

// A real tree and HardLinks fed the watcher's events by hand: the kernel is not
// mocked, only the order in which its events reach this stage.

function upserts(events: FsEvent[]): string[] {
  return events
    .filter((e) => e.kind === 'upsert')
    .map((e) => e.path)
    .sort();
}

test("a name HardLinks still holds after its file went away does not stand in for the group's real names", async () => {
  const root = mkdtempSync(join(tmpdir(), 'syncward-hl-'));
  const links = new HardLinks(root, () => false);
  const scanned: FsEvent[][] = [];
  links.on('events', (b: FsEvent[]) => scanned.push(b));
  try {
    for (const d of ['a', 'b', 'c', 'd']) mkdirSync(join(root, d));
    writeFileSync(join(root, 'a/x'), 'one inode\n');
    linkSync(join(root, 'a/x'), join(root, 'b/y'));
    links.expand([{ kind: 'upsert', path: 'b/y', isDir: false, links: 2 }]);
    await waitFor(() => scanned.length > 0, 5_000, 'the scan that completes the group');
    assert.deepEqual(upserts(scanned.flat()), ['a/x', 'b/y']);
    scanned.length = 0;

    // b/y moves to c/z and a/x goes; HardLinks hears only of b/y leaving (a
    // scan that read a/x before its delete puts it back the same way)
    renameSync(join(root, 'b/y'), join(root, 'c/z'));
    unlinkSync(join(root, 'a/x'));
    links.expand([{ kind: 'delete', path: 'b/y', isDir: false }]);
    // then a new link to the file: two links, and two names known (a/x, d/w)
    linkSync(join(root, 'c/z'), join(root, 'd/w'));
    const out = links.expand([{ kind: 'upsert', path: 'd/w', isDir: false, links: 2 }]);
    assert.deepEqual(upserts(out), ['d/w'], 'the gone name is not sent as a partner');
    await waitFor(() => scanned.length > 0, 5_000, 'a scan for the names not known');
    assert.deepEqual(upserts(scanned.flat()), ['c/z', 'd/w'], 'the group goes whole, with its real names');
  } finally {
    links.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a file written through a second name that is gone again before the scan is sent by its remaining name', async () => {
  const root = mkdtempSync(join(tmpdir(), 'syncward-hl-'));
  const links = new HardLinks(root, () => false);
  const scanned: FsEvent[][] = [];
  links.on('events', (b: FsEvent[]) => scanned.push(b));
  try {
    writeFileSync(join(root, 'f'), 'first\n');
    linkSync(join(root, 'f'), join(root, 'g'));
    // ln f g: the watcher knows g only, so a scan is due for the other name
    const out = links.expand([{ kind: 'upsert', path: 'g', isDir: false, links: 2 }]);
    assert.deepEqual(upserts(out), ['g']);
    // before the scan reads the tree: echo new > g; rm g
    writeFileSync(join(root, 'g'), 'written through g\n');
    unlinkSync(join(root, 'g'));
    links.expand([{ kind: 'upsert', path: 'g', isDir: false }]);
    links.expand([{ kind: 'delete', path: 'g', isDir: false }]);
    await waitFor(() => scanned.flat().some((e) => e.path === 'f'), 5_000, 'f sent by the scan').catch(
      (e: Error) => {
        throw new Error(`${e.message}; the scans sent ${JSON.stringify(scanned)}`);
      },
    );
    assert.equal(links.size, 0, 'a file with one link is not remembered');
  } finally {
    links.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a linked file whose name HardLinks never saw linked (moved into a new directory) and that is written through it, then removed, is sent by its other name', async () => {
  const root = mkdtempSync(join(tmpdir(), 'syncward-hl-'));
  const links = new HardLinks(root, () => false);
  const scanned: FsEvent[][] = [];
  links.on('events', (b: FsEvent[]) => scanned.push(b));
  try {
    mkdirSync(join(root, 'new'));
    writeFileSync(join(root, 'f'), 'first\n');
    // ln f g; mv g new/h: the watcher saw g leave but never saw h arrive
    // (new/ was not watched yet), so nothing knows h is linked
    linkSync(join(root, 'f'), join(root, 'new/h'));
    // then h is rewritten: the close of h is all HardLinks hears
    writeFileSync(join(root, 'new/h'), 'written through h\n');
    const out = links.expand([
      { kind: 'write', path: 'new/h', isDir: false },
      { kind: 'upsert', path: 'new/h', isDir: false },
    ]);
    unlinkSync(join(root, 'new/h'));
    links.expand([{ kind: 'delete', path: 'new/h', isDir: false }]);
    // f's content changed with no event of its own: a scan must name it
    await waitFor(
      () => upserts([...out, ...scanned.flat()]).includes('f'),
      5_000,
      'f sent (its content was written through new/h)',
    );
  } finally {
    links.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a link made while a scan walks, to a file the walk already counted with one link, is not forgotten: the group goes whole', async () => {
  const root = mkdtempSync(join(tmpdir(), 'syncward-hl-'));
  let linkDuringWalk: (() => void) | null = null;
  // the filter is asked about each entry as the walk reads it: the link is
  // made once the walk is past the root, where it read a with one link
  const links = new HardLinks(root, (rel) => {
    if (rel.startsWith('sub/') && linkDuringWalk) {
      const f = linkDuringWalk;
      linkDuringWalk = null;
      f();
    }
    return false;
  });
  const scanned: FsEvent[][] = [];
  links.on('events', (b: FsEvent[]) => scanned.push(b));
  try {
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'sub/x'), 'x\n');
    writeFileSync(join(root, 'a'), 'a\n');
    // a's inode is wanted: a second name came and went (ln a t; rm t)
    linkSync(join(root, 'a'), join(root, 't'));
    links.expand([{ kind: 'upsert', path: 't', isDir: false, links: 2 }]);
    unlinkSync(join(root, 't'));
    links.expand([{ kind: 'delete', path: 't', isDir: false }]);
    linkDuringWalk = () => {
      linkSync(join(root, 'a'), join(root, 'b'));
      links.expand([{ kind: 'upsert', path: 'b', isDir: false, links: 2 }]);
    };
    await waitFor(
      () => {
        const sent = upserts(scanned.flat());
        return sent.includes('a') && sent.includes('b') && scanned.some((s) => upserts(s).join() === 'a,b');
      },
      5_000,
      'a and b emitted together by a scan',
    );
    assert.equal(linkDuringWalk, null, 'the link was made during a walk');
  } finally {
    links.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/** A HardLinks on a fresh tree, and every batch its scans send. */
function linksOn(prefix = 'syncward-hl-') {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const links = new HardLinks(root, () => false);
  const scanned: Array<{ at: number; events: FsEvent[] }> = [];
  links.on('events', (b: FsEvent[]) => scanned.push({ at: Date.now(), events: b }));
  const sent = () => scanned.flatMap((s) => s.events);
  const dispose = () => {
    links.close();
    rmSync(root, { recursive: true, force: true });
  };
  return { root, links, scanned, sent, dispose };
}

const keyOf = (path: string) => {
  const st = lstatSync(path);
  return `${st.dev}:${st.ino}`;
};

test('a file changed through a name removed before its event was read, told by its inode alone (fanotify), is sent by its remaining name', async () => {
  const { root, links, sent, dispose } = linksOn();
  try {
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'f'), 'one link\n');
    // ln f d/hl; chmod through d/hl; rm -r d: the watcher has the inode, no name
    linkSync(join(root, 'f'), join(root, 'd/hl'));
    const key = keyOf(join(root, 'f'));
    rmSync(join(root, 'd'), { recursive: true });
    links.expand([], { unseen: [key] });
    await waitFor(() => upserts(sent()).includes('f'), 5_000, 'f sent by the scan');
    assert.equal(links.size, 0, 'a file back to one link is not remembered');
  } finally {
    dispose();
  }
});

test('an inode told of by the watcher whose names are known sends them at once', async () => {
  const { root, links, scanned, dispose } = linksOn();
  try {
    writeFileSync(join(root, 'a'), 'a group\n');
    linkSync(join(root, 'a'), join(root, 'b'));
    links.expand([{ kind: 'upsert', path: 'b', isDir: false, links: 2 }]);
    await waitFor(() => scanned.length > 0, 5_000, 'the scan that completes the group');
    // a third name came, carried a change and went, all unseen
    linkSync(join(root, 'a'), join(root, 'c'));
    unlinkSync(join(root, 'c'));
    const out = links.expand([], { unseen: [keyOf(join(root, 'a'))] });
    assert.deepEqual(upserts(out), ['a', 'b']);
  } finally {
    dispose();
  }
});

test('inotify: a name changed, then deleted before it was looked at, makes the next walk send every file changed since its events were queued, as written', async () => {
  const { root, links, sent, dispose } = linksOn();
  try {
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'old'), 'changed well before\n');
    writeFileSync(join(root, 'f'), 'one link\n');
    // ctime is coarse: a sweep looks a second further back than its events
    await sleep(1_200);
    const since = Date.now();
    linkSync(join(root, 'f'), join(root, 'd/hl'));
    writeFileSync(join(root, 'd/hl'), 'written through d/hl\n');
    unlinkSync(join(root, 'd/hl'));
    // IN_CLOSE_WRITE d/hl (gone when looked at), then IN_DELETE d/hl
    const out = links.expand([{ kind: 'upsert', path: 'd/hl', isDir: false }], { since });
    assert.deepEqual(upserts(out), ['d/hl'], 'nothing more is known yet');
    links.expand([{ kind: 'delete', path: 'd/hl', isDir: false }], { since });
    await waitFor(() => sent().some((e) => e.path === 'f'), 5_000, 'f sent by the sweep');
    const f = sent().find((e) => e.path === 'f');
    // as a write: sent at its close if something still writes it, else within max_wait_ms
    assert.equal(f?.kind, 'write');
    assert.ok(!sent().some((e) => e.path === 'old'), 'a file changed before the events is not sent');
  } finally {
    dispose();
  }
});

test('inotify: a new directory gone before its scan makes the next walk a sweep, and sweeps are not back to back', async () => {
  const { root, links, scanned, sent, dispose } = linksOn();
  try {
    writeFileSync(join(root, 'f'), 'one link\n');
    writeFileSync(join(root, 'g'), 'one link\n');
    const since = Date.now();
    // cp -al base snap; ln f snap/d/hl; chown through it; rm -rf snap: only snap's
    // IN_CREATE and IN_DELETE were read, the watch on it came too late
    mkdirSync(join(root, 'snap/d'), { recursive: true });
    linkSync(join(root, 'f'), join(root, 'snap/d/hl'));
    rmSync(join(root, 'snap'), { recursive: true });
    links.expand(
      [
        { kind: 'upsertTree', path: 'snap', isDir: true },
        { kind: 'delete', path: 'snap', isDir: true },
      ],
      { since },
    );
    await waitFor(() => sent().some((e) => e.path === 'f'), 5_000, 'f sent by the sweep');
    const first = scanned.length;
    // the same again at once: the second whole walk waits its turn
    mkdirSync(join(root, 'snap2'));
    linkSync(join(root, 'g'), join(root, 'snap2/hl'));
    rmSync(join(root, 'snap2'), { recursive: true });
    links.expand([{ kind: 'upsertTree', path: 'snap2', isDir: true }], { since: Date.now() - 100 });
    await waitFor(
      () => scanned.slice(first).some((s) => s.events.some((e) => e.path === 'g')),
      5_000,
      'g sent',
    );
    const gap = (scanned.at(-1)?.at ?? 0) - (scanned[first - 1]?.at ?? 0);
    assert.ok(gap >= 900, `the second sweep came ${gap} ms after the first`);
  } finally {
    dispose();
  }
});

test('a batch is completed with the other names of the linked files it sends: those of an upsert, and those outside a tree of the files inside it', async () => {
  const root = mkdtempSync(join(tmpdir(), 'syncward-hl-'));
  const links = new HardLinks(root, () => false);
  const scanned: FsEvent[][] = [];
  links.on('events', (b: FsEvent[]) => scanned.push(b));
  try {
    for (const d of ['a', 'snap']) mkdirSync(join(root, d));
    writeFileSync(join(root, 'a/x'), 'linked\n');
    writeFileSync(join(root, 'a/solo'), 'one link\n');
    linkSync(join(root, 'a/x'), join(root, 'y'));
    linkSync(join(root, 'a/x'), join(root, 'snap/x'));
    links.start();
    await waitFor(() => links.size === 3, 5_000, 'the first scan knows the group');

    assert.deepEqual(links.companions([{ path: 'y', op: 'upsert' }]).sort(), ['a/x', 'snap/x']);
    assert.deepEqual(
      links.companions([{ path: 'a/solo', op: 'upsert' }]),
      [],
      'a file with one link brings nothing',
    );
    assert.deepEqual(links.companions([{ path: 'y', op: 'delete' }]), [], 'a delete brings nothing');
    // `cp -al a snap` sent as a tree while the outer names wait in the queue: the tree brings them
    assert.deepEqual(links.companions([{ path: 'snap', op: 'upsertTree' }]).sort(), ['a/x', 'y']);
    assert.deepEqual(
      links.companions([
        { path: 'a', op: 'upsertTree' },
        { path: 'y', op: 'upsert' },
      ]),
      ['snap/x'],
      'names the batch sends already (listed or beneath its trees) are not added',
    );
    assert.deepEqual(links.companions([{ path: '', op: 'upsertTree' }]), [], 'the whole tree has every name');

    // a name gone since it was learned is not sent, and the group is looked for again
    scanned.length = 0;
    unlinkSync(join(root, 'snap/x'));
    assert.deepEqual(links.companions([{ path: 'y', op: 'upsert' }]), ['a/x']);
    await waitFor(() => scanned.length > 0, 5_000, 'the scan that finds the group again');
    assert.deepEqual(upserts(scanned.flat()), ['a/x', 'y']);
  } finally {
    links.close();
    rmSync(root, { recursive: true, force: true });
  }
});
