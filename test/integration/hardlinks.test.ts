import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
      },
      {
        name: 'ssh',
        url: sshd.url(sshDir),
        dir: sshDir,
        identityFile: sshd.identityFile,
        sshOptions: sshd.sshOptions,
      },
      { name: 'local', url: local, dir: local },
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
});
