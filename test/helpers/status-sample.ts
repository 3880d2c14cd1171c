import { leafOf } from '../../src/relay/index.js';
import type { CanaryStatus, LeafStatus, RelayStatus, TargetStatus } from '../../src/status/index.js';

/** A healthy target www/web1 as the daemon reports it at `now`; `o` overrides. */
export function sampleTarget(now: number, o: Partial<TargetStatus> = {}): TargetStatus {
  return {
    source: 'www',
    target: 'web1',
    url: 'rsync://u@h/www',
    state: 'idle',
    stateSince: now - 60_000,
    stateReason: '',
    pending: 0,
    oldestPendingAt: null,
    stuck: 0,
    stuckPaths: [],
    holdReason: null,
    pausedSince: null,
    lastSuccessAt: now - 5_000,
    lastFullSyncAt: now - 600_000,
    lastError: null,
    failures: 0,
    lastAudit: null,
    canary: null,
    ...o,
  };
}

/** A relay's healthy target r1a as the upstream shows it (leafOf, as the relay's status turns into it). */
export function sampleLeaf(now: number, o: Partial<LeafStatus> = {}): LeafStatus {
  return { ...leafOf(sampleTarget(now, { target: 'r1a', lastSuccessAt: now - 3_000 })), ...o };
}

/** A relay read a second before `now`, with these leaves. */
export function sampleRelay(now: number, leaves: LeafStatus[], o: Partial<RelayStatus> = {}): RelayStatus {
  return {
    api: 'http://10.0.0.2:8730',
    state: 'ok',
    readAt: now - 1_000,
    since: null,
    error: null,
    source: 'www',
    leaves,
    ...o,
  };
}

/** A canary that arrived `lagMs` after it was written, a second before `now`. */
export function sampleCanary(now: number, lagMs: number): CanaryStatus {
  return { lastWrittenAt: now - 1_000 - lagMs, lastArrivedAt: now - 1_000, lagMs, missingSince: null };
}
