import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Daemon } from '../../src/daemon/index.js';
import { JournalReader } from '../../src/journal/index.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { type Sshd, startSshd } from '../helpers/sshd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/**
 * One source mirrored at once to an rsync daemon with auth, an ssh target and
 * a local directory; every operation of the issue must arrive identically on
 * all three.
 */
describe('real-time mirroring to a daemon, an ssh and a local target', () => {
  let rsyncd: RsyncDaemon;
  let sshd: Sshd;
  let src: string;
  let outside: string;
  let targets: TargetUnderTest[];
  let state: ReturnType<typeof tempStateDir>;
  let stop: () => Promise<void>;
  let daemon: Daemon;
  const cleanups: (() => unknown)[] = [];

  before(async () => {
    rsyncd = await startRsyncDaemon({ modules: ['www'] });
    sshd = await startSshd();
    src = await makeTempDir('syncward-src-');
    outside = await makeTempDir('syncward-outside-');
    const local = await makeTempDir('syncward-local-');
    const sshDir = await sshd.targetDir();
    state = tempStateDir();
    targets = [
      {
        name: 'daemon',
        url: rsyncd.url('www'),
        dir: rsyncd.modulePath('www'),
        passwordFile: rsyncd.passwordFile,
        owner: true,
      },
      {
        name: 'ssh',
        url: sshd.url(sshDir),
        dir: sshDir,
        identityFile: sshd.identityFile,
        sshOptions: sshd.sshOptions,
      },
      { name: 'local', url: local, dir: local, owner: true },
    ];
    writeFileSync(join(src, 'before-start.txt'), 'was here before syncward started\n');
    const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
    stop = d.dispose;
    daemon = d.daemon;
    cleanups.push(() => rmSync(src, { recursive: true, force: true }));
    cleanups.push(() => rmSync(outside, { recursive: true, force: true }));
    cleanups.push(() => rmSync(local, { recursive: true, force: true }));
  });

  after(async () => {
    await stop?.();
    await rsyncd?.dispose();
    await sshd?.dispose();
    for (const c of cleanups) await c();
    state?.dispose();
  });

  /** Waits until no target has a pending row: every delivered change cleared exactly its rows. */
  async function emptyJournal(): Promise<void> {
    const left = () => {
      const r = JournalReader.open(state.dir);
      if (!r) return ['no journal'];
      try {
        return daemon
          .status()
          .flatMap((s) =>
            s.targets.flatMap((t) =>
              r.pending(`${s.name}/${t.target}`).map((c) => `${t.target}: ${c.op} ${c.path}`),
            ),
          );
      } finally {
        r.close();
      }
    };
    await waitFor(() => left().length === 0, 30_000, 'an empty journal').catch((e: Error) => {
      throw new Error(`${e.message}; still pending:\n  ${left().slice(0, 20).join('\n  ')}`);
    });
  }

  test('the initial sync sends what existed before start', async () => {
    await converged(src, targets);
  });

  test('files: create, append, truncate, rewrite, chmod, touch, empty, delete', async () => {
    const f = join(src, 'file.txt');
    writeFileSync(f, 'one\n');
    writeFileSync(join(src, 'empty'), '');
    await converged(src, targets);
    appendFileSync(f, 'two\n');
    await converged(src, targets);
    truncateSync(f, 2);
    await converged(src, targets);
    writeFileSync(f, 'rewritten entirely\n');
    chmodSync(f, 0o600);
    await converged(src, targets);
    utimesSync(f, new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
    await converged(src, targets);
    unlinkSync(f);
    await converged(src, targets);
  });

  test('directories: mkdir, rmdir, rm -rf of a tree', async () => {
    mkdirSync(join(src, 'd1'));
    mkdirSync(join(src, 'd2/a/b'), { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(src, 'd2/a/b', `f${i}`), `content ${i}\n`);
    await converged(src, targets);
    rmSync(join(src, 'd1'), { recursive: true });
    rmSync(join(src, 'd2'), { recursive: true });
    await converged(src, targets);
  });

  test('symlinks made, retargeted and removed; hard links', async () => {
    writeFileSync(join(src, 'real'), 'real file\n');
    symlinkSync('real', join(src, 'link'));
    symlinkSync('/nonexistent/absolute', join(src, 'dangling'));
    linkSync(join(src, 'real'), join(src, 'hard'));
    await converged(src, targets);
    unlinkSync(join(src, 'link'));
    symlinkSync('other-target', join(src, 'link'));
    await converged(src, targets);
    unlinkSync(join(src, 'link'));
    unlinkSync(join(src, 'dangling'));
    await converged(src, targets);
  });

  test('a 100 MB file arrives complete', async () => {
    const fd = openSync(join(src, 'big.bin'), 'w');
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < 100; i++) {
      chunk.fill(i % 251);
      writeSync(fd, chunk);
    }
    closeSync(fd);
    await converged(src, targets, 120_000);
    rmSync(join(src, 'big.bin'));
    await converged(src, targets);
  });

  test('moves: a file and a directory within the tree, into and out of it', async () => {
    mkdirSync(join(src, 'm/sub'), { recursive: true });
    writeFileSync(join(src, 'm/sub/x'), 'x\n');
    writeFileSync(join(src, 'mv-me'), 'moving\n');
    await converged(src, targets);
    renameSync(join(src, 'mv-me'), join(src, 'm/moved'));
    renameSync(join(src, 'm'), join(src, 'm2'));
    await converged(src, targets);
    // writes inside the renamed directory arrive under its new name
    writeFileSync(join(src, 'm2/sub/after-rename'), 'after\n');
    await converged(src, targets);
    // into the tree from outside, with content
    mkdirSync(join(outside, 'incoming/deep'), { recursive: true });
    writeFileSync(join(outside, 'incoming/deep/f'), 'from outside\n');
    renameSync(join(outside, 'incoming'), join(src, 'incoming'));
    await converged(src, targets);
    writeFileSync(join(src, 'incoming/deep/g'), 'written after the move in\n');
    await converged(src, targets);
    // out of the tree: deleted on targets; later writes there are not mirrored
    renameSync(join(src, 'm2'), join(outside, 'gone'));
    await converged(src, targets);
    writeFileSync(join(outside, 'gone/ghost'), 'must not appear\n');
    await converged(src, targets);
    // what the coalescer merged into a delivered directory delete or tree
    // transfer (m/moved into the delete of m) leaves the journal too
    await emptyJournal();
  });

  test('git commits, tar extraction and a directory replaced by a file arrive; the journal ends empty', async () => {
    const sh = (script: string) => execFileSync('sh', ['-c', script, 'sh', src], { stdio: 'pipe' });
    // git writes each object to a temporary name, links it under its hash and
    // unlinks the temporary name; tar sets each directory's mode and times
    // last (IN_ATTRIB on the directory itself)
    sh(
      'cd "$1" && mkdir -p repo/src/api && cd repo && git init -q && for i in 1 2 3 4 5 6 7 8; do echo "v$i" > src/api/f$i; done && git add -A && git -c user.name=t -c user.email=t@t commit -qm one && echo more >> src/api/f1 && git -c user.name=t -c user.email=t@t commit -qam two',
    );
    sh(
      'cd "$1" && mkdir -p pack/a/b && echo p > pack/a/b/p && tar cf "$1/../t-$$.tar" -C "$1" pack && mkdir unpacked && tar xf "$1/../t-$$.tar" -C unpacked && rm "$1/../t-$$.tar"',
    );
    sh('cd "$1" && mkdir -p swap/d1/sub && echo x > swap/d1/sub/f');
    await converged(src, targets);
    sh('cd "$1" && rm -rf swap/d1 && echo now-a-file > swap/d1');
    await converged(src, targets);
    await emptyJournal();
  });

  test('mkdir -p races: files written right after mkdir -p arrive', async () => {
    execFileSync('sh', [
      '-c',
      'cd "$1" && for i in 1 2 3 4 5 6 7 8 9 10; do mkdir -p r$i/a/b/c && for j in 1 2 3 4 5 6 7 8 9 10; do echo $i$j > r$i/a/b/c/f$j; done; done',
      'sh',
      src,
    ]);
    await converged(src, targets);
  });
});
