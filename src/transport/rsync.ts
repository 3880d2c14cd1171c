import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Change } from '../change/index.js';
import type { BytePath } from '../util/bytes.js';
import type { Logger } from '../util/log.js';
import {
  buildBatchCall,
  buildFullSyncCall,
  buildInboxCall,
  buildListCall,
  buildPruneCall,
  buildRootAttrsCall,
  inboxMissing,
  type RsyncCall,
  type SourceSpec,
  sourcePath,
  type TargetSpec,
  touchesRoot,
} from './argv.js';
import { excludeArgs } from './exclude.js';
import { transferred } from './exit-codes.js';
import { buildFetchCall } from './fetch.js';
import { hasMoves, sendMoves, withCounts } from './moves.js';
import { parseProgress2Line } from './progress.js';
import { ReadyRsync, type ReadyStats } from './ready.js';
import { retryCold, shouldArm, slotNotYetFreed } from './ready-rules.js';
import { type RsyncResult, type RunOptions, runRsync, type StartedRsync } from './run.js';
import type {
  BatchResult,
  BatchSendOptions,
  DeleteCount,
  ProbeResult,
  SendAllOptions,
  SendOptions,
  SendResult,
  Transport,
} from './transport.js';

/** The kinds of rsync call, each with its own hard bound. */
export type CallKind = 'batch' | 'rootAttrs' | 'all' | 'count' | 'fetch' | 'probe' | 'prune';

export interface RsyncTransportOptions {
  source: SourceSpec;
  target: TargetSpec;
  /** running as root: keep owners by number; otherwise don't try to set them */
  isRoot: boolean;
  /** hard bound on one call of a kind, on top of the stall detection (default: daemonBounds) */
  timeoutMs?: (kind: CallKind) => number;
  /**
   * Keep one batch rsync started ahead while the target is idle (idle()),
   * recycled every recycleMs: the daemon's targets (preconnect), never a
   * one-shot command, whose process would outlive its use
   */
  ready?: { recycleMs: number };
  /** where the ready rsync's own events are told (it exited unused, a batch went again cold) */
  log?: Logger;
}

/**
 * The daemon's bounds: the stall window (timeout_s) several times over for a
 * transfer (it restarts whenever rsync moves a byte or uses CPU, so only a
 * hung rsync reaches this); a read of the canary is one connection and one
 * small file.
 */
export function daemonBounds(tgt: TargetSpec): (kind: CallKind) => number {
  return (kind) =>
    kind === 'fetch' ? (tgt.timeoutS + tgt.contimeoutS) * 1000 + 5000 : (tgt.timeoutS * 4 + 60) * 1000;
}

/** A one-shot command's bounds: a full sync or repair may run for an hour; the root's attributes are one entry. */
export function commandBounds(tgt: TargetSpec): (kind: CallKind) => number {
  return (kind) => (tgt.timeoutS * 4 + (kind === 'rootAttrs' ? 60 : 3600)) * 1000;
}

/** One (source, target) pair reached by the local rsync: the argv builders (argv.ts) and the runner (run.ts). */
export class RsyncTransport implements Transport {
  readonly target: string;
  private readonly bound: (kind: CallKind) => number;
  /** the batch rsync started ahead, when preconnect is on */
  private readonly ready: ReadyRsync | null;
  /** calls running or waiting their turn: no ready rsync is started beside one (one connection per target) */
  private busy = 0;
  /** the sessions in flight (a call refused for a connection of ours still open waits for the others to end) */
  private readonly sessions = new Set<object>();
  /** of those, the ones waiting for that slot */
  private waitingForSlot = 0;
  /** the caller said the target is idle, and has not called since */
  private wanted = false;
  private closed = false;
  /** when our last connection to the target ended (a call, or the ready rsync): a daemon may not have freed its slot yet */
  private lastEndedAt = 0;

  constructor(private readonly o: RsyncTransportOptions) {
    this.target = o.target.name;
    this.bound = o.timeoutMs ?? daemonBounds(o.target);
    const ready = o.ready;
    this.ready = ready
      ? new ReadyRsync({
          build: () => buildBatchCall(this.o.source, this.o.target, [], { isRoot: this.o.isRoot }),
          recycleMs: ready.recycleMs,
          endStallS: o.target.timeoutS,
          endTimeoutMs: this.bound('batch'),
          recycled: () => this.arm(),
          diedIdle: (r, startedAt) => this.diedIdle(r, startedAt),
        })
      : null;
  }

  /**
   * The ready rsync exited before it was used. Refused by a daemon at max
   * connections right after our own call ended, it is started again after a
   * pause (the slot is ours, see slotNotYetFreed); otherwise none is started
   * until the next call to the target ended.
   */
  private diedIdle(r: RsyncResult, startedAt: number): void {
    const res = resultOf(r);
    if (this.ready && !this.closed && this.slotOurs(res, startedAt - this.lastEndedAt)) {
      this.ready.blocked = false;
      setTimeout(() => this.arm(), 200).unref();
      return;
    }
    this.o.log?.info(
      { target: this.target, code: r.code, signal: r.signal, rsyncMessage: r.exit.rsyncMessage },
      `target ${this.target}: the rsync started ahead exited before it was used (${r.exit.message}); the next batch is sent as a normal call`,
    );
  }

  /** The target has nothing to send for now: with preconnect, an rsync is started to wait for the next batch. */
  idle(): void {
    this.wanted = true;
    this.arm();
  }

  /** Ends the rsync started ahead, if any, and starts no other (the daemon is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    this.wanted = false;
    await this.ready?.disarm('kill');
  }

  /** A call made outside the transport (the audit's comparison), with the target's one connection: the ready rsync ends first. */
  aside<T>(call: () => Promise<T>): Promise<T> {
    return this.session(false, call);
  }

  /** What the rsync started ahead did so far; null: preconnect is off. */
  readyStats(): ReadyStats | null {
    return this.ready?.stats() ?? null;
  }

  /**
   * One batch to the target and, when it changed something directly in the
   * root and reached the target, the root's mode, owner and times after it:
   * the target root's mtime moves whenever rsync creates, renames or deletes
   * an entry in it (a file's temp copy included).
   */
  async sendBatch(changes: readonly Change[], o: BatchSendOptions = {}): Promise<BatchResult> {
    const src = this.source(o, changes);
    const tgt = this.targetFor(o);
    const call = buildBatchCall(src, tgt, changes, { isRoot: this.o.isRoot });
    return this.session(
      true,
      async (ready) => {
        // moved names first, from their old names on the target; the batch then deletes those
        const moved = await sendMoves(changes, src, tgt, { isRoot: this.o.isRoot }, (c) =>
          this.run('batch', c, o),
        );
        let since = Date.now();
        let result = withCounts(await this.firstBatchCall(call, o, ready), moved);
        // rsync -H: a linked file whose time changed between the reads of its
        // names desyncs the file list's "same time as the previous entry", and
        // the entries after it arrive with the seconds of another (seen under
        // churn: directories one second off, with nothing left to send them
        // again); a second pass while such a file keeps changing corrects them
        for (let pass = 0; pass < 2 && transferred(result.class) && (o.more?.() ?? true); pass++) {
          if (!this.linkedChangedSince(changes, since)) break;
          since = Date.now();
          const again = await this.run('batch', call, o);
          result = {
            ...again,
            files: result.files + again.files,
            bytes: result.bytes + again.bytes,
            durationMs: result.durationMs + again.durationMs,
          };
        }
        const reached = transferred(result.class) || result.class === 'partial';
        if (!reached || !touchesRoot(changes) || !(o.more?.() ?? true)) return { result, rootAttrs: null };
        const rootAttrs = await this.run(
          'rootAttrs',
          buildRootAttrsCall(src, tgt, { isRoot: this.o.isRoot }),
          o,
        );
        return { result, rootAttrs };
      },
      // a batch with moves makes more than one call: the ready rsync is put away first
      hasMoves(changes) ? undefined : call,
    );
  }

  /**
   * The batch itself: handed to the ready rsync when there is one for
   * exactly this call, else a normal call. A handed-off batch that failed as
   * a stale connection would is sent again at once, cold (ready-rules.ts
   * retryCold): nothing waits past one normal call for the ready rsync.
   */
  private async firstBatchCall(
    call: RsyncCall,
    o: SendOptions,
    ready: StartedRsync | null,
  ): Promise<SendResult> {
    if (ready === null) return this.run('batch', call, o);
    const first = await this.run('batch', call, o, undefined, ready);
    if (!retryCold({ class: first.class, aborted: o.signal?.aborted === true })) return first;
    const ageMs = Date.now() - ready.startedAt - first.durationMs;
    this.ready?.failedAt(ageMs);
    this.o.log?.info(
      { target: this.target, code: first.code, rsyncMessage: first.detail, readyAgeMs: ageMs },
      `target ${this.target}: the rsync started ahead failed its batch (${first.message}); sending it again as a normal call`,
    );
    const again = await this.run('batch', call, o);
    return { ...again, durationMs: first.durationMs + again.durationMs };
  }

  sendAll(o: SendAllOptions = {}): Promise<SendResult> {
    const progress = o.onProgress;
    const itemized = o.dryRun ? o.onItemized : undefined;
    const call = buildFullSyncCall(this.source(o), this.targetFor(o), {
      isRoot: this.o.isRoot,
      dryRun: o.dryRun,
      itemize: itemized !== undefined,
      progress: progress !== undefined,
    });
    const onLine =
      progress || itemized
        ? (line: string) => {
            const p = parseProgress2Line(line);
            if (p) progress?.(p);
            else itemized?.(line);
          }
        : undefined;
    return this.session(true, () => this.run('all', call, o, onLine));
  }

  /** A dry run of exactly the call that would be made, counting the entries rsync itemizes as "*deleting". */
  async countDeletes(what: readonly Change[] | 'all', o: SendOptions = {}): Promise<DeleteCount> {
    const opts = { isRoot: this.o.isRoot, dryRun: true, itemize: true };
    const call =
      what === 'all'
        ? buildFullSyncCall(this.source(o), this.targetFor(o), opts)
        : buildBatchCall(this.source(o, what), this.targetFor(o), what, opts);
    let deletes = 0;
    const result = await this.session(true, () =>
      this.run('count', call, o, (line) => {
        if (line.startsWith('*deleting')) deletes++;
      }),
    );
    return { result, deletes };
  }

  fetch(path: string, intoDir: string, o: SendOptions = {}): Promise<SendResult> {
    return this.session(false, () => this.run('fetch', buildFetchCall(this.targetFor(o), path, intoDir), o));
  }

  async probe(o: SendOptions = {}): Promise<ProbeResult> {
    const call = buildListCall(this.targetFor(o));
    return { ...(await this.session(false, () => this.run('probe', call, o))), command: call.argv };
  }

  /** An empty directory synced over the backup directory with --delete, the days still kept protected. */
  async pruneBackups(o: SendOptions = {}): Promise<SendResult | null> {
    if (!this.o.target.backup) return null;
    const empty = mkdtempSync(join(tmpdir(), 'syncward-prune-'));
    try {
      const call = buildPruneCall(this.targetFor(o), empty, { isRoot: this.o.isRoot });
      return call === null ? null : await this.session(true, () => this.run('prune', call, o));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }

  /**
   * A relay target's inbox, made when rsync said it is missing (the first
   * call to a new relay, or someone removed it): true when the call may be
   * sent again.
   */
  private async makeInbox(opts: RunOptions): Promise<boolean> {
    const empty = mkdtempSync(join(tmpdir(), 'syncward-inbox-'));
    try {
      const call = buildInboxCall(this.o.target, empty, { isRoot: this.o.isRoot });
      if (call === null) return false;
      const r = await runRsync(call, opts);
      this.o.log?.info(
        { target: this.target, code: r.code, rsyncMessage: r.exit.rsyncMessage },
        r.exit.class === 'ok'
          ? `target ${this.target}: made the relay inbox ${this.o.target.inbox}/ (rsync writes its temp files there)`
          : `target ${this.target}: cannot make the relay inbox ${this.o.target.inbox}/ (${r.exit.message})`,
      );
      return r.exit.class === 'ok';
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }

  /** The source as one call sees it: the paths to leave out first, since rsync's first matching rule wins. */
  private source(o: SendOptions, listed: readonly Change[] = []): SourceSpec {
    if (!o.leaveOut || o.leaveOut.size === 0) return this.o.source;
    // a path gone from the source fails no listing, and a rule leaving it out
    // would keep the directory above it from being deleted on the target
    const present = [...o.leaveOut].filter((p) => this.onSource(p));
    const rules = excludeArgs(present, new Set(listed.map((c) => c.path)));
    return { ...this.o.source, filterArgs: [...rules, ...this.o.source.filterArgs] };
  }

  /** Whether a listed file with more than one link changed (its ctime) since `sinceMs`. */
  private linkedChangedSince(changes: readonly Change[], sinceMs: number): boolean {
    for (const c of changes) {
      if (c.op !== 'upsert' || c.dir === true) continue;
      try {
        const st = lstatSync(sourcePath(this.o.source, c.path));
        // the kernel's coarse clock may stamp a little behind Date.now()
        if (st.isFile() && st.nlink > 1 && st.ctimeMs >= sinceMs - 5) return true;
      } catch {
        // gone: nothing of it to correct
      }
    }
    return false;
  }

  /** Whether `path` may still be on the source: only ENOENT and ENOTDIR say it is not (EACCES, ENAMETOOLONG say nothing). */
  private onSource(path: BytePath): boolean {
    try {
      lstatSync(sourcePath(this.o.source, path));
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code !== 'ENOENT' && code !== 'ENOTDIR';
    }
  }

  private targetFor(o: SendOptions): TargetSpec {
    if (!o.extraArgs || o.extraArgs.length === 0) return this.o.target;
    return { ...this.o.target, rsyncArgs: [...this.o.target.rsyncArgs, ...o.extraArgs] };
  }

  /**
   * One call to the target, or a batch's calls, with the target's one
   * connection: the ready rsync is handed the batch (`batch` given and
   * exactly its call) or ended first (an empty list, its exit awaited), so a daemon
   * with max connections = 1 sees one client at a time. Sessions run side
   * by side (a slow canary read never holds up a batch); one refused by such
   * a daemon while another of ours holds its slot waits for that one and is
   * sent again (run). `byWorker`: the dispatcher's own work (it says idle()
   * again when it is done); the canary's and doctor's reads leave the ready
   * rsync wanted, so it is started again after them.
   */
  private async session<T>(
    byWorker: boolean,
    fn: (ready: StartedRsync | null) => Promise<T>,
    batch?: RsyncCall,
  ): Promise<T> {
    const ready = this.ready;
    if (byWorker) this.wanted = false;
    this.busy++;
    const mine = {};
    this.sessions.add(mine);
    try {
      const taken = ready && batch ? ready.take(batch) : null;
      if (ready && taken === null) {
        if (ready.present) {
          await ready.disarm();
          this.lastEndedAt = Date.now();
        }
        if (batch) ready.sentCold();
      }
      return await fn(taken);
    } finally {
      this.sessions.delete(mine);
      this.busy--;
      if (ready) ready.blocked = false;
      this.arm();
    }
  }

  private slotOurs(res: SendResult, sinceOursMs: number): boolean {
    return slotNotYetFreed({ class: res.class, detail: `${res.message}\n${res.detail}`, sinceOursMs });
  }

  /** Starts the ready rsync when the target is idle and free (ready-rules.ts shouldArm). */
  private arm(): void {
    const r = this.ready;
    if (
      r &&
      shouldArm({
        enabled: true,
        wanted: this.wanted,
        busy: this.busy,
        closed: this.closed,
        blocked: r.blocked,
        present: r.present,
      })
    )
      r.arm();
  }

  /** One rsync call (`started`: the ready rsync, handed this call's list), in the transport's terms. */
  private async run(
    kind: CallKind,
    call: RsyncCall,
    o: SendOptions,
    onStdoutLine?: (line: string) => void,
    started?: StartedRsync,
  ): Promise<SendResult> {
    const t0 = Date.now();
    const opts = {
      timeoutMs: this.bound(kind),
      stallS: this.o.target.timeoutS,
      onStdoutLine,
      signal: o.signal,
    };
    const sinceOursMs = Date.now() - this.lastEndedAt;
    try {
      let res = resultOf(await (started ? started.run(call.stdin, opts) : runRsync(call, opts)));
      // a daemon at max connections may still count our previous connection: its process exits moments after ours
      for (let pause = 100; pause <= 400 && this.slotOurs(res, sinceOursMs); pause *= 2) {
        await new Promise((r) => setTimeout(r, pause));
        res = resultOf(await runRsync(call, opts));
      }
      // refused for a connection of ours still open (the canary's read beside a batch, at max
      // connections = 1): sent again once our other calls ended, at most one bound later
      if (
        this.sessions.size > 1 &&
        res.class === 'transient' &&
        /max connections/.test(`${res.message}\n${res.detail}`)
      ) {
        const until = Date.now() + opts.timeoutMs;
        this.waitingForSlot++;
        try {
          // another session of ours (this one is among them) that is not itself waiting holds the slot
          while (this.sessions.size - this.waitingForSlot > 0 && Date.now() < until && !o.signal?.aborted)
            await new Promise((r) => setTimeout(r, 50));
        } finally {
          this.waitingForSlot--;
        }
        res = resultOf(await runRsync(call, opts));
      }
      if (inboxMissing(res.detail) && (await this.makeInbox(opts)))
        res = resultOf(await runRsync(call, opts));
      return res;
    } catch (err) {
      // spawn itself threw (an argument it refuses): this host's setup, not the target
      return spawnFailure(err as Error, Date.now() - t0);
    } finally {
      this.lastEndedAt = Date.now();
    }
  }
}

/** rsync's result in the transport's terms. */
export function resultOf(r: RsyncResult): SendResult {
  return {
    class: r.exit.class,
    code: r.code,
    signal: r.signal,
    message: r.exit.message,
    detail: r.exit.rsyncMessage,
    files: r.files,
    bytes: r.bytes,
    durationMs: r.durationMs,
    failedPaths: r.exit.failedPaths,
    notDirectory: r.exit.notDirectory ?? [],
    deletionSkipped: r.deletionSkipped === true,
  };
}

function spawnFailure(err: Error, durationMs: number): SendResult {
  return {
    class: 'misconfigured',
    code: null,
    signal: null,
    message: err.message,
    detail: '',
    files: 0,
    bytes: 0,
    durationMs,
    failedPaths: [],
    notDirectory: [],
    deletionSkipped: false,
  };
}
