import { jitteredDelay } from '../util/backoff.js';

/**
 * When to try a target again after a failed transfer. Pure: the random
 * source is passed in so tests can pin it.
 *
 * Transient failures (network, timeout) back off exponentially from
 * `baseMs`, capped at `maxMs`, with "full jitter" on the upper half so a
 * fleet of daemons does not retry a recovering host in lockstep.
 * Misconfiguration (auth, unknown module) will not fix itself quickly, so it
 * starts slow.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  misconfiguredMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 500, maxMs: 60_000, misconfiguredMs: 30_000 };

export function retryDelay(
  attempt: number,
  kind: 'transient' | 'misconfigured' | 'other',
  policy: BackoffPolicy = defaultBackoff,
  random: () => number = Math.random,
): number {
  const base = kind === 'misconfigured' ? policy.misconfiguredMs : policy.baseMs;
  return jitteredDelay(attempt, base, policy.maxMs, random);
}
