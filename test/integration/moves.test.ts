import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Change } from '../../src/change/index.js';
import type { Daemon } from '../../src/daemon/index.js';
import type { TransferReport } from '../../src/dispatch/index.js';
import { JournalReader } from '../../src/journal/index.js';
import { RsyncTransport, type SourceSpec, type TargetSpec } from '../../src/transport/index.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { type Sshd, startSshd } from '../helpers/sshd.js';
import { rsyncdTarget, sshTarget, targetSpec } from '../helpers/targets.js';
import { compareTrees, makeTempDir, waitFor } from '../helpers/tree.js';

const isRoot = process.getuid?.() === 0;
const MB = 1024 * 1024;

/** `n` files of 1 MB of random bytes (nothing for rsync to compress or match by chance) in `dir`, one level nested. */
function fillDir(dir: string, n: number): void {
  mkdirSync(join(dir, 'nested'), { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(join(dir, i % 2 ? 'nested' : '', `part-${i}`), randomBytes(MB));
}

function inodeOf(path: string): string {
  const st = lstatSync(path, { bigint: true });
  return `${st.dev}:${st.ino}`;
}

async function exact(src: string, dst: string, owner: boolean): Promise<void> {
  assert.deepEqual(await compareTrees(src, dst, { exact: true, owner }), []);
}

function assertSmall(bytes: number, of: number, what: string): void {
  assert.ok(bytes < of / 100, `${what}: ${bytes} bytes sent for ${of} bytes moved (want < 1%)`);
}

interface Kind {
  name: string;
  /** compare owners (not on the ssh target, written by an unprivileged user) */
  owner: boolean;
  setup(): Promise<{ target: TargetSpec; dir: string }>;
}

let rsyncd: RsyncDaemon;
let sshd: Sshd;
const made: string[] = [];

const kinds: Kind[] = [
  {
    name: 'a local directory',
    owner: true,
    async setup() {
      const dir = await makeTempDir('syncward-moves-local-');
      made.push(dir);
      return { target: targetSpec(dir), dir };
    },
  },
  {
    name: 'an rsync daemon module with use chroot = yes',
    owner: true,
    async setup() {
      return {
        target: targetSpec(rsyncd.url('chroot'), { passwordFile: rsyncd.passwordFile }),
        dir: rsyncd.modulePath('chroot'),
      };
    },
  },
  {
    name: 'an rsync daemon module with use chroot = no',
    owner: true,
    async setup() {
      // the daemon then sanitizes --link-dest paths: "../old" must stay inside the module
      await rsyncd.setModuleOptions('plain', ['use chroot = no']);
      return {
        target: targetSpec(rsyncd.url('plain'), { passwordFile: rsyncd.passwordFile }),
        dir: rsyncd.modulePath('plain'),
      };
    },
  },
  {
    name: 'an ssh target',
    owner: false,
    async setup() {
      const dir = await sshd.targetDir();
      return {
        target: targetSpec(sshd.url(dir), { identityFile: sshd.identityFile, sshOptions: sshd.sshOptions }),
        dir,
      };
    },
  },
];

before(async () => {
  rsyncd = await startRsyncDaemon({ modules: ['chroot', 'plain', 'e2e', 'crash'] });
  sshd = await startSshd();
});
after(async () => {
  await rsyncd?.dispose();
  await sshd?.dispose();
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

for (const kind of kinds) {
  describe(`moves to ${kind.name}, through the transport`, () => {
    let src: string;
    let dst: string;
    let transport: RsyncTransport;

    before(async () => {
      src = await makeTempDir('syncward-moves-src-');
      made.push(src);
      fillDir(join(src, 'big'), 20);
      mkdirSync(join(src, 'x/y'), { recursive: true });
      mkdirSync(join(src, 'd'));
      writeFileSync(join(src, 'd/file.bin'), randomBytes(20 * MB));
      const t = await kind.setup();
      dst = t.dir;
      const source: SourceSpec = { root: src, filterArgs: ['--filter=- *.swp'], delete: true };
      transport = new RsyncTransport({ source, target: t.target, isRoot });
      const all = await transport.sendAll();
      assert.equal(all.class, 'ok', all.message);
      await exact(src, dst, kind.owner);
    });

    test('a directory renamed into another directory sends < 1% of it: its files are hard-linked from the old name', async (t) => {
      renameSync(join(src, 'big'), join(src, 'x/y/renamed'));
      const changes: Change[] = [
        { path: 'big', op: 'delete' },
        { path: 'x/y/renamed', op: 'upsertTree', from: 'big', inode: inodeOf(join(src, 'x/y/renamed')) },
      ];
      const { result } = await transport.sendBatch(changes);
      assert.equal(result.class, 'ok', result.message);
      t.diagnostic(`${result.bytes} bytes sent`);
      assertSmall(result.bytes, 20 * MB, 'directory');
      await exact(src, dst, kind.owner);
    });

    test('a file renamed in its directory sends < 1% of it: its old name is the delta basis', async (t) => {
      renameSync(join(src, 'd/file.bin'), join(src, 'd/renamed.bin'));
      const changes: Change[] = [
        { path: 'd/file.bin', op: 'delete' },
        { path: 'd/renamed.bin', op: 'upsert', from: 'd/file.bin' },
      ];
      const { result } = await transport.sendBatch(changes);
      assert.equal(result.class, 'ok', result.message);
      t.diagnostic(`${result.bytes} bytes sent`);
      assertSmall(result.bytes, 20 * MB, 'file');
      await exact(src, dst, kind.owner);
    });

    test('a file moved to another directory under its name sends < 1% of it; a look-alike moved beside it is not linked', async (t) => {
      writeFileSync(join(src, 'd/small'), randomBytes(4096));
      const warm = await transport.sendBatch([{ path: 'd/small', op: 'upsert' }]);
      assert.equal(warm.result.class, 'ok', warm.result.message);
      renameSync(join(src, 'd/renamed.bin'), join(src, 'x/renamed.bin'));
      // moved, then rewritten with other bytes of the same size and mtime: rsync's quick check cannot tell
      const mtime = statSync(join(src, 'd/small')).mtime;
      renameSync(join(src, 'd/small'), join(src, 'x/small'));
      writeFileSync(join(src, 'x/small'), randomBytes(4096));
      utimesSync(join(src, 'x/small'), mtime, mtime);
      const changes: Change[] = [
        { path: 'd/renamed.bin', op: 'delete' },
        { path: 'd/small', op: 'delete' },
        { path: 'x/renamed.bin', op: 'upsert', from: 'd/renamed.bin' },
        { path: 'x/small', op: 'upsert', from: 'd/small' },
      ];
      const { result } = await transport.sendBatch(changes);
      assert.equal(result.class, 'ok', result.message);
      t.diagnostic(`${result.bytes} bytes sent`);
      assertSmall(result.bytes, 20 * MB, 'file');
      assert.ok(result.bytes > 4096, 'the look-alike travelled');
      await exact(src, dst, kind.owner);
    });

    test('a "move" whose new directory is not the moved inode is a normal send, never linked to look-alikes', async () => {
      // the moved directory is replaced by another with files of the same size and mtime but other bytes:
      // hard-linking them from the old name would pass rsync's quick check and leave the old content
      const moved = join(src, 'again');
      renameSync(join(src, 'x/y/renamed'), moved);
      const inode = inodeOf(moved);
      const times = new Map<string, Date>();
      for (const name of ['part-0', 'part-2']) times.set(name, statSync(join(moved, name)).mtime);
      rmSync(moved, { recursive: true });
      mkdirSync(moved);
      for (const [name, mtime] of times) {
        writeFileSync(join(moved, name), randomBytes(MB));
        utimesSync(join(moved, name), mtime, mtime);
      }
      const { result } = await transport.sendBatch([
        { path: 'again', op: 'upsertTree', from: 'x/y/renamed', inode },
        { path: 'x/y/renamed', op: 'delete' },
      ]);
      assert.equal(result.class, 'ok', result.message);
      assert.ok(result.bytes >= 2 * MB, `sent ${result.bytes} bytes: the new content travelled`);
      await exact(src, dst, kind.owner);
    });
  });
}

/** The daemon end to end: the watcher pairs the move, the coalescer keeps it, the worker sends it. */
describe('a running daemon moves a directory and a file to a daemon, an ssh and a local target', () => {
  let src: string;
  let targets: TargetUnderTest[];
  let state: ReturnType<typeof tempStateDir>;
  let daemon: Daemon;
  let stop: () => Promise<void>;
  const transfers: TransferReport[] = [];

  before(async () => {
    src = await makeTempDir('syncward-moves-e2e-');
    made.push(src);
    const local = await makeTempDir('syncward-moves-e2e-local-');
    made.push(local);
    const sshDir = await sshd.targetDir();
    targets = [
      { ...rsyncdTarget(rsyncd, 'e2e'), owner: true },
      sshTarget(sshd, sshDir),
      { name: 'local', url: local, dir: local, owner: true },
    ];
    fillDir(join(src, 'site'), 20);
    mkdirSync(join(src, 'media'));
    writeFileSync(join(src, 'media/video.bin'), randomBytes(20 * MB));
    state = tempStateDir();
    const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
    daemon = d.daemon;
    stop = d.dispose;
    daemon.on('transfer', (r: TransferReport) => transfers.push(r));
    await converged(src, targets, 60_000);
  });
  after(async () => {
    await stop?.();
    state?.dispose();
  });

  async function emptyJournal(): Promise<void> {
    await waitFor(
      () => {
        const r = JournalReader.open(state.dir);
        if (!r) return false;
        try {
          return targets.every((t) => r.pending(`src/${t.name}`).length === 0);
        } finally {
          r.close();
        }
      },
      30_000,
      'an empty journal',
    );
  }

  test('renaming a 20 MB directory and a 20 MB file sends < 1% of their bytes to each target, which ends exact', async (t) => {
    transfers.length = 0;
    renameSync(join(src, 'site'), join(src, 'site-2'));
    renameSync(join(src, 'media/video.bin'), join(src, 'media/video-final.bin'));
    await converged(src, targets, 60_000, 'targets match source', { exact: true });
    await emptyJournal();
    for (const target of targets) {
      const bytes = transfers.filter((r) => r.target === target.name).reduce((n, r) => n + r.bytes, 0);
      t.diagnostic(`${target.name}: ${bytes} bytes sent for 40 MB moved`);
      assertSmall(bytes, 40 * MB, target.name);
    }
  });

  test('a directory renamed and replaced at once by a look-alike arrives with its own content', async () => {
    const times = ['part-0', 'part-2'].map((n) => statSync(join(src, 'site-2', n)).mtime);
    renameSync(join(src, 'site-2'), join(src, 'site-3'));
    rmSync(join(src, 'site-3'), { recursive: true });
    mkdirSync(join(src, 'site-3'));
    ['part-0', 'part-2'].forEach((n, i) => {
      const p = join(src, 'site-3', n);
      writeFileSync(p, randomBytes(MB));
      utimesSync(p, times[i] as Date, times[i] as Date);
    });
    await converged(src, targets, 60_000, 'targets match source', { exact: true });
    await emptyJournal();
  });
});

/**
 * A crash between the two steps: the daemon module refuses every transfer
 * but the link-dest one (its pre-xfer exec), so the new name arrives and
 * the batch that deletes the old one fails; syncward stops there, and a new
 * run, told not to catch up with a full sync, finishes from the journal.
 */
describe('a crash between the new name and the delete of the old one', () => {
  test('leaves the target complete, and a restart from the journal makes it exact', async () => {
    const src = await makeTempDir('syncward-moves-crash-');
    made.push(src);
    const base = await makeTempDir('syncward-moves-crash-gate-');
    made.push(base);
    const gate = join(base, 'closed');
    const script = join(base, 'pre-xfer.sh');
    // RSYNC_ARG0.. are the server's arguments as the daemon received them: --link-dest, then its value
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `[ -e '${gate}' ] || exit 0`,
        'env | grep -qx "RSYNC_ARG[0-9]*=--link-dest" && exit 0',
        'exit 1',
        '',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    await rsyncd.setModuleOptions('crash', [`pre-xfer exec = ${script}`]);
    const targets = [{ ...rsyncdTarget(rsyncd, 'crash'), owner: true }];
    fillDir(join(src, 'old'), 10);
    const state = tempStateDir();
    try {
      let d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
      const failed = new Promise<TransferReport>((resolve) =>
        d.daemon.on('transfer', (r: TransferReport) => {
          if (r.result !== 'ok') resolve(r);
        }),
      );
      await converged(src, targets, 60_000);
      writeFileSync(gate, '');
      renameSync(join(src, 'old'), join(src, 'new'));
      await failed;
      await d.dispose();
      // the new name is all there, the old one still too: nothing a reader of the target could miss
      assert.deepEqual(
        await compareTrees(join(src, 'new'), join(rsyncd.modulePath('crash'), 'new'), { owner: true }),
        [],
      );
      assert.deepEqual(
        await compareTrees(join(src, 'new'), join(rsyncd.modulePath('crash'), 'old'), { owner: true }),
        [],
      );
      const r = JournalReader.open(state.dir);
      const pending = r?.pending('src/daemon').map((c) => `${c.op} ${c.path}`);
      const full = r?.needsFull('src/daemon');
      r?.close();
      assert.deepEqual(pending?.sort(), ['delete old', 'upsertTree new']);
      // with initial_sync off, what the next run sends is these rows, not a full sync
      assert.equal(full, null);

      rmSync(gate);
      d = await startDaemon(
        configYaml({ stateDir: state.dir, source: src, targets, extra: '    initial_sync: false' }),
      );
      try {
        await converged(src, targets, 60_000, 'targets match source', { exact: true });
      } finally {
        await d.dispose();
      }
    } finally {
      state.dispose();
    }
  });
});
