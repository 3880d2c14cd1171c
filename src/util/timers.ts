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

/**
 * A periodic check that runs every `busyMs` while something could need it
 * and every `quietMs` once `quiet()` says nothing can change without an
 * event first (an idle daemon then wakes only for its own slow checks).
 * The timer never keeps the process alive.
 */
export class Pacer {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly run: () => void,
    private readonly quiet: () => boolean,
    private readonly busyMs: number,
    private readonly quietMs: number,
  ) {}

  start(): void {
    this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    this.timer = setTimeout(
      () => {
        this.run();
        if (this.timer !== null) this.arm();
      },
      this.quiet() ? this.quietMs : this.busyMs,
    );
    this.timer.unref();
  }
}
