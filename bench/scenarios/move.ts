/**
 * Moves: a directory of 1 MiB files and one big file, both already on the
 * targets, renamed in the source; the bytes each contender puts on the wire
 * until its target has the new names and not the old ones, counted both
 * ways by a TCP proxy of its own in front of its target: syncward to an
 * rsync daemon and, when an sshd can be started (root), to an ssh target;
 * lsyncd (default.rsync) to the same daemon. Then the targets are compared
 * with the source byte for byte, and `syncward audit` runs.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Sshd, startSshd } from '../../test/helpers/sshd.js';
import { compareTrees } from '../../test/helpers/tree.js';
import { sshRoute } from '../lib/arena.js';
import { type Context, NOT_INSTALLED, type Scenario, scratch } from '../lib/context.js';
import { writeLargeFile } from '../lib/files.js';
import {
  auditSyncward,
  type LsyncdProcess,
  type RsyncDaemon,
  type SyncwardProcess,
  type SyncwardTarget,
  startLsyncd,
  startRsyncDaemon,
  startSyncward,
  until,
} from '../lib/procs.js';
import { startTcpProxy, type TcpProxy } from '../lib/tcp-proxy.js';
import type { Goal, ScenarioResult } from '../lib/types.js';
import { fmtShare, wireShareGoal } from '../lib/verdicts.js';

/** One contender's leg: its source, its target directory, the proxy it reaches the target through. */
interface Leg {
  label: string;
  src: string;
  dst: string;
  proxy: TcpProxy;
  /** the ssh target's files belong to its unprivileged user */
  owner: boolean;
}

interface Measured {
  label: string;
  up: number | null;
  down: number | null;
  /** why it has no figure, or why its target is not the source */
  failure?: string;
}

/** Relative path → size of every entry: cheap enough to poll while 200 MiB arrive. */
function sizes(root: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      out.set(p, e.isDirectory() ? -1 : statSync(join(root, p)).size);
      if (e.isDirectory()) walk(p);
    }
  };
  walk('');
  return out;
}

function sameShape(a: string, b: string): boolean {
  try {
    const [x, y] = [sizes(a), sizes(b)];
    if (x.size !== y.size) return false;
    for (const [p, n] of x) if (y.get(p) !== n) return false;
    return true;
  } catch {
    return false;
  }
}

/** What the source holds before the move: `tree/` of `files` 1 MiB random files (two levels) and `big.bin`. */
function fill(src: string, files: number, bigBytes: number): void {
  mkdirSync(join(src, 'tree/sub'), { recursive: true });
  for (let i = 0; i < files; i++)
    writeFileSync(join(src, i % 2 ? 'tree/sub' : 'tree', `f${i}`), randomBytes(1 << 20));
  mkdirSync(join(src, 'media'));
  writeLargeFile(join(src, 'media/big.bin'), bigBytes);
}

/** Waits until the proxy's counts stop moving for `quietMs` (a root-attributes call may follow the last file). */
async function settled(proxy: TcpProxy, quietMs: number, timeoutMs: number): Promise<void> {
  let last = -1;
  let since = performance.now();
  await until(
    () => {
      const now = proxy.upstreamBytes + proxy.downstreamBytes;
      if (now !== last) {
        last = now;
        since = performance.now();
      }
      return performance.now() - since >= quietMs;
    },
    timeoutMs,
    'the wire to go quiet',
    50,
  );
}

export const move: Scenario = {
  name: 'move',
  title: 'Moves: a renamed directory and a renamed file, bytes on the wire',
  async run(ctx: Context): Promise<ScenarioResult> {
    const files = ctx.size(100, 100);
    const bigBytes = ctx.size(100 << 20, 100 << 20);
    const moved = files * (1 << 20) + bigBytes;
    const timeout = 300_000;
    const tmp = scratch('move');
    const stops: Array<() => Promise<void>> = [];
    let rsyncd: RsyncDaemon | null = null;
    let sshd: Sshd | null = null;
    try {
      rsyncd = await startRsyncDaemon({ modules: ['sw', 'ls'] });
      const d = rsyncd;
      const proxied = async (port: number) => {
        const p = await startTcpProxy(port);
        stops.push(() => p.close());
        return p;
      };
      const dir = (name: string) => {
        const p = join(tmp.dir, name);
        mkdirSync(p);
        return p;
      };
      const legs: Leg[] = [];
      const swDaemon: Leg = {
        label: 'syncward → rsync daemon',
        src: dir('sw'),
        dst: d.modulePath('sw'),
        proxy: await proxied(d.port),
        owner: true,
      };
      legs.push(swDaemon);
      const targets: SyncwardTarget[] = [
        {
          name: 'daemon',
          url: `rsync://${d.user}@127.0.0.1:${swDaemon.proxy.port}/sw`,
          passwordFile: d.passwordFile,
        },
      ];
      let sshNote: string | null = null;
      if (process.getuid?.() === 0) {
        try {
          sshd = await startSshd();
          const proxy = await proxied(sshd.port);
          const route = sshRoute(sshd, proxy.port);
          const dst = await sshd.targetDir();
          legs.push({ label: 'syncward → ssh', src: swDaemon.src, dst, proxy, owner: false });
          targets.push({
            name: 'ssh',
            url: route.url(dst),
            identityFile: sshd.identityFile,
            sshOptions: route.sshOptions,
          });
        } catch (e) {
          sshNote = `no ssh leg: ${(e as Error).message.split('\n')[0]}`;
        }
      } else sshNote = 'no ssh leg: starting an sshd needs root';
      fill(swDaemon.src, files, bigBytes);
      const sw: SyncwardProcess = startSyncward({ stateDir: dir('sw-state'), source: swDaemon.src, targets });
      stops.push(() => sw.stop());
      let ls: LsyncdProcess | null = null;
      if (ctx.lsyncd) {
        const leg: Leg = {
          label: 'lsyncd → rsync daemon',
          src: dir('ls'),
          dst: d.modulePath('ls'),
          proxy: await proxied(d.port),
          owner: true,
        };
        legs.push(leg);
        fill(leg.src, files, bigBytes);
        ls = startLsyncd({
          stateDir: dir('ls-state'),
          source: leg.src,
          targetUrl: `rsync://${d.user}@127.0.0.1:${leg.proxy.port}/ls`,
          passwordFile: d.passwordFile,
        });
        stops.push(() => (ls as LsyncdProcess).stop());
      }
      ctx.log(`move: ${files} MiB directory and a ${bigBytes >> 20} MiB file, first on the targets`);
      for (const leg of legs)
        await until(() => sameShape(leg.src, leg.dst), timeout, `${leg.label}: first sync`, 200);
      for (const leg of legs) await settled(leg.proxy, 1000, timeout);

      const before = new Map(legs.map((l) => [l, [l.proxy.upstreamBytes, l.proxy.downstreamBytes] as const]));
      ctx.log('move: renaming');
      for (const src of new Set(legs.map((l) => l.src))) {
        renameSync(join(src, 'tree'), join(src, 'tree-renamed'));
        renameSync(join(src, 'media/big.bin'), join(src, 'media/big-renamed.bin'));
      }
      const results: Measured[] = [];
      for (const leg of legs) {
        const [up0, down0] = before.get(leg) as readonly [number, number];
        try {
          await until(
            () => sameShape(leg.src, leg.dst),
            timeout,
            `${leg.label}: the new names and not the old`,
            100,
          );
          await settled(leg.proxy, 1000, timeout);
          const diffs = await compareTrees(leg.src, leg.dst, { owner: leg.owner });
          results.push({
            label: leg.label,
            up: leg.proxy.upstreamBytes - up0,
            down: leg.proxy.downstreamBytes - down0,
            ...(diffs.length > 0 ? { failure: `target differs: ${diffs.slice(0, 3).join('; ')}` } : {}),
          });
        } catch (e) {
          results.push({ label: leg.label, up: null, down: null, failure: (e as Error).message });
        }
      }
      const audit = await auditSyncward(sw.config);
      const total = (m: Measured) => (m.up == null || m.down == null ? null : m.up + m.down);
      const goals: Goal[] = results
        .filter((m) => m.label.startsWith('syncward'))
        .map((m) =>
          wireShareGoal({
            goal: `${m.label}: renaming ${moved >> 20} MiB puts < 1% of its bytes on the wire, target identical`,
            wireBytes: total(m),
            movedBytes: moved,
            limit: 0.01,
            failure: m.failure,
          }),
        );
      goals.push({
        goal: 'syncward audit finds every target identical (exit 0)',
        status: audit.code === 0 ? 'met' : 'missed',
        detail: `exit ${audit.code}${audit.code === 0 ? '' : `: ${audit.output}`}`,
      });
      const row = (m: Measured | undefined, label: string) => {
        if (!m) return [label, NOT_INSTALLED, '', '', '', ''];
        const t = total(m);
        return [
          m.label,
          m.up == null ? '-' : String(m.up),
          m.down == null ? '-' : String(m.down),
          t == null ? '-' : String(t),
          t == null ? '-' : fmtShare(t / moved),
          m.failure ? 'no' : 'yes',
        ];
      };
      return {
        name: 'move',
        title: this.title,
        params: { files, fileBytes: 1 << 20, bigBytes, moved },
        data: { results, audit: audit.code },
        tables: [
          {
            title: `A directory of ${files} files of 1 MiB and one ${bigBytes >> 20} MiB file renamed in the source (${moved} bytes); bytes through each contender's proxy until its target has the new names.`,
            columns: [
              '',
              'bytes to target',
              'bytes from target',
              'total',
              'of the bytes moved',
              'target identical',
            ],
            rows: [
              ...results.filter((m) => m.label.startsWith('syncward')).map((m) => row(m, m.label)),
              row(
                results.find((m) => m.label.startsWith('lsyncd')),
                'lsyncd → rsync daemon',
              ),
            ],
          },
        ],
        goals,
        notes: [
          'syncward sends a directory moved within the tree with --link-dest to its old name (hard links on the target) and a file renamed in its directory with --fuzzy (its old name as the delta basis), before the batch that deletes the old names; lsyncd (default.rsync) deletes the old names and sends the new ones whole.',
          'Over ssh the proxy counts the encrypted stream, ssh handshake included. A local target has no wire: test/integration/moves.test.ts measures its rsync "Total bytes sent" instead.',
          ...(sshNote ? [sshNote] : []),
        ],
      };
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await sshd?.dispose();
      await rsyncd?.dispose();
      tmp.dispose();
    }
  },
};
