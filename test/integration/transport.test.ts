import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Change } from '../../src/change/index.js';
import {
  buildBatchCall,
  buildFullSyncCall,
  type RsyncResult,
  RsyncTransport,
  runRsync,
  type SourceSpec,
  type TargetSpec,
} from '../../src/transport/index.js';
import { freePort } from '../helpers/ports.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { targetSpec } from '../helpers/targets.js';
import { compareTrees, makeTempDir } from '../helpers/tree.js';

const isRoot = process.getuid?.() === 0;

function write(root: string, rel: string | Buffer, content: string | Buffer = rel.toString()): void {
  const p = Buffer.concat([Buffer.from(`${root}/`), Buffer.isBuffer(rel) ? rel : Buffer.from(rel)]);
  writeFileSync(p, content);
}

function ok(r: RsyncResult): RsyncResult {
  assert.equal(r.exit.class, 'ok', `rsync exit ${r.code}: ${r.exit.message}\n${r.stderrTail}`);
  return r;
}

async function same(a: string, b: string): Promise<void> {
  const diffs = await compareTrees(a, b, { owner: isRoot });
  assert.deepEqual(diffs, []);
}

// Hostile names as raw bytes; each must be an ordinary file name to the transport.
const HOSTILE: Buffer[] = [
  'with space',
  'double"quote',
  "single'quote",
  'new\nline',
  '$HOME',
  '`id`',
  '-rf',
  '--delete',
  '*',
  '[ab]',
  'back\\slash',
  'café',
].map((s) => Buffer.from(s));
HOSTILE.push(Buffer.from([0xff, 0xfe]), Buffer.from([0x6e, 0x6f, 0x74, 0x80, 0x75, 0x74, 0x66]));

interface Kind {
  name: string;
  setup(): Promise<{ target: TargetSpec; dir: string; dispose(): Promise<void> }>;
}

let rsyncd: RsyncDaemon;

const kinds: Kind[] = [
  {
    name: 'a local directory',
    async setup() {
      const dir = await makeTempDir('syncward-transport-dst-');
      // --mkpath creates the missing level
      return {
        target: targetSpec(join(dir, 'mirror')),
        dir: join(dir, 'mirror'),
        dispose: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'an rsync daemon with auth',
    async setup() {
      const module = `m${Math.random().toString(36).slice(2, 8)}`;
      // the module directory exists; the URL path below it does not yet
      const target = targetSpec(`${rsyncd.url('www')}/${module}`, { passwordFile: rsyncd.passwordFile });
      const dir = join(rsyncd.modulePath('www'), module);
      return { target, dir, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
];

before(async () => {
  rsyncd = await startRsyncDaemon({ modules: ['www', 'other'] });
});
after(async () => {
  await rsyncd?.dispose();
});

for (const kind of kinds) {
  describe(`transport to ${kind.name}`, () => {
    let src: string;
    let dst: string;
    let target: TargetSpec;
    let dispose: () => Promise<void>;
    let source: SourceSpec;
    const batch = (changes: Change[], s: SourceSpec = source) =>
      runRsync(buildBatchCall(s, target, changes, { isRoot }), { timeoutMs: 30_000 });

    before(async () => {
      src = await makeTempDir('syncward-transport-src-');
      source = { root: src, filterArgs: ['--exclude=*.swp'], delete: true };
      ({ target, dir: dst, dispose } = await kind.setup());
      mkdirSync(join(src, 'dir/sub'), { recursive: true });
      write(src, 'top.txt', 'top\n');
      write(src, 'dir/a.txt', 'a'.repeat(10_000));
      write(src, 'dir/sub/b.txt', 'b\n');
      write(src, 'dir/sibling.txt', 'sibling\n');
      write(src, 'ignored.swp', 'swap\n');
    });
    after(async () => {
      await dispose();
      rmSync(src, { recursive: true, force: true });
    });

    test('a full sync creates the missing target directory and counts files and bytes', async () => {
      const r = ok(await runRsync(buildFullSyncCall(source, target, { isRoot }), { timeoutMs: 30_000 }));
      assert.equal(r.files, 4);
      assert.equal(r.stats.transferredSize, 4 + 10_000 + 2 + 8);
      assert.ok(r.bytes >= r.stats.transferredSize, `bytes sent ${r.bytes}`);
      assert.ok(!existsSync(join(dst, 'ignored.swp')), 'excluded file not sent');
      rmSync(join(src, 'ignored.swp'));
      await same(src, dst);
    });

    test('upserts send exactly the listed files; files and bytes are counted', async () => {
      write(src, 'top.txt', 'top, changed\n');
      write(src, 'dir/new.txt', 'new\n');
      const r = ok(
        await batch([
          { path: 'top.txt', op: 'upsert' },
          { path: 'dir/new.txt', op: 'upsert' },
        ]),
      );
      assert.equal(r.files, 2);
      assert.equal(r.stats.transferredSize, 13 + 4);
      await same(src, dst);
    });

    test('upsertTree of a new nested directory sends everything beneath it', async () => {
      mkdirSync(join(src, 'n/a/b/c'), { recursive: true });
      write(src, 'n/a/b/c/deep.txt', 'deep\n');
      write(src, 'n/a/mid.txt', 'mid\n');
      const r = ok(await batch([{ path: 'n', op: 'upsertTree' }]));
      assert.equal(r.files, 2);
      await same(src, dst);
    });

    test('deletes remove exactly the listed file and directory, siblings untouched', async () => {
      // a file only the target has, next to the deleted ones: a scoped delete must keep it
      write(dst, 'dir/target-only.txt', 'mine\n');
      rmSync(join(src, 'dir/sub'), { recursive: true });
      rmSync(join(src, 'dir/a.txt'));
      const r = ok(
        await batch([
          { path: 'dir/sub', op: 'delete' },
          { path: 'dir/a.txt', op: 'delete' },
        ]),
      );
      assert.equal(r.stats.deleted, 3);
      assert.ok(!existsSync(join(dst, 'dir/sub')));
      assert.ok(!existsSync(join(dst, 'dir/a.txt')));
      assert.equal(readFileSync(join(dst, 'dir/sibling.txt'), 'utf8'), 'sibling\n');
      assert.equal(readFileSync(join(dst, 'dir/target-only.txt'), 'utf8'), 'mine\n');
      rmSync(join(dst, 'dir/target-only.txt'));
      await same(src, dst);
    });

    test('the root listed as upsertTree mirrors the whole tree, deleting extras', async () => {
      write(dst, 'stray.txt', 'stray\n');
      ok(await batch([{ path: '', op: 'upsertTree' }]));
      assert.ok(!existsSync(join(dst, 'stray.txt')));
      await same(src, dst);
    });

    test('hostile names (quotes, newline, $, backtick, leading dash, *, non-UTF-8) are ordinary', async () => {
      mkdirSync(join(src, 'h'));
      for (const name of HOSTILE)
        write(join(src, 'h'), name, Buffer.concat([Buffer.from('content of '), name]));
      // a plain file named like a glob must not drag its look-alikes along
      write(join(src, 'h'), 'xab', 'glob look-alike\n');
      const changes: Change[] = HOSTILE.map((n) => ({ path: `h/${n.toString('latin1')}`, op: 'upsert' }));
      const r = ok(await batch(changes));
      assert.equal(r.files, HOSTILE.length);
      assert.ok(!existsSync(join(dst, 'h/xab')), '"*" and "[ab]" were not expanded');
      write(join(src, 'h'), 'xab', 'glob look-alike\n');
      ok(await batch([{ path: 'h/xab', op: 'upsert' }]));
      await same(src, dst);

      for (const name of HOSTILE) rmSync(Buffer.concat([Buffer.from(`${src}/h/`), name]));
      ok(await batch(changes.map((c) => ({ ...c, op: 'delete' as const }))));
      await same(src, dst);
      assert.ok(existsSync(join(dst, 'h/xab')));
    });

    test('delete: false keeps files the source no longer has', async () => {
      write(src, 'keep.txt', 'keep\n');
      ok(await batch([{ path: 'keep.txt', op: 'upsert' }]));
      rmSync(join(src, 'keep.txt'));
      mkdirSync(join(src, 'tree'));
      write(src, 'tree/t.txt', 't\n');
      mkdirSync(join(dst, 'tree'));
      write(dst, 'tree/extra.txt', 'extra\n');
      const keep = { ...source, delete: false };
      ok(
        await batch(
          [
            { path: 'keep.txt', op: 'delete' },
            { path: 'tree', op: 'upsertTree' },
          ],
          keep,
        ),
      );
      assert.equal(readFileSync(join(dst, 'keep.txt'), 'utf8'), 'keep\n');
      assert.equal(readFileSync(join(dst, 'tree/t.txt'), 'utf8'), 't\n');
      assert.equal(readFileSync(join(dst, 'tree/extra.txt'), 'utf8'), 'extra\n');
      const full = ok(await runRsync(buildFullSyncCall(keep, target, { isRoot }), { timeoutMs: 30_000 }));
      assert.equal(full.stats.deleted, 0);
      assert.ok(existsSync(join(dst, 'keep.txt')));
      // and a full sync with delete: true brings it back in line
      ok(await runRsync(buildFullSyncCall(source, target, { isRoot }), { timeoutMs: 30_000 }));
      await same(src, dst);
    });

    test('a dry run with itemized changes streams one line per difference and changes nothing', async () => {
      write(src, 'drift.txt', 'drift\n');
      const lines: string[] = [];
      const r = ok(
        await runRsync(buildFullSyncCall(source, target, { isRoot, dryRun: true, itemize: true }), {
          timeoutMs: 30_000,
          onStdoutLine: (l) => lines.push(l),
        }),
      );
      // "<" is a file sent to a remote, ">" one received locally
      assert.ok(
        lines.some((l) => /^[<>]f\+{9} drift\.txt$/.test(l)),
        lines.join('\n'),
      );
      assert.ok(!existsSync(join(dst, 'drift.txt')));
      assert.equal(r.stats.transferred, 1);
      rmSync(join(src, 'drift.txt'));
    });
  });
}

describe('transport failures are classified', () => {
  let src: string;
  before(async () => {
    src = await makeTempDir('syncward-transport-fail-src-');
    write(src, 'f', 'f\n');
  });
  after(() => rmSync(src, { recursive: true, force: true }));
  const source = () => ({ root: src, filterArgs: [], delete: true });
  const run = (t: TargetSpec, timeoutMs = 30_000, signal?: AbortSignal) =>
    runRsync(buildBatchCall(source(), t, [{ path: 'f', op: 'upsert' }], { isRoot }), { timeoutMs, signal });

  test('a wrong password is misconfigured, quoting the daemon', async () => {
    const dir = await makeTempDir('syncward-wrongpass-');
    const wrong = join(dir, 'pass');
    writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });
    try {
      const r = await run(targetSpec(rsyncd.url('other'), { passwordFile: wrong }));
      assert.equal(r.code, 5);
      assert.equal(r.exit.class, 'misconfigured');
      assert.match(r.exit.message, /auth failed on module other/);
      assert.match(r.exit.rsyncMessage, /@ERROR: auth failed on module other/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('RSYNC_PASSWORD in the environment works without a password file', async () => {
    const prev = process.env.RSYNC_PASSWORD;
    process.env.RSYNC_PASSWORD = rsyncd.password;
    try {
      ok(await run(targetSpec(rsyncd.url('other'))));
    } finally {
      if (prev === undefined) delete process.env.RSYNC_PASSWORD;
      else process.env.RSYNC_PASSWORD = prev;
    }
  });

  test('an unknown module is misconfigured', async () => {
    const r = await run(targetSpec(rsyncd.url('nosuchmodule'), { passwordFile: rsyncd.passwordFile }));
    assert.equal(r.code, 5);
    assert.equal(r.exit.class, 'misconfigured');
    assert.match(r.exit.message, /Unknown module 'nosuchmodule'/);
  });

  test('a closed port is transient', async () => {
    const port = await freePort();
    const r = await run(targetSpec(`rsync://u@127.0.0.1:${port}/m`, { passwordFile: rsyncd.passwordFile }));
    assert.equal(r.code, 10);
    assert.equal(r.exit.class, 'transient');
    assert.match(r.exit.message, /Connection refused/);
  });

  test('a server that never answers is killed at the call timeout and is transient', async () => {
    const port = await freePort();
    const sockets: import('node:net').Socket[] = [];
    const server: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      const r = await run(
        targetSpec(`rsync://u@127.0.0.1:${port}/m`, { passwordFile: rsyncd.passwordFile }),
        700,
      );
      assert.equal(r.exit.class, 'transient');
      assert.match(r.exit.message, /did not finish within/);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      const aborted = await run(
        targetSpec(`rsync://u@127.0.0.1:${port}/m`, { passwordFile: rsyncd.passwordFile }),
        30_000,
        ac.signal,
      );
      assert.equal(aborted.exit.class, 'transient');
      assert.match(aborted.exit.message, /cancelled/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  test('a restarted daemon (same port) is reachable again', async () => {
    await rsyncd.restart();
    ok(await run(targetSpec(rsyncd.url('other'), { passwordFile: rsyncd.passwordFile })));
  });

  test('rsync missing from PATH resolves as misconfigured instead of throwing', async () => {
    const call = buildBatchCall(source(), targetSpec('/nonexistent-target'), [], { isRoot });
    const r = await runRsync(
      { ...call, argv: ['syncward-no-such-rsync', ...call.argv.slice(1)] },
      { timeoutMs: 5000 },
    );
    assert.equal(r.exit.class, 'misconfigured');
    assert.match(r.exit.message, /not found on PATH; install rsync/);
  });
});

test('a file rewritten with the same size within the same second is still sent', async () => {
  const src = await makeTempDir('syncward-tr-mtime-src-');
  const dst = await makeTempDir('syncward-tr-mtime-dst-');
  try {
    const source: SourceSpec = { root: src, filterArgs: [], delete: true };
    const f = join(src, 'page');
    writeFileSync(f, 'version 1\n');
    const { utimesSync } = await import('node:fs');
    utimesSync(f, 1_700_000_000.1, 1_700_000_000.1);
    ok(
      await runRsync(buildBatchCall(source, targetSpec(dst), [{ path: 'page', op: 'upsert' }], { isRoot }), {
        timeoutMs: 20_000,
      }),
    );
    // same size, same second, 0.4 s later: rsync's default quick check would skip it
    writeFileSync(f, 'version 2\n');
    utimesSync(f, 1_700_000_000.5, 1_700_000_000.5);
    ok(
      await runRsync(buildBatchCall(source, targetSpec(dst), [{ path: 'page', op: 'upsert' }], { isRoot }), {
        timeoutMs: 20_000,
      }),
    );
    assert.equal(readFileSync(join(dst, 'page'), 'utf8'), 'version 2\n');
  } finally {
    rmSync(src, { recursive: true, force: true });
    rmSync(dst, { recursive: true, force: true });
  }
});

test('through the Transport: a dry run counts every entry a send would delete and changes nothing; a path left out is not sent, and one gone from the source does not keep its directory on the target', async () => {
  const src = await makeTempDir('syncward-tr-seam-src-');
  const dst = await makeTempDir('syncward-tr-seam-dst-');
  try {
    for (const d of ['d', 'd/e']) mkdirSync(join(src, d));
    for (const f of ['d/1', 'd/2', 'd/e/3', 'keep']) write(src, f);
    const source: SourceSpec = { root: src, filterArgs: [], delete: true };
    const t = new RsyncTransport({ source, target: targetSpec(dst), isRoot });
    assert.equal((await t.sendAll()).class, 'ok');
    rmSync(join(src, 'd'), { recursive: true });
    const gone: Change[] = [{ path: 'd', op: 'delete' }];
    const count = await t.countDeletes(gone);
    assert.equal(count.result.class, 'ok', count.result.message);
    // d, d/1, d/2, d/e, d/e/3: a directory counts with everything beneath it
    assert.equal(count.deletes, 5);
    assert.ok(existsSync(join(dst, 'd/e/3')), 'the dry run deleted nothing');
    assert.equal((await t.countDeletes('all')).deletes, 5);

    // left out: the full sync does not send the new file; a left-out path
    // gone from the source fails no listing and is not left out: left out, it
    // would keep d from being deleted on the target (a failing d/e/3 whose
    // directory was removed meanwhile)
    write(src, 'new');
    const partial = await t.sendAll({ leaveOut: new Set(['d/e/3', 'new']) });
    assert.equal(partial.class, 'ok', partial.message);
    assert.ok(!existsSync(join(dst, 'd')), 'd deleted: nothing of it is left on the source');
    assert.ok(!existsSync(join(dst, 'new')), 'new left out');
    // a batch that lists a left-out path sends it all the same
    const sent = await t.sendBatch([{ path: 'new', op: 'upsert' }], { leaveOut: new Set(['new']) });
    assert.equal(sent.result.class, 'ok', sent.result.message);
    await same(src, dst);

    // the same for a batch: deleting a directory whose failing file went with it
    mkdirSync(join(src, 'g'));
    write(src, 'g/x');
    assert.equal((await t.sendAll()).class, 'ok');
    rmSync(join(src, 'g'), { recursive: true });
    const del = await t.sendBatch([{ path: 'g', op: 'delete' }], { leaveOut: new Set(['g/x']) });
    assert.equal(del.result.class, 'ok', del.result.message);
    assert.ok(!existsSync(join(dst, 'g')), 'g deleted although g/x was left out');
  } finally {
    rmSync(src, { recursive: true, force: true });
    rmSync(dst, { recursive: true, force: true });
  }
});

test('through the Transport: an rsync that cannot be started is a misconfigured result, not a throw', async () => {
  const src = await makeTempDir('syncward-tr-seam-spawn-');
  try {
    const source: SourceSpec = { root: src, filterArgs: [], delete: true };
    // a NUL in an argument makes spawn itself throw, before any process exists
    const t = new RsyncTransport({
      source,
      target: targetSpec('/nonexistent-target', { rsyncArgs: ['--a\0b'] }),
      isRoot,
    });
    const r = await t.sendAll();
    assert.equal(r.class, 'misconfigured');
    assert.equal(r.code, null);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
});
