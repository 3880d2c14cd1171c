/**
 * What the daemon reports about itself: the status of each source and
 * target, audit results and the events it emits. A leaf the daemon, the API,
 * the CLI and the dashboard all import, so the API does not import the daemon.
 */

import type { DriftEntry } from '../audit/itemize.js';
import type { TargetState } from '../dispatch/index.js';
import type { CanaryState } from '../probe/index.js';
import type { TransferProgress } from '../transport/index.js';
import type { UnwatchedSummary } from '../watch/index.js';
import type { FsEventKind } from '../watch/types.js';

export type SourceState = 'starting' | 'watching' | 'missing' | 'rootGone' | 'stopped';

export interface TargetStatus {
  source: string;
  target: string;
  url: string;
  state: TargetState;
  /** epoch ms when the current state began, and why it began */
  stateSince: number;
  stateReason: string;
  pending: number;
  /** epoch ms of the oldest change the target still needs, from the journal */
  oldestPendingAt: number | null;
  stuck: number;
  /** the stuck paths by name (at most 100): they fail every transfer and are left out of the others */
  stuckPaths: string[];
  holdReason: string | null;
  /** epoch ms when an operator paused the target (syncward pause), null when not paused */
  pausedSince?: number | null;
  /** the full sync in flight: bytes and files done, rate (null when none runs) */
  progress?: TransferProgress | null;
  lastSuccessAt: number | null;
  lastFullSyncAt: number | null;
  lastError: string | null;
  /** failed transfers in a row since the last success, each retried with backoff (0 when the last one worked) */
  failures: number;
  /** the last audit of this target (scheduled, API or CLI through the daemon); null before the first */
  lastAudit: AuditSummary | null;
  /** null when the source has no canary configured */
  canary: CanaryStatus | null;
  /** the target is a relay tier (its relay config): its own targets as its syncward reports them; null otherwise */
  relay?: RelayStatus | null;
}

/**
 * A relay tier seen from upstream: the relay syncward's own targets (the
 * leaves), read from its API every relay.poll_s. While it cannot be read,
 * the leaves last known are shown with state 'unknown'.
 */
export interface RelayStatus {
  /** the relay's API address */
  api: string;
  /** ok: the last read answered; unreachable: it failed (error says why); starting: not read yet */
  state: 'ok' | 'unreachable' | 'starting';
  /** epoch ms of the last read that answered */
  readAt: number | null;
  /** unreachable: since when */
  since: number | null;
  error: string | null;
  /** the relay's source this target feeds */
  source: string | null;
  leaves: LeafStatus[];
}

/**
 * One target of a relay, as the upstream shows it: the relay's own
 * TargetStatus fields, with the state 'unknown' while the relay cannot be
 * read, and the tier beneath it when the leaf is a relay itself. Its canary,
 * with canary.follow on the relay, is the lag from the first source's write.
 */
export interface LeafStatus
  extends Pick<
    TargetStatus,
    | 'target'
    | 'url'
    | 'stateSince'
    | 'stateReason'
    | 'pending'
    | 'oldestPendingAt'
    | 'stuck'
    | 'holdReason'
    | 'lastSuccessAt'
    | 'lastError'
    | 'canary'
  > {
  state: TargetState | 'unknown';
  pausedSince: number | null;
  relay: RelayStatus | null;
}

/** The outcome of one audit of one target, as status, metrics and alert rules see it. */
export interface AuditSummary {
  at: number;
  checksum: boolean;
  /** true when the audit ran and found no drift (pending paths are not drift) */
  ok: boolean;
  /** why the audit could not run, or null */
  error: string | null;
  drift: { missing: number; extra: number; content: number; metadata: number };
  /** paths that differ but are still pending in the journal (not drift) */
  pending: number;
  /** paths that fail every transfer (stuck): left out of the comparison, not in sync */
  stuck?: number;
}

/** One target's audit through the daemon: the summary, and the entries (paths for people). */
export interface TargetAuditResult {
  source: string;
  target: string;
  url: string;
  summary: AuditSummary;
  /** drift entries, paths shown as text (at most 1000; summary.drift has the counts) */
  entries: AuditEntry[];
  /** differences still pending in the journal: on their way, not drift (at most 1000) */
  pendingEntries: AuditEntry[];
  /** entries were left out past the limit */
  truncated: boolean;
  durationMs: number;
}

export interface AuditEntry {
  kind: DriftEntry['kind'];
  path: string;
  detail: string;
  type: DriftEntry['type'];
}

/** Daemon.audit(): one result per audited target of the source. */
export interface SourceAuditResult {
  source: string;
  results: TargetAuditResult[];
}

/** The 'audit' event, once per audited target. */
export interface AuditEvent {
  source: string;
  target: string;
  summary: AuditSummary;
}

/** End-to-end replication lag measured by the canary, per target (the canary's own record). */
export type CanaryStatus = CanaryState;

/** A full sync asked for and refused because its source is not watched ('refused' event). */
export interface RefusedEvent {
  source: string;
  what: 'full sync';
  /** who asked: "requested through the API", "scheduled (full_sync)", ... */
  reason: string;
  /** why it was refused */
  why: string;
  at: number;
}

/** A batch of accepted changes from a source's watcher ('batch' event). */
export interface BatchEvent {
  source: string;
  at: number;
  events: number;
  /** how many of each kind */
  kinds: Partial<Record<FsEventKind, number>>;
  /** a few of the paths, for logs and the event stream */
  sample: string[];
}

export interface SourceStatus {
  name: string;
  path: string;
  state: SourceState;
  /** the backend watching the source now (watcher auto, or a fallback, decides which), null when not watching */
  watcher: 'inotify' | 'fanotify' | null;
  /** inotify's watches; 0 on fanotify (one mark for the filesystem) */
  watchedDirs: number;
  overflows: number;
  lastOverflowAt: number | null;
  /** the overflows since every target's last catch-up full sync (one alert for the lot), null when none awaits one */
  overflowSpell: { since: number; count: number } | null;
  /** fs.inotify.max_user_watches when the source was last watched, or null if unreadable */
  maxUserWatches: number | null;
  /** directories that could not be listed or watched and are being retried */
  unwatched: UnwatchedSummary;
  targets: TargetStatus[];
}
