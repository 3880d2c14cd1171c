/**
 * Watch startup: how long syncward's tree watcher takes to watch a tree of N
 * directories, and its RSS then, beside `inotifywait -r` (and lsyncd where
 * installed, in the full suite) on the same tree.
 *
 *   node dist/bench/watch-startup.js [--dirs 100000]
 *
 * Each watcher runs in its own process so RSS is its own. The tree is
 * 100 top dirs x N/100 leaves, the shape of a web root with many small dirs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

/** Child mode: watch the tree, print {ms, dirs, rssMb}, exit. */
async function child(root: string): Promise<void> {
  const { TreeWatcher } = await import('../src/watch/index.js');
  const w = new TreeWatcher(root);
  const r = await w.start();
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  process.stdout.write(`${JSON.stringify({ ms: r.dirs ? r.ms : 0, dirs: r.dirs, rssMb })}\n`);
  w.close();
}

function makeTree(n: number): string {
  const root = mkdtempSync(join(tmpdir(), 'syncward-bench-watch-'));
  const top = 100;
  for (let i = 0; i < top; i++) {
    const d = join(root, `top${i}`);
    mkdirSync(d);
    for (let j = 0; j < n / top - 1; j++) mkdirSync(join(d, `dir${j}`));
  }
  return root;
}

function rssOf(pid: number): number {
  const out = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return Number(out) / 1024;
}

async function main(): Promise<void> {
  const n = arg('dirs', 100_000);
  process.stderr.write(`making a tree of ${n} directories...\n`);
  const root = makeTree(n);
  try {
    const self = fileURLToPath(import.meta.url);
    const runs: Array<{ ms: number; dirs: number; rssMb: number }> = [];
    for (let i = 0; i < 3; i++) {
      // the same V8 flag bin/syncward and the systemd unit run with
      const r = spawnSync(process.execPath, ['--max-semi-space-size=4', self, '--child', root], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(r.stderr);
      runs.push(JSON.parse(r.stdout));
    }
    runs.sort((a, b) => a.ms - b.ms);
    const sw = runs[1] as { ms: number; dirs: number; rssMb: number };
    const iw = await inotifywaitVerbose(root);
    const lines = [
      `watch startup, ${sw.dirs} directories (${cpus().length} cores, Linux ${release()}), median of 3:`,
      `  syncward       ${sw.ms.toFixed(0).padStart(6)} ms   RSS ${sw.rssMb.toFixed(1)} MB`,
      iw
        ? `  inotifywait -r ${iw.ms.toFixed(0).padStart(6)} ms   RSS ${iw.rssMb.toFixed(1)} MB   (syncward/inotifywait time ${(sw.ms / iw.ms).toFixed(2)}x)`
        : '  inotifywait -r not installed (apt-get install inotify-tools) - no baseline',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    process.stdout.write(
      `${JSON.stringify({ bench: 'watch-startup', dirs: sw.dirs, syncward: sw, inotifywait: iw })}\n`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** inotifywait without -q prints "Watches established." on stderr when ready. */
function inotifywaitVerbose(root: string): Promise<{ ms: number; rssMb: number } | null> {
  if (spawnSync('which', ['inotifywait']).status !== 0) return Promise.resolve(null);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn('inotifywait', ['-r', '-m', '-e', 'close_write', root], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Watches established')) {
        const ms = performance.now() - t0;
        const rssMb = rssOf(p.pid as number);
        p.kill();
        resolve({ ms, rssMb });
      }
    });
    p.on('exit', () => resolve(null));
  });
}

if (process.argv[2] === '--child') await child(process.argv[3] as string);
else await main();
