import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Change } from '../change/index.js';
import { type BytePath, toFs } from '../util/bytes.js';
import {
  buildBatchCall,
  buildFullSyncCall,
  buildListCall,
  buildPruneCall,
  buildRootAttrsCall,
  type RsyncCall,
  type SourceSpec,
  type TargetSpec,
  touchesRoot,
} from './argv.js';
import { excludeArgs } from './exclude.js';
import { transferred } from './exit-codes.js';
import { buildFetchCall } from './fetch.js';
import { sendMoves, withCounts } from './moves.js';
import { parseProgress2Line } from './progress.js';
import { type RsyncResult, runRsync } from './run.js';
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

  constructor(private readonly o: RsyncTransportOptions) {
    this.target = o.target.name;
    this.bound = o.timeoutMs ?? daemonBounds(o.target);
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
    // moved names first, from their old names on the target; the batch then deletes those
    const moved = await sendMoves(changes, src, tgt, { isRoot: this.o.isRoot }, (c) =>
      this.run('batch', c, o),
    );
    let since = Date.now();
    let result = withCounts(await this.run('batch', call, o), moved);
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
    const rootAttrs = await this.run('rootAttrs', buildRootAttrsCall(src, tgt, { isRoot: this.o.isRoot }), o);
    return { result, rootAttrs };
  }

  sendAll(o: SendAllOptions = {}): Promise<SendResult> {
    const progress = o.onProgress;
    const call = buildFullSyncCall(this.source(o), this.targetFor(o), {
      isRoot: this.o.isRoot,
      dryRun: o.dryRun,
      progress: progress !== undefined,
    });
    const onLine = progress
      ? (line: string) => {
          const p = parseProgress2Line(line);
          if (p) progress(p);
        }
      : undefined;
    return this.run('all', call, o, onLine);
  }

  /** A dry run of exactly the call that would be made, counting the entries rsync itemizes as "*deleting". */
  async countDeletes(what: readonly Change[] | 'all', o: SendOptions = {}): Promise<DeleteCount> {
    const opts = { isRoot: this.o.isRoot, dryRun: true, itemize: true };
    const call =
      what === 'all'
        ? buildFullSyncCall(this.source(o), this.targetFor(o), opts)
        : buildBatchCall(this.source(o, what), this.targetFor(o), what, opts);
    let deletes = 0;
    const result = await this.run('count', call, o, (line) => {
      if (line.startsWith('*deleting')) deletes++;
    });
    return { result, deletes };
  }

  fetch(path: string, intoDir: string, o: SendOptions = {}): Promise<SendResult> {
    return this.run('fetch', buildFetchCall(this.targetFor(o), path, intoDir), o);
  }

  async probe(o: SendOptions = {}): Promise<ProbeResult> {
    const call = buildListCall(this.targetFor(o));
    return { ...(await this.run('probe', call, o)), command: call.argv };
  }

  /** An empty directory synced over the backup directory with --delete, the days still kept protected. */
  async pruneBackups(o: SendOptions = {}): Promise<SendResult | null> {
    if (!this.o.target.backup) return null;
    const empty = mkdtempSync(join(tmpdir(), 'syncward-prune-'));
    try {
      const call = buildPruneCall(this.targetFor(o), empty, { isRoot: this.o.isRoot });
      return call === null ? null : await this.run('prune', call, o);
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
    const root = Buffer.from(`${this.o.source.readRoot ?? this.o.source.root}/`);
    for (const c of changes) {
      if (c.op !== 'upsert' || c.dir === true) continue;
      try {
        const st = lstatSync(Buffer.concat([root, toFs(c.path)]));
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
      lstatSync(Buffer.concat([Buffer.from(`${this.o.source.readRoot ?? this.o.source.root}/`), toFs(path)]));
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

  private async run(
    kind: CallKind,
    call: RsyncCall,
    o: SendOptions,
    onStdoutLine?: (line: string) => void,
  ): Promise<SendResult> {
    const started = Date.now();
    try {
      return resultOf(
        await runRsync(call, {
          timeoutMs: this.bound(kind),
          stallS: this.o.target.timeoutS,
          onStdoutLine,
          signal: o.signal,
        }),
      );
    } catch (err) {
      // spawn itself threw (an argument it refuses): this host's setup, not the target
      return spawnFailure(err as Error, Date.now() - started);
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
