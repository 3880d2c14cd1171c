/**
 * What an upstream shows of a relay tier (pure): the relay's own targets,
 * taken from its /api/status, and the same targets as unknown while the
 * relay cannot be read. Deeper tiers come along: a leaf that is itself a
 * relay carries the view its own syncward built.
 */

import type { LeafStatus, RelayStatus, TargetStatus } from '../status/index.js';

/** The parts of a relay's /api/status this reads (a syncward of this version or later). */
export interface RelayAnswer {
  sources: { name: string; targets: TargetStatus[] }[];
}

/**
 * The relay's source that a target feeds: the one named in the config, else
 * the one named like the upstream's source, else its only source. Throws
 * with what to set when none fits.
 */
export function pickRelaySource(
  answer: RelayAnswer,
  o: { configured?: string; upstreamSource: string },
): { name: string; targets: TargetStatus[] } {
  const names = answer.sources.map((s) => s.name);
  if (o.configured !== undefined) {
    const s = answer.sources.find((x) => x.name === o.configured);
    if (s) return s;
    throw new Error(
      `the relay has no source "${o.configured}" (relay.source); it has ${names.length ? names.join(', ') : 'none'}`,
    );
  }
  const same = answer.sources.find((x) => x.name === o.upstreamSource);
  if (same) return same;
  if (answer.sources.length === 1) return answer.sources[0] as { name: string; targets: TargetStatus[] };
  throw new Error(
    names.length === 0
      ? 'the relay has no sources'
      : `the relay has sources ${names.join(', ')} and none is named "${o.upstreamSource}": set relay.source to the one this target feeds`,
  );
}

/** One relay target as the upstream shows it. */
export function leafOf(t: TargetStatus): LeafStatus {
  return {
    target: t.target,
    url: t.url,
    state: t.state,
    stateSince: t.stateSince,
    stateReason: t.stateReason,
    pending: t.pending,
    oldestPendingAt: t.oldestPendingAt,
    stuck: t.stuck,
    holdReason: t.holdReason,
    pausedSince: t.pausedSince ?? null,
    lastSuccessAt: t.lastSuccessAt,
    lastError: t.lastError,
    canary: t.canary,
    relay: t.relay ?? null,
  };
}

/**
 * The view after a read that answered: the leaves as the relay reports them
 * now. `source` is the relay source picked (pickRelaySource).
 */
export function answeredView(api: string, source: string, targets: TargetStatus[], at: number): RelayStatus {
  return { api, state: 'ok', readAt: at, since: null, error: null, source, leaves: targets.map(leafOf) };
}

/**
 * The view after a read that failed: the leaves last known, each unknown
 * (nothing says they are in sync), and so is every tier beneath them.
 * `since` is when the relay was last read, or when the first failure came.
 */
export function unreachableView(
  last: RelayStatus | null,
  api: string,
  error: string,
  now: number,
): RelayStatus {
  const since = last?.state === 'unreachable' ? (last.since ?? now) : now;
  const reason = `the relay cannot be read since ${new Date(since).toISOString()} (${error}): this state is not known`;
  return {
    api,
    state: 'unreachable',
    readAt: last?.readAt ?? null,
    since,
    error,
    source: last?.source ?? null,
    leaves: (last?.leaves ?? []).map((l) => unknownLeaf(l, reason, since)),
  };
}

function unknownLeaf(l: LeafStatus, reason: string, since: number): LeafStatus {
  return {
    ...l,
    state: 'unknown',
    stateReason: reason,
    stateSince: l.state === 'unknown' ? l.stateSince : since,
    relay: l.relay
      ? {
          ...l.relay,
          state: 'unreachable',
          since: l.relay.since ?? since,
          error: l.relay.error ?? 'not known: its upstream relay cannot be read',
          leaves: l.relay.leaves.map((x) => unknownLeaf(x, reason, since)),
        }
      : null,
  };
}

/** One leaf of a relay's subtree, for metrics, status rows and the dashboard. */
export interface LeafRow {
  /** the relay targets between the upstream's target and this leaf (empty for the relay's own targets) */
  via: string[];
  /** via and the leaf's name joined by "/" (names have none): "r1a", or "r1a/x" one tier deeper */
  path: string;
  leaf: LeafStatus;
  /** the relay this leaf was read through */
  relay: RelayStatus;
}

/** Every leaf beneath a relay, tiers flattened, each after the relay target above it. */
export function flattenLeaves(r: RelayStatus, via: string[] = []): LeafRow[] {
  const out: LeafRow[] = [];
  for (const leaf of r.leaves) {
    out.push({ via, path: [...via, leaf.target].join('/'), leaf, relay: r });
    if (leaf.relay) out.push(...flattenLeaves(leaf.relay, [...via, leaf.target]));
  }
  return out;
}
