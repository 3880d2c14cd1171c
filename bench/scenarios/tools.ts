/**
 * Real tools (issue 11's closing note): git clone, commit and checkout, tar
 * extraction, cp -r of a real tree (node_modules packages), an editor-style
 * atomic save (write a temp file, rename it over the old one) and a release
 * symlink swap, into one source mirrored to an rsync daemon with auth, an
 * sshd and a local directory at once. Measured: seconds from the workload's
 * end until each target is identical by the full comparison (everything
 * rsync -aH keeps: type, content, mode, owner where the target keeps it,
 * mtimes of files and directories including the root in nanoseconds,
 * symlink targets, hard-link groups).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startSshd } from '../../test/helpers/sshd.js';
import { compareTrees } from '../../test/helpers/tree.js';
import { type Context, type Scenario, scratch } from '../lib/context.js';
import { startRsyncDaemon, startSyncward, until, warmUp } from '../lib/procs.js';
import { fmtS } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/types.js';

const REPO = resolve('.');
/** real trees to copy and to pack: a few packages of this repo's node_modules */
const PACKAGES = ['yaml', 'zod', 'commander', 'pino', 'better-sqlite3'];

function sh(cmd: string, args: string[], cwd?: string): void {
  execFileSync(cmd, args, { cwd, stdio: 'ignore' });
}

/** The workload; returns performance.now() at its end. */
function workload(src: string, tar: string): number {
  const repo = join(src, 'repo');
  sh('git', ['clone', '-q', REPO, repo]);
  const git = (...args: string[]) =>
    sh('git', ['-c', 'user.name=bench', '-c', 'user.email=b@x', ...args], repo);
  writeFileSync(join(repo, 'README.md'), 'changed by the bench\n', { flag: 'a' });
  git('commit', '-qam', 'bench edit');
  git('checkout', '-q', 'HEAD~10');
  git('checkout', '-q', '-');
  mkdirSync(join(src, 'unpacked'));
  sh('tar', ['-xf', tar, '-C', join(src, 'unpacked')]);
  mkdirSync(join(src, 'nm'));
  for (const p of PACKAGES) sh('cp', ['-r', join(REPO, 'node_modules', p), join(src, 'nm', p)]);
  // an editor's save: a temp file beside the real one, renamed over it
  writeFileSync(join(src, 'notes.txt'), 'first\n');
  writeFileSync(join(src, '.notes.txt.swp'), 'first\nsecond\n');
  renameSync(join(src, '.notes.txt.swp'), join(src, 'notes.txt'));
  mkdirSync(join(src, 'releases/r1'), { recursive: true });
  writeFileSync(join(src, 'releases/r1/index.html'), 'r1\n');
  sh('ln', ['-sfn', 'releases/r1', join(src, 'current')]);
  return performance.now();
}

export const tools: Scenario = {
  name: 'tools',
  title: 'Real tools: git, tar, cp -r, editor save; until daemon, ssh and local targets are identical',
  async run(ctx: Context): Promise<ScenarioResult> {
    const limit = ctx.size(300_000, 120_000);
    const tmp = scratch('tools');
    const rsyncd = await startRsyncDaemon({ modules: ['m'] });
    const sshd = await startSshd();
    const src = join(tmp.dir, 'src');
    const local = join(tmp.dir, 'local');
    const tar = join(tmp.dir, 'packages.tar');
    mkdirSync(src);
    mkdirSync(local);
    mkdirSync(join(tmp.dir, 'state'));
    sh('tar', [
      '-cf',
      tar,
      '-C',
      join(REPO, 'node_modules'),
      ...PACKAGES.filter((p) => existsSync(join(REPO, 'node_modules', p))),
    ]);
    const sshDir = await sshd.targetDir();
    const targets = [
      { name: 'daemon', dir: rsyncd.modulePath('m'), owner: true },
      { name: 'ssh', dir: sshDir, owner: false },
      { name: 'local', dir: local, owner: true },
    ];
    const sw = startSyncward({
      stateDir: join(tmp.dir, 'state'),
      source: src,
      targets: [
        { name: 'daemon', url: rsyncd.url('m'), passwordFile: rsyncd.passwordFile },
        { name: 'ssh', url: sshd.url(sshDir), identityFile: sshd.identityFile, sshOptions: sshd.sshOptions },
        { name: 'local', url: local },
      ],
      cpuProfDir: ctx.cpuProfDir,
    });
    try {
      await sw.watching;
      for (const t of targets) await warmUp(src, t.dir, `syncward to ${t.name}`);
      ctx.log('tools: git clone/commit/checkout, tar -x, cp -r, editor save, ln -sfn');
      const t0 = performance.now();
      const end = workload(src, tar);
      const results = await Promise.all(
        targets.map(async (t) => {
          let diffs: string[] = [];
          try {
            const at = await until(
              async () =>
                (diffs = await compareTrees(src, t.dir, { exact: true, owner: t.owner })).length === 0,
              limit,
              `${t.name} identical`,
              100,
            );
            return { name: t.name, ms: at - end, error: undefined };
          } catch (e) {
            return {
              name: t.name,
              ms: null,
              error: `${(e as Error).message}; e.g. ${diffs.slice(0, 3).join('; ')}`,
            };
          }
        }),
      );
      const workloadMs = end - t0;
      // what one full comparison costs on its own, so it can be told apart from syncward's lag
      const c0 = performance.now();
      await compareTrees(src, local, { exact: true, owner: true });
      const compareMs = performance.now() - c0;
      for (const r of results) ctx.log(`tools: ${r.name}: ${r.ms == null ? r.error : `${fmtS(r.ms)} s`}`);
      return {
        name: 'tools',
        title: this.title,
        params: { packages: PACKAGES, limitMs: limit },
        data: { workloadMs, compareMs, targets: results, problems: sw.problems() },
        tables: [
          {
            title: `Workload took ${fmtS(workloadMs)} s; seconds from its end until each target is identical by the full comparison (one comparison alone takes ${fmtS(compareMs)} s).`,
            columns: ['target', 'seconds'],
            rows: results.map((r) => [r.name, r.ms == null ? `failed: ${r.error}` : fmtS(r.ms)]),
          },
        ],
        goals: [],
        notes: [
          'The three targets converge at once; each is compared every 100 ms, and a comparison of the whole tree (a git clone of this repo and five packages) takes part of that time itself.',
          'The ssh target logs in as an unprivileged user, so owners are not compared there.',
        ],
      };
    } finally {
      await sw.stop();
      await sshd.dispose();
      await rsyncd.dispose();
      tmp.dispose();
    }
  },
};
