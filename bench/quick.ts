/**
 * Quick benchmark (issue "syncward core"): single-file latency to a loopback
 * rsync daemon target, syncward against one bare rsync call of the same file
 * in the same run, both timed until the file is on the target.
 *
 *   npm run bench -- [--trials 50]
 *
 * When lsyncd is installed it runs too, configured as fairly as we can:
 * default.rsync, delay 0, --sockopts=TCP_NODELAY. The full suite (bursts,
 * churn, fan-out) is a later issue.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync, watch, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { configYaml, tempStateDir } from '../test/helpers/daemon.js';
import { startRsyncDaemon } from '../test/helpers/rsyncd.js';
import { makeTempDir, waitFor } from '../test/helpers/tree.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const trials = arg('trials', 50);
const bin = new URL('../../bin/syncward', import.meta.url).pathname;

/** Resolves with the time when `name` appears in `dir` (inotify on the target dir). */
function arrival(dir: string, name: string, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = watch(dir, (_ev, f) => {
      if (f === name && existsSync(join(dir, name))) {
        w.close();
        clearTimeout(t);
        resolve(performance.now());
      }
    });
    const t = setTimeout(() => {
      w.close();
      reject(new Error(`${name} did not arrive in ${dir}`));
    }, timeoutMs);
  });
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), min: s[0] as number, n: s.length };
};

async function main() {
  const rsyncd = await startRsyncDaemon({ modules: ['floor', 'sw', 'lsyncd'] });
  const src = await makeTempDir('syncward-bench-src-');
  const floorSrc = await makeTempDir('syncward-bench-floor-');
  const state = tempStateDir();
  const floorDir = rsyncd.modulePath('floor');
  const swDir = rsyncd.modulePath('sw');

  // syncward with the default config, as a separate process
  const cfg = join(state.dir, 'bench.yaml');
  writeFileSync(
    cfg,
    configYaml({
      stateDir: state.dir,
      source: src,
      targets: [{ name: 'sw', url: rsyncd.url('sw'), dir: swDir, passwordFile: rsyncd.passwordFile }],
    }),
  );
  const daemon = spawn(process.execPath, [bin, 'start', '-c', cfg, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  writeFileSync(join(src, 'warmup'), 'w\n');
  await waitFor(() => existsSync(join(swDir, 'warmup')), 20_000, 'syncward started');

  // lsyncd, when installed: its own source dir, the same kind of target
  const hasLsyncd = spawnSync('which', ['lsyncd']).status === 0;
  const lsSrc = await makeTempDir('syncward-bench-lsyncd-');
  const lsDir = rsyncd.modulePath('lsyncd');
  let lsyncd: ReturnType<typeof spawn> | null = null;
  if (hasLsyncd) {
    const lua = join(state.dir, 'lsyncd.lua');
    writeFileSync(
      lua,
      `settings { nodaemon = true, logfile = "${join(state.dir, 'lsyncd.log')}" }
sync { default.rsync, source = "${lsSrc}", target = "${rsyncd.url('lsyncd')}/", delay = 0,
  rsync = { password_file = "${rsyncd.passwordFile}", _extra = { "--sockopts=TCP_NODELAY" } } }
`,
    );
    lsyncd = spawn('lsyncd', [lua], { stdio: 'ignore' });
    writeFileSync(join(lsSrc, 'warmup'), 'w\n');
    await waitFor(() => existsSync(join(lsDir, 'warmup')), 30_000, 'lsyncd started');
  }

  // Trials alternate between the floor and syncward, so both see the same machine load.
  const floor: number[] = [];
  const sw: number[] = [];
  const ls: number[] = [];
  for (let i = 0; i < trials; i++) {
    const name = `f${i}`;
    // the floor: one bare rsync call of the file, with the same TCP_NODELAY tuning
    writeFileSync(join(floorSrc, name), `trial ${i}\n`);
    const t0 = performance.now();
    const arrivedFloor = arrival(floorDir, name);
    spawn(
      'rsync',
      [
        '-a',
        '--sockopts=TCP_NODELAY',
        `--password-file=${rsyncd.passwordFile}`,
        join(floorSrc, name),
        `${rsyncd.url('floor')}/`,
      ],
      { stdio: 'ignore' },
    );
    floor.push((await arrivedFloor) - t0);
    await sleep(20);
    // syncward: from the write of the file until it is on the target
    const arrivedSw = arrival(swDir, name);
    const t1 = performance.now();
    writeFileSync(join(src, name), `trial ${i}\n`);
    sw.push((await arrivedSw) - t1);
    await sleep(20);
    if (lsyncd) {
      const arrivedLs = arrival(lsDir, name);
      const t2 = performance.now();
      writeFileSync(join(lsSrc, name), `trial ${i}\n`);
      ls.push((await arrivedLs) - t2);
      await sleep(20);
    }
  }
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.on('exit', r));
  lsyncd?.kill('SIGTERM');

  const f = stats(floor);
  const s = stats(sw);
  const rsyncVersion = spawnSync('rsync', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  const result = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, kernel: release(), rsync: rsyncVersion, node: process.version },
    trials,
    floorMs: f,
    syncwardMs: s,
    ratioP50: s.p50 / f.p50,
    ratioP99: s.p99 / f.p99,
    lsyncdMs: ls.length ? stats(ls) : null,
  };
  console.log(JSON.stringify(result, null, 2));
  const fmt = (x: number) => x.toFixed(1);
  console.log(
    `\n| single-file latency (loopback daemon, auth) | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|`,
  );
  console.log(
    `| bare rsync --sockopts=TCP_NODELAY (floor) | ${fmt(f.p50)} | ${fmt(f.p90)} | ${fmt(f.p99)} |`,
  );
  console.log(`| syncward (default config) | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} |`);
  console.log(`| ratio syncward / floor | ${fmt(result.ratioP50)}x | | ${fmt(result.ratioP99)}x |`);
  if (result.lsyncdMs) {
    const l = result.lsyncdMs;
    console.log(
      `| lsyncd ${spawnSync('lsyncd', ['--version'], { encoding: 'utf8' }).stdout.match(/Version: (\S+)/)?.[1] ?? ''} (default.rsync, delay 0, TCP_NODELAY) | ${fmt(l.p50)} | ${fmt(l.p90)} | ${fmt(l.p99)} |`,
    );
    console.log(`| ratio syncward / lsyncd | ${fmt(s.p50 / l.p50)}x | | ${fmt(s.p99 / l.p99)}x |`);
  } else console.log('(lsyncd not installed: apt-get install lsyncd to compare)');

  await rsyncd.dispose();
  rmSync(src, { recursive: true, force: true });
  rmSync(floorSrc, { recursive: true, force: true });
  rmSync(lsSrc, { recursive: true, force: true });
  state.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
