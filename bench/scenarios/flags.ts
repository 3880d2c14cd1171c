/**
 * rsync argv cost: the single-file latency of a bare rsync call carrying
 * exactly the argv syncward builds for a one-file batch (buildBatchCall),
 * then the same argv without one candidate flag at a time, beside the plain
 * floor. Shows what each of syncward's flags costs per call.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildBatchCall } from '../../src/transport/argv.js';
import { parseTargetUrl } from '../../src/transport/target-url.js';
import { type Context, type Scenario, scratch } from '../lib/context.js';
import { arrival } from '../lib/files.js';
import { floorArgs, startRsyncDaemon } from '../lib/procs.js';
import { fmtMs, fmtX, ratio, summarize } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/types.js';

/** flags to drop one at a time (prefix match on the argv word) */
const CANDIDATES = [
  '--timeout=',
  '-H',
  '--stats',
  '--mkpath',
  '--modify-window=',
  '--contimeout=',
  '--numeric-ids',
  '--delete',
];

export const flags: Scenario = {
  name: 'flags',
  title: "rsync argv: what each of syncward's flags costs on one small file",
  async run(ctx: Context): Promise<ScenarioResult> {
    const trials = ctx.size(60, 20);
    const rsyncd = await startRsyncDaemon({ modules: ['m'] });
    const tmp = scratch('flags');
    const src = join(tmp.dir, 'src');
    mkdirSync(src);
    try {
      const dest = rsyncd.modulePath('m');
      const call = (name: string) =>
        buildBatchCall(
          { root: src, filterArgs: [], delete: true },
          {
            name: 'm',
            url: parseTargetUrl(rsyncd.url('m')),
            passwordFile: rsyncd.passwordFile,
            sshOptions: [],
            rsyncArgs: [],
            timeoutS: 30,
            contimeoutS: 10,
          },
          [{ path: name, op: 'upsert' }],
          { isRoot: process.getuid?.() === 0 },
        );
      const full = call('x').argv.slice(1);
      const shown = full.map((a) =>
        a
          .replace(rsyncd.passwordFile, 'FILE')
          .replace(`${src}/`, 'SRC/')
          .replace(`${rsyncd.url('m')}/`, 'rsync://USER@127.0.0.1:PORT/m/'),
      );
      const variants: Array<{ label: string; args: (name: string) => { argv: string[]; stdin?: Buffer } }> = [
        {
          label: 'floor: rsync -a --sockopts=TCP_NODELAY --password-file FILE DEST',
          args: (name) => ({ argv: [...floorArgs(rsyncd), join(src, name), `${rsyncd.url('m')}/`] }),
        },
        {
          label: "syncward's batch argv",
          args: (name) => {
            const c = call(name);
            return { argv: c.argv.slice(1), stdin: c.stdin };
          },
        },
      ];
      for (const flag of CANDIDATES) {
        if (!full.some((a) => a === flag || (flag.endsWith('=') && a.startsWith(flag)))) continue;
        variants.push({
          label: `without ${flag.endsWith('=') ? `${flag}N` : flag}`,
          args: (name) => {
            const c = call(name);
            const drop = (a: string) => a === flag || (flag.endsWith('=') && a.startsWith(flag));
            const argv = c.argv.slice(1).filter((a) => !drop(a));
            // --delete-missing-args needs --delete
            return {
              argv: flag === '--delete' ? argv.filter((a) => a !== '--delete-missing-args') : argv,
              stdin: c.stdin,
            };
          },
        });
      }
      const samples: number[][] = variants.map(() => []);
      for (let i = 0; i < trials; i++) {
        for (let v = 0; v < variants.length; v++) {
          const k = (v + i) % variants.length;
          const name = `v${k}t${i}`;
          writeFileSync(join(src, name), `trial ${i}\n`);
          const { argv, stdin } = (variants[k] as (typeof variants)[number]).args(name);
          const arrived = arrival(dest, name);
          const t0 = performance.now();
          const p = spawn('rsync', argv, { stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'ignore'] });
          if (stdin) p.stdin?.end(stdin);
          (samples[k] as number[]).push((await arrived) - t0);
          await sleep(10);
        }
      }
      const sums = samples.map((s) => summarize(s));
      const base = sums[1] as (typeof sums)[number];
      const floor = sums[0] as (typeof sums)[number];
      return {
        name: 'flags',
        title: this.title,
        params: { trials, argv: shown },
        data: { variants: variants.map((v, i) => ({ label: v.label, ...sums[i], samples: samples[i] })) },
        tables: [
          {
            title: `${trials} trials each, interleaved; ms until the file is on the target. syncward's argv: \`rsync ${shown.join(' ')}\``,
            columns: ['rsync call', 'p50 ms', 'p90 ms', 'p50 / floor', 'p50 / full argv'],
            rows: variants.map((v, i) => {
              const s = sums[i] as (typeof sums)[number];
              return [
                v.label,
                fmtMs(s.p50),
                fmtMs(s.p90),
                fmtX(ratio(s.p50, floor.p50)),
                fmtX(ratio(s.p50, base.p50)),
              ];
            }),
          },
        ],
        goals: [],
        notes: [
          'A flag whose removal brings p50 well below the full argv is a cost syncward pays on every call.',
        ],
      };
    } finally {
      await rsyncd.dispose();
      tmp.dispose();
    }
  },
};
