import type { Change } from '../change/index.js';
import type { BytePath } from '../util/bytes.js';
import type { ExitClass } from './exit-codes.js';
import type { RsyncProgress } from './progress.js';

/**
 * What one call to a target did, in terms that do not depend on how it was
 * made: the worker, the CLI and the canary read only this.
 */
export interface SendResult {
  /**
   * `ok`, or `vanished` (source files went away meanwhile: nothing left to
   * send) when everything was delivered; `partial` when the target answered
   * but some paths failed; otherwise the call failed, and this says why:
   * `transient`, `misconfigured`, `noSpace`, `error`
   */
  class: ExitClass;
  /** the process's exit code and signal (null: it never ran, or was killed) */
  code: number | null;
  signal: string | null;
  /** a short sentence: what is wrong and what to do */
  message: string;
  /** the transport's own last error lines, verbatim (a few KB at most) */
  detail: string;
  /** regular files transferred */
  files: number;
  /** bytes sent to the target */
  bytes: number;
  durationMs: number;
  /** `partial`: the paths that failed (byte strings, relative to the source root) */
  failedPaths: BytePath[];
  /** of those, the ones beneath something that is no longer a directory on the source: nothing of them is left to send */
  notDirectory: BytePath[];
  /** an error while reading the source made the call skip deletions inside the trees it recursed */
  deletionSkipped: boolean;
}

export interface BatchResult {
  result: SendResult;
  /** the root's own times and mode, sent after a batch that touched the root; null: not sent */
  rootAttrs: SendResult | null;
}

/** A dry run's count of the entries a send would delete (a directory counts with everything beneath it). */
export interface DeleteCount {
  result: SendResult;
  deletes: number;
}

/** Options of one call. */
export interface SendOptions {
  /** ends the call early (the daemon is stopping and out of time) */
  signal?: AbortSignal;
  /**
   * paths the call must not touch except those it lists itself: paths that
   * keep failing, whose error would otherwise make it skip every deletion
   */
  leaveOut?: ReadonlySet<BytePath>;
  /** more transport arguments for this call only, after the target's own (audit --repair: --ignore-times) */
  extraArgs?: readonly string[];
}

export interface BatchSendOptions extends SendOptions {
  /** false skips the root-attributes follow-up (the daemon is stopping) */
  more?: () => boolean;
}

export interface SendAllOptions extends SendOptions {
  /** say what would change, change nothing */
  dryRun?: boolean;
  /** with dryRun: each change it would make, as one rsync --itemize-changes line (audit/itemize.ts parses it) */
  onItemized?: (line: string) => void;
  /** progress of the whole transfer, as it goes */
  onProgress?: (p: RsyncProgress) => void;
}

/** The reachability and login probe: also what was run, so the operator can retry it by hand. */
export interface ProbeResult extends SendResult {
  command: string[];
}

/**
 * Everything dispatch and the commands ask of one (source, target) pair.
 * rsync (`RsyncTransport`, transport/rsync.ts) is the implementation; a
 * pre-connected rsync or a relay is another one behind the same calls.
 * Every call resolves, also when the target is down or the transport cannot
 * start: the result's `class` says what happened.
 */
export interface Transport {
  /** the target's name */
  readonly target: string;
  /** These changes, and the root's own attributes after them when the batch touched the root. */
  sendBatch(changes: readonly Change[], o?: BatchSendOptions): Promise<BatchResult>;
  /** The whole tree (startup, overflow, outage, `syncward sync`). */
  sendAll(o?: SendAllOptions): Promise<SendResult>;
  /** What sending these changes (or `all`: the whole tree) would delete on the target, sending nothing. */
  countDeletes(what: readonly Change[] | 'all', o?: SendOptions): Promise<DeleteCount>;
  /** Reads one file (relative to the target root) back into a local directory (the canary). */
  fetch(path: string, intoDir: string, o?: SendOptions): Promise<SendResult>;
  /** Lists the target root: is it reachable, does the login work (doctor). */
  probe(o?: SendOptions): Promise<ProbeResult>;
  /** Drops dated backups older than the target's keep_days; null: the target keeps no backups. */
  pruneBackups(o?: SendOptions): Promise<SendResult | null>;
  /**
   * A hint: nothing is due for the target now. A transport may prepare the
   * next batch's call meanwhile (RsyncTransport: an rsync started, logged in
   * and waiting for its list), as long as that never costs a call anything.
   */
  idle?(): void;
  /**
   * Runs a call to the target that the caller makes itself (the audit's
   * itemized comparison) as one of the target's calls: whatever the
   * transport keeps open for the target is ended first.
   */
  aside?<T>(call: () => Promise<T>): Promise<T>;
  /** Ends whatever the transport keeps open for the target; nothing is prepared after it (the daemon stops). */
  close?(): Promise<void>;
}
