/** The longest delay a Node timer holds: a longer one fires after 1 ms instead (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A configured delay checked before it reaches setTimeout/setInterval. The
 * schema bounds every duration far below the limit; this is the last guard,
 * so a value that slips past it is an error naming `what`, never a timer
 * firing every millisecond.
 */
export function timerDelay(ms: number, what: string): number {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS)
    throw new RangeError(
      `${what} is ${ms} ms; a timer must be between 0 and ${MAX_TIMER_MS} ms (about 24.8 days)`,
    );
  return ms;
}
