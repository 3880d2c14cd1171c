/**
 * Audit: a tree of N small files already in sync on the target; `syncward
 * audit` (the whole CLI process) against a bare `rsync -an --delete` of the
 * same tree, 3 rounds alternating, median of each.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Context, type Scenario, scratch } from '../lib/context.js';
import { writeBurst } from '../lib/files.js';
import { floorArgs, runRsync, SYNCWARD_NODE_FLAGS, startRsyncDaemon, syncwardConfig } from '../lib/procs.js';
import { fmtS, fmtX, median, ratio } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/types.js';

const bin = new URL('../../../bin/syncward', import.meta.url).pathname;

function runAudit(config: string): Promise<{ code: number; ms: number; out: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [...SYNCWARD_NODE_FLAGS, bin, 'audit', '-c', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout?.on('data', (d: Buffer) => {
      out = (out + d.toString()).slice(-2000);
    });
    p.stderr?.on('data', (d: Buffer) => {
      out = (out + d.toString()).slice(-2000);
    });
    p.on('exit', (code) => resolve({ code: code ?? -1, ms: performance.now() - t0, out }));
  });
}

export const audit: Scenario = {
  name: 'audit',
  title: 'Audit: a tree in sync, syncward audit against a bare rsync dry run',
  async run(ctx: Context): Promise<ScenarioResult> {
    const n = ctx.size(200_000, 20_000);
    const rsyncd = await startRsyncDaemon({ modules: ['a'] });
    const tmp = scratch('audit');
    try {
      const src = join(tmp.dir, 'src');
      ctx.log(`audit: making ${n} files and syncing them`);
      writeBurst(src, n, { size: 200 });
      const sync = await runRsync([
        ...floorArgs(rsyncd, ['-H', '--delete']),
        `${src}/`,
        `${rsyncd.url('a')}/`,
      ]);
      if (sync.code !== 0) throw new Error(`the initial rsync failed (${sync.code}): ${sync.stderr}`);
      mkdirSync(join(tmp.dir, 'state'));
      const config = join(tmp.dir, 'audit.yaml');
      writeFileSync(
        config,
        syncwardConfig({
          stateDir: join(tmp.dir, 'state'),
          source: src,
          targets: [{ name: 'a', url: rsyncd.url('a'), passwordFile: rsyncd.passwordFile }],
        }),
      );
      const sw: number[] = [];
      const bare: number[] = [];
      for (let i = 0; i < 3; i++) {
        ctx.log(`audit: round ${i + 1} of 3`);
        const a = await runAudit(config);
        if (a.code !== 0)
          throw new Error(`syncward audit exited ${a.code} on a tree in sync: ${a.out.trim()}`);
        sw.push(a.ms);
        const b = await runRsync([
          ...floorArgs(rsyncd, ['-n', '--delete']),
          `${src}/`,
          `${rsyncd.url('a')}/`,
        ]);
        if (b.code !== 0) throw new Error(`rsync -an failed (${b.code}): ${b.stderr}`);
        bare.push(b.ms);
      }
      const s = median(sw);
      const b = median(bare);
      const x = ratio(s, b);
      return {
        name: 'audit',
        title: this.title,
        params: { files: n, rounds: 3 },
        data: { syncwardMs: sw, bareMs: bare },
        tables: [
          {
            title: `${n.toLocaleString('en')} files in sync; median of 3 rounds, seconds.`,
            columns: ['', 'seconds', 'syncward / this'],
            rows: [
              ['bare rsync -an --delete', fmtS(b), fmtX(x)],
              ['syncward audit (whole CLI run)', fmtS(s), ''],
            ],
          },
        ],
        goals: [
          {
            goal: 'audit within 1.2x of bare rsync -an',
            status: x != null && x <= 1.2 ? 'met' : 'missed',
            detail: `${fmtX(x)}: ${fmtS(s)} vs ${fmtS(b)} s`,
          },
        ],
        notes: [],
      };
    } finally {
      await rsyncd.dispose();
      tmp.dispose();
    }
  },
};
