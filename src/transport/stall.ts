/**
 * Whether a running rsync still makes progress, decided from what the runner
 * reads of it now and then (run.ts, proc-io.ts). Pure: readings in, verdict
 * out, so the rule is tested without a process.
 *
 * rsync's own --timeout would do this, but against a daemon without
 * TCP_NODELAY its keep-alive traffic costs ~45 ms per call (Nagle and delayed
 * ACK), and it kills a --checksum audit while one big file is hashed (rsync
 * issue 839). A transfer is alive while any of these moves: the bytes rsync's
 * processes read and wrote (files, pipes and sockets alike), their CPU time
 * (a generator comparing a huge directory of unchanged files reads and
 * writes nothing, but it stats them), or the bytes rsync printed.
 */

/** One look at a running rsync. */
export interface ProgressReading {
  /** when it was taken (ms, any monotonic clock) */
  atMs: number;
  /** rchar + wchar of rsync's own processes (/proc/PID/io); null when /proc could not be read */
  ioBytes: number | null;
  /** their user + system CPU time in clock ticks (/proc/PID/stat); null when unreadable */
  cpuTicks: number | null;
  /** bytes rsync wrote to its stdout and stderr so far */
  outputBytes: number;
}

/** The last reading, and when something last moved. */
export interface Progress {
  last: ProgressReading;
  movedAtMs: number;
}

/** The progress after one more reading: a counter that differs from the last reading is movement. */
export function observe(p: Progress | undefined, r: ProgressReading): Progress {
  if (p === undefined) return { last: r, movedAtMs: r.atMs };
  const moved =
    r.ioBytes !== p.last.ioBytes || r.cpuTicks !== p.last.cpuTicks || r.outputBytes !== p.last.outputBytes;
  return { last: r, movedAtMs: moved ? r.atMs : p.movedAtMs };
}

/**
 * Nothing moved for `stallMs`. Never when the last reading could not see
 * rsync's counters (a /proc we may not read): silence on stdout alone is
 * what every healthy transfer of a large file looks like.
 */
export function stalled(p: Progress, stallMs: number): boolean {
  if (p.last.ioBytes === null) return false;
  return p.last.atMs - p.movedAtMs >= stallMs;
}

/** The verdict on a whole series of readings, oldest first. */
export function stalledAfter(readings: readonly ProgressReading[], stallMs: number): boolean {
  let p: Progress | undefined;
  for (const r of readings) p = observe(p, r);
  return p !== undefined && stalled(p, stallMs);
}

/**
 * How often a running call is looked at: four times per stall window, at
 * most once a second. One timer per running call, none when nothing runs
 * (an idle daemon must not wake for this).
 */
export function checkIntervalMs(stallS: number): number {
  return Math.max(1000, (stallS * 1000) / 4);
}
