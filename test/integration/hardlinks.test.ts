import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { type Sshd, startSshd } from '../helpers/sshd.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** Every group of names sharing one inode (files with more than one link), as sorted "a = b = c" lines. */
function linkGroups(root: string): string[] {
  const byInode = new Map<number, string[]>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, p));
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.nlink > 1) byInode.set(st.ino, [...(byInode.get(st.ino) ?? []), p]);
    }
  };
  walk('');
  return [...byInode.values()].map((names) => names.sort().join(' = ')).sort();
}

async function sameLinks(src: string, targets: TargetUnderTest[], what: string): Promise<void> {
  let last: string[] = [];
  await waitFor(
    () => {
      const want = linkGroups(src).join('\n');
      last = targets.filter((t) => linkGroups(t.dir).join('\n') !== want).map((t) => t.name);
      return last.length === 0;
    },
    30_000,
    `${what}: the targets' hard-link groups equal the source's`,
  ).catch((e: Error) => {
    throw new Error(
      `${e.message}; source:\n  ${linkGroups(src).join('\n  ')}\n${last
        .map((n) => `${n}:\n  ${linkGroups(targets.find((t) => t.name === n)?.dir ?? '').join('\n  ')}`)
        .join('\n')}`,
    );
  });
}

/**
 * Hard links made while syncward runs must arrive as links, not copies, on
 * every kind of target: rsync's -H only links names within one file list.
 */
describe('hard links made live reach daemon, ssh and local targets as links', () => {
  let rsyncd: RsyncDaemon;
  let sshd: Sshd;
  let src: string;
  let targets: TargetUnderTest[];
  let state: ReturnType<typeof tempStateDir>;
  let stop: () => Promise<void>;
  const dirs: string[] = [];

  before(async () => {
    rsyncd = await startRsyncDaemon({ modules: ['www'] });
    sshd = await startSshd();
    src = await makeTempDir('syncward-links-src-');
    const local = await makeTempDir('syncward-links-local-');
    dirs.push(src, local);
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
    // files with one link each, and one group that exists before the start
    mkdirSync(join(src, 'edit'));
    for (let i = 1; i <= 20; i++) writeFileSync(join(src, 'edit', `f${i}.txt`), `file ${i}\n`);
    mkdirSync(join(src, 'old'));
    writeFileSync(join(src, 'old/a'), 'linked before the start\n');
    execFileSync('ln', [join(src, 'old/a'), join(src, 'old/b')]);
    const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
    stop = d.dispose;
    await converged(src, targets);
    await sameLinks(src, targets, 'after the startup sync');
  });

  after(async () => {
    await stop?.();
    await rsyncd?.dispose();
    await sshd?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    state?.dispose();
  });

  test('ln of an existing file into another directory', async () => {
    mkdirSync(join(src, 'links'));
    execFileSync('ln', [join(src, 'edit/f1.txt'), join(src, 'links/f1-hl')]);
    await converged(src, targets);
    await sameLinks(src, targets, 'ln edit/f1.txt links/f1-hl');
  });

  test('cp -al of a directory of single-link files', async () => {
    execFileSync('cp', ['-al', join(src, 'edit'), join(src, 'edit_snap')]);
    await converged(src, targets);
    await sameLinks(src, targets, 'cp -al edit edit_snap');
  });

  test('a linked file rewritten in place changes every name on the targets, and they stay linked', async () => {
    writeFileSync(join(src, 'edit/f2.txt'), 'rewritten through one name\n');
    writeFileSync(join(src, 'old/a'), 'the pre-existing group, rewritten\n');
    await converged(src, targets);
    await sameLinks(src, targets, 'a rewrite through one name');
  });

  test('one name of a group removed, another renamed', async () => {
    rmSync(join(src, 'links/f1-hl'));
    execFileSync('mv', [join(src, 'edit_snap/f3.txt'), join(src, 'edit_snap/f3-renamed.txt')]);
    await converged(src, targets);
    await sameLinks(src, targets, 'rm and mv of linked names');
  });

  /*
   * A change made through a second name reaches the inode every name shares.
   * When that name is gone before syncward reads its events, the change is
   * told by the other names only: each step below runs before the daemon
   * reads a single event (this test shares its process), so inotify cannot
   * look at the new name at all.
   */
  test('a chown through a second name in a watched directory, then that directory removed, reaches the first name', async () => {
    mkdirSync(join(src, 'chown/release/snap sp ace/d'), { recursive: true });
    writeFileSync(join(src, 'chown/mv'), 'owned by root, then not\n');
    await converged(src, targets, 30_000, 'the files and the directory are there', { exact: true });
    const hl = join(src, 'chown/release/snap sp ace/d/hl');
    linkSync(join(src, 'chown/mv'), hl);
    chownSync(hl, 1002, 1002);
    rmSync(join(src, 'chown/release/snap sp ace'), { recursive: true });
    await converged(src, targets, 30_000, 'chown through a removed link', { exact: true });
  });

  test('a chown through a second name in a directory made by cp -al just before, removed again, reaches the first name', async () => {
    mkdirSync(join(src, 'snap/base/d'), { recursive: true });
    mkdirSync(join(src, 'snap/release'));
    writeFileSync(join(src, 'snap/base/d/f'), 'copied with cp -al\n');
    writeFileSync(join(src, 'snap/mv'), 'owned by root, then not\n');
    await converged(src, targets, 30_000, 'the files are there', { exact: true });
    const copy = join(src, 'snap/release/snap sp ace');
    execFileSync('cp', ['-al', join(src, 'snap/base'), copy]);
    linkSync(join(src, 'snap/mv'), join(copy, 'd/hl'));
    chownSync(join(copy, 'd/hl'), 1001, 1002);
    rmSync(copy, { recursive: true });
    await converged(src, targets, 30_000, 'chown through a link in a short-lived copy', { exact: true });
  });

  test('a chmod, a touch -d and a write through second names that are removed at once reach the first names', async () => {
    mkdirSync(join(src, 'via/d'), { recursive: true });
    for (const f of ['mode', 'time', 'data']) writeFileSync(join(src, 'via', f), `${f}, one name\n`);
    await converged(src, targets, 30_000, 'the files are there', { exact: true });
    const hl = (f: string) => join(src, 'via/d', `${f}-hl`);
    for (const f of ['mode', 'time', 'data']) linkSync(join(src, 'via', f), hl(f));
    chmodSync(hl('mode'), 0o600);
    const t = new Date(Date.UTC(2021, 4, 6, 7, 8, 9, 123));
    utimesSync(hl('time'), t, t);
    writeFileSync(hl('data'), 'written through the other name, which goes\n');
    for (const f of ['mode', 'time', 'data']) rmSync(hl(f));
    await converged(src, targets, 30_000, 'changes through removed links', { exact: true });
  });
});
