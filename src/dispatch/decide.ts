import type { ExitClass } from '../transport/index.js';
import { type BackoffPolicy, defaultBackoff, retryDelay } from './backoff.js';

export interface TargetFailure {
  /** when to try again */
  delayMs: number;
  /** the state the target is in now */
  state: 'down' | 'misconfigured';
  /** the alert to raise, null when the target was already in that state or is held */
  alert: 'down' | 'misconfigured' | 'noSpace' | null;
}

/**
 * What a failed transfer (the target did not answer, or refused) does to a
 * target: misconfiguration backs off slowly and says so, everything else is
 * "down"; the alert fires once, on the change of state, and not while a
 * safety hold already speaks for the target.
 */
export function targetFailure(
  cls: ExitClass,
  failures: number,
  current: string,
  held: boolean,
  policy: BackoffPolicy = defaultBackoff,
  random: () => number = Math.random,
): TargetFailure {
  const backoffKind = cls === 'misconfigured' ? 'misconfigured' : cls === 'transient' ? 'transient' : 'other';
  const delayMs = retryDelay(failures, backoffKind, policy, random);
  const state = cls === 'misconfigured' ? 'misconfigured' : 'down';
  const alert = current === state || held ? null : cls === 'noSpace' ? 'noSpace' : state;
  return { delayMs, state, alert };
}
