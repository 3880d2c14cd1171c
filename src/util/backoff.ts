/**
 * The one backoff formula (target retries, webhook and command retries):
 * exponential from `baseMs` (attempt 1 waits about baseMs), capped at
 * `maxMs`, half fixed and half jittered so many daemons do not hit a
 * recovering host in lockstep and none retries sooner than half the step.
 * Pure: the random source is passed in.
 */
export function jitteredDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (exp / 2) * random());
}
