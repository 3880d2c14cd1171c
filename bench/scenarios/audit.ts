/**
 * Audit: a tree of N small files already in sync on the target; `syncward
 * audit` (the whole CLI process) against a bare `rsync -an --delete` of the
 * same tree, 3 rounds alternating, median of each.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFullSyncCall } from '../../src/transport/argv.js';
import { parseTargetUrl } from '../../src/transport/target-url.js';
import { type Context, type Scenario, scratch } from '../lib/context.js';
import { writeBurst } from '../lib/files.js';
import {
  floorArgs,
  runRsync,
  SYNCWARD_BIN,
  SYNCWARD_NODE_FLAGS,
  startRsyncDaemon,
  syncwardConfig,
} from '../lib/procs.js';
import { fmtS, fmtX, median, ratio } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/types.js';

function runCli(args: string[]): Promise<{ code: number; ms: number; out: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [...SYNCWARD_NODE_FLAGS, SYNCWARD_BIN, ...args], {
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
      // the argv syncward's audit runs, as a bare rsync: what rsync costs with our flags
      const auditArgv = buildFullSyncCall(
        { root: src, filterArgs: [], delete: true },
        {
          name: 'a',
          url: parseTargetUrl(rsyncd.url('a')),
          passwordFile: rsyncd.passwordFile,
          sshOptions: [],
          rsyncArgs: [],
          timeoutS: 30,
          contimeoutS: 10,
        },
        { isRoot: process.getuid?.() === 0, dryRun: true, itemize: true },
      ).argv.slice(1);
      const sw: number[] = [];
      const bare: number[] = [];
      const ours: number[] = [];
      const cli: number[] = [];
      for (let i = 0; i < 3; i++) {
        ctx.log(`audit: round ${i + 1} of 3`);
        const a = await runCli(['audit', '-c', config]);
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
        const c = await runRsync(auditArgv);
        if (c.code !== 0) throw new Error(`rsync with the audit argv failed (${c.code}): ${c.stderr}`);
        ours.push(c.ms);
        cli.push((await runCli(['--version'])).ms);
      }
      const s = median(sw);
      const b = median(bare);
      const x = ratio(s, b);
      return {
        name: 'audit',
        title: this.title,
        params: { files: n, rounds: 3 },
        data: {
          syncwardMs: sw,
          bareMs: bare,
          auditArgvMs: ours,
          cliStartMs: cli,
          auditArgv: auditArgv.slice(0, -3),
        },
        tables: [
          {
            title: `${n.toLocaleString('en')} files in sync; median of 3 rounds, seconds.`,
            columns: ['', 'seconds', 'syncward / this'],
            rows: [
              ['bare rsync -an --delete', fmtS(b), fmtX(x)],
              [
                'bare rsync with the argv syncward audit runs',
                fmtS(median(ours)),
                fmtX(ratio(s, median(ours))),
              ],
              ['`syncward --version` (Node start, no audit)', fmtS(median(cli)), ''],
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
        notes: [
          `syncward audit's rsync argv: \`rsync ${auditArgv.filter((a) => !a.startsWith('--password-file') && !a.startsWith('/') && !a.startsWith('rsync://')).join(' ')} SRC/ DEST/\`.`,
        ],
      };
    } finally {
      await rsyncd.dispose();
      tmp.dispose();
    }
  },
};
