/**
 * Latency: one small file written and closed, time until it is on the target.
 * Trials rotate between the contenders, so all see the same machine load:
 * the floor (one bare rsync call of the file, timed the same way: until the
 * file is on the target), syncward (default config) and lsyncd
 * (default.rsync, delay 0) against one rsync daemon, and, when an sshd can
 * be started (root), the floor and syncward over ssh. The daemon is stock
 * (no socket options = TCP_NODELAY), as targets are deployed (issue 12):
 * what a client passes, e.g. --timeout, costs there. With --rtt every
 * contender reaches its target through a proxy adding that round trip.
 */

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Sshd, startSshd } from '../../test/helpers/sshd.js';
import { sideBySide, sshRoute } from '../lib/arena.js';
import { type Context, NOT_INSTALLED, type Scenario } from '../lib/context.js';
import { arrival } from '../lib/files.js';
import { floorArgs, type SyncwardProcess, startSyncward, warmUp } from '../lib/procs.js';
import { fmtMs, fmtX, ratio, type Summary, summarize } from '../lib/stats.js';
import { linkWithRtt, startTcpProxy, type TcpProxy } from '../lib/tcp-proxy.js';
import type { Goal, ScenarioResult } from '../lib/types.js';
import { ratioGoal } from '../lib/verdicts.js';

/** One contender: where its file is written, where it arrives, and what sends it. */
interface Contender {
  key: 'floor' | 'syncward' | 'lsyncd' | 'floorSsh' | 'syncwardSsh';
  label: string;
  src: string;
  dst: string;
  /** called after the file is written (the floor spawns its rsync); nothing for a watcher */
  send?: (path: string) => void;
}

/** The ssh leg: an sshd, syncward mirroring to it, and the route both take (through the proxy with --rtt). */
interface SshLeg {
  sshd: Sshd;
  proxy: TcpProxy | null;
  sw: SyncwardProcess;
  contenders: Contender[];
  dispose(): Promise<void>;
}

async function sshLeg(ctx: Context, dir: string): Promise<SshLeg> {
  const sshd = await startSshd();
  const proxy = ctx.rttMs == null ? null : await startTcpProxy(sshd.port, linkWithRtt(ctx.rttMs));
  const route = sshRoute(sshd, proxy?.port ?? sshd.port);
  const [floorDst, swDst] = [await sshd.targetDir(), await sshd.targetDir()];
  const [floorSrc, swSrc, state] = ['floor-ssh', 'sw-ssh', 'state-ssh'].map((d) => join(dir, d)) as [
    string,
    string,
    string,
  ];
  for (const d of [floorSrc, swSrc, state]) mkdirSync(d);
  const sw = startSyncward({
    stateDir: state,
    source: swSrc,
    targets: [
      { name: 'ssh', url: route.url(swDst), identityFile: sshd.identityFile, sshOptions: route.sshOptions },
    ],
    cpuProfDir: ctx.cpuProfDir,
  });
  try {
    await warmUp(swSrc, swDst, 'syncward over ssh');
  } catch (e) {
    await sw.stop();
    await proxy?.close();
    await sshd.dispose();
    throw e;
  }
  return {
    sshd,
    proxy,
    sw,
    contenders: [
      {
        key: 'floorSsh',
        label: 'bare rsync call over ssh',
        src: floorSrc,
        dst: floorDst,
        send: (path) =>
          spawn('rsync', ['-a', '-e', route.rsh, path, `${sshd.user}@127.0.0.1:${floorDst}/`], {
            stdio: 'ignore',
          }),
      },
      { key: 'syncwardSsh', label: 'syncward over ssh, default config', src: swSrc, dst: swDst },
    ],
    async dispose() {
      await sw.stop();
      await proxy?.close();
      await sshd.dispose();
    },
  };
}

/** The goals: on loopback those of issue 6; over a round trip (--rtt), those of issue 12 for a pre-connected rsync. */
export function latencyGoals(rttMs: number | undefined, s: Summary, f: Summary, l: Summary | null): Goal[] {
  const ms = { unit: 'ms', fmt: fmtMs };
  if (rttMs == null)
    return [
      ratioGoal({
        goal: 'latency p50 within 1.15x the bare rsync call',
        value: s.p50,
        base: f.p50,
        limit: 1.15,
        ...ms,
      }),
      ratioGoal({
        goal: 'latency p99 within 2x the bare rsync call',
        value: s.p99,
        base: f.p99,
        limit: 2,
        ...ms,
      }),
    ];
  const link = `over a ${rttMs} ms round trip`;
  return [
    ratioGoal({
      goal: `latency p50 ${link} within 0.5x the bare rsync call`,
      value: s.p50,
      base: f.p50,
      limit: 0.5,
      ...ms,
    }),
    ratioGoal({
      goal: `latency p50 ${link} within 0.5x lsyncd`,
      value: s.p50,
      base: l?.p50,
      limit: 0.5,
      ...ms,
    }),
  ];
}

export const latency: Scenario = {
  name: 'latency',
  title: 'Latency: one small file, write to on-target',
  async run(ctx: Context): Promise<ScenarioResult> {
    const trials = ctx.size(100, 40);
    const arena = await sideBySide(ctx, 'latency', { stock: true, rttMs: ctx.rttMs });
    const { rsyncd, dirs, ls } = arena;
    const notes: string[] = [];
    let ssh: SshLeg | null = null;
    try {
      await warmUp(dirs.sw, rsyncd.modulePath('sw'), 'syncward');
      if (ls) await warmUp(dirs.ls, rsyncd.modulePath('ls'), 'lsyncd');
      if (process.getuid?.() === 0) {
        try {
          ssh = await sshLeg(ctx, arena.dir);
        } catch (e) {
          notes.push(`No ssh rows: the sshd could not be started (${(e as Error).message.split('\n')[0]}).`);
        }
      } else notes.push('No ssh rows: starting an sshd needs root.');
      const contenders: Contender[] = [
        {
          key: 'floor',
          label: 'bare rsync call (floor)',
          src: dirs.floor,
          dst: rsyncd.modulePath('floor'),
          send: (path) =>
            spawn('rsync', [...floorArgs(rsyncd), path, `${arena.url('floor')}/`], { stdio: 'ignore' }),
        },
        { key: 'syncward', label: 'syncward, default config', src: dirs.sw, dst: rsyncd.modulePath('sw') },
        ...(ls
          ? [
              {
                key: 'lsyncd',
                label: 'lsyncd (default.rsync, delay 0)',
                src: dirs.ls,
                dst: rsyncd.modulePath('ls'),
              } as Contender,
            ]
          : []),
        ...(ssh?.contenders ?? []),
      ];
      const samples: Record<Contender['key'], number[]> = {
        floor: [],
        syncward: [],
        lsyncd: [],
        floorSsh: [],
        syncwardSsh: [],
      };
      for (let i = 0; i < trials; i++) {
        const name = `f${i}`;
        // the order rotates so no contender always runs right after another one
        for (let k = 0; k < contenders.length; k++) {
          const c = contenders[(i + k) % contenders.length] as Contender;
          const arrived = arrival(c.dst, name);
          const t0 = performance.now();
          writeFileSync(join(c.src, name), `trial ${i}\n`);
          c.send?.(join(c.src, name));
          samples[c.key].push((await arrived) - t0);
          await sleep(20);
        }
      }
      const sum = (k: Contender['key']) => (samples[k].length ? summarize(samples[k]) : null);
      const f = sum('floor') as Summary;
      const s = sum('syncward') as Summary;
      const l = sum('lsyncd');
      const fs = sum('floorSsh');
      const ss = sum('syncwardSsh');
      const row = (label: string, x: Summary | null, missing = NOT_INSTALLED) =>
        x ? [label, fmtMs(x.p50), fmtMs(x.p90), fmtMs(x.p99), fmtMs(x.max)] : [label, missing, '', '', ''];
      const ratios = (label: string, a: Summary | null, b: Summary | null, missing = NOT_INSTALLED) =>
        a && b
          ? [label, fmtX(ratio(a.p50, b.p50)), fmtX(ratio(a.p90, b.p90)), fmtX(ratio(a.p99, b.p99)), '']
          : [label, missing, '', '', ''];
      const noSsh = 'no sshd';
      const link =
        ctx.rttMs == null
          ? 'loopback'
          : `a ${ctx.rttMs} ms round trip (proxy: ${ctx.rttMs / 2} ms each way, the server accepting ${ctx.rttMs * 1.5} ms after connect)`;
      if (ctx.rttMs != null)
        notes.push(
          `Every contender reaches its target through bench/lib/tcp-proxy.ts: the daemon's URL and ssh's port point at it. Bytes through the daemon's proxy: ${arena.proxy?.upstreamBytes.toLocaleString('en')} up, ${arena.proxy?.downstreamBytes.toLocaleString('en')} down${ssh?.proxy ? `; through the ssh proxy: ${ssh.proxy.upstreamBytes.toLocaleString('en')} up, ${ssh.proxy.downstreamBytes.toLocaleString('en')} down` : ''}.`,
        );
      return {
        name: 'latency',
        title: ctx.rttMs == null ? this.title : `${this.title}, over a ${ctx.rttMs} ms round trip`,
        params: { trials, rttMs: ctx.rttMs ?? 0 },
        data: {
          samples,
          floor: f,
          syncward: s,
          lsyncd: l,
          floorSsh: fs,
          syncwardSsh: ss,
          proxyBytes: arena.proxy
            ? { up: arena.proxy.upstreamBytes, down: arena.proxy.downstreamBytes }
            : null,
          sshProxyBytes: ssh?.proxy ? { up: ssh.proxy.upstreamBytes, down: ssh.proxy.downstreamBytes } : null,
        },
        tables: [
          {
            title: `${trials} trials each, rotating order, over ${link}; ms from the write to the file on the target.`,
            columns: ['', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
            rows: [
              row('bare rsync call (floor)', f),
              row('syncward, default config', s),
              row('lsyncd (default.rsync, delay 0)', l),
              ratios('syncward / floor', s, f),
              ratios('syncward / lsyncd', s, l),
              row('bare rsync call over ssh', fs, noSsh),
              row('syncward over ssh, default config', ss, noSsh),
              ratios('syncward / floor, over ssh', ss, fs, noSsh),
            ],
          },
        ],
        goals: latencyGoals(ctx.rttMs, s, f, l),
        notes: [
          "The floor is spawned by the benchmark's Node process; lsyncd runs with archive = true and --sockopts=TCP_NODELAY, like syncward.",
          'The rsync daemon is stock: no socket options = TCP_NODELAY in its rsyncd.conf.',
          'Over ssh the floor is `rsync -a -e ssh` of the file, a new ssh connection each call; syncward keeps one ssh master connection (ControlMaster).',
          ...notes,
        ],
      };
    } finally {
      await ssh?.dispose();
      await arena.dispose();
    }
  },
};
