import { bytes, mergeProgress, progressWords, type RsyncProgress } from '../transport/index.js';

/**
 * Progress of the one-shot commands (sync, audit), fed by rsync's own
 * --info=progress2 lines, one row per target (they run in parallel). On a
 * terminal: bars redrawn in place on stderr. Elsewhere (journald, a log
 * file, CI): one plain line per running target every `intervalMs`.
 */
export interface ProgressOptions {
  /** "sync" counts bytes sent; "audit" (a dry run) counts entries checked */
  mode: 'sync' | 'audit';
  /** bars redrawn in place (a TTY), or periodic log lines */
  tty: boolean;
  /** non-TTY: how often the log lines come (default 5 s) */
  intervalMs?: number;
  /** TTY: the terminal's width (default 80) */
  columns?: number;
  /** for tests */
  now?: () => number;
}

export interface ProgressRow {
  label: string;
  started: number;
  last?: RsyncProgress;
  done: boolean;
  /** it ended and did its whole job: its bar is full, whatever rsync's last line said */
  ok?: boolean;
}

/**
 * The progress a one-shot command shows on its stderr: bars when stderr is a
 * terminal (as wide as it is), log lines otherwise, none with --json (the
 * output is for programs: the report and nothing else).
 */
export function stderrProgress(
  err: NodeJS.WritableStream,
  mode: ProgressOptions['mode'],
  o: { json?: boolean; progressIntervalMs?: number },
): ProgressReporter | undefined {
  if (o.json) return undefined;
  return new ProgressReporter(err, {
    mode,
    tty: (err as { isTTY?: boolean }).isTTY === true,
    columns: (err as { columns?: number }).columns,
    intervalMs: o.progressIntervalMs,
  });
}

const REDRAW_MS = 100;
const BAR = 20;

export class ProgressReporter {
  private readonly rows = new Map<string, ProgressRow>();
  private drawn = 0;
  private lastDraw = 0;
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    private readonly err: NodeJS.WritableStream,
    private readonly o: ProgressOptions,
  ) {
    this.now = o.now ?? Date.now;
    if (!o.tty) {
      this.timer = setInterval(() => this.logLines(), o.intervalMs ?? 5000);
      this.timer.unref();
    }
  }

  /** A target whose rsync starts now. */
  start(key: string, label: string): void {
    this.rows.set(key, { label, started: this.now(), done: false });
    if (this.o.tty) this.draw(true);
  }

  /** A progress2 line of that target's rsync. */
  update(key: string, p: RsyncProgress): void {
    const row = this.rows.get(key);
    if (!row) return;
    const first = row.last === undefined;
    row.last = mergeProgress(row.last, p);
    // the first numbers at once (a small job may end within one redraw period), then at most 10 redraws a second
    if (this.o.tty && (first || this.now() - this.lastDraw >= REDRAW_MS)) this.draw(false);
  }

  /**
   * The target's rsync ended, `ok` when it did its whole job; its row stops
   * (a TTY keeps it until `log` or `stop`).
   */
  finish(key: string, ok = false): void {
    const row = this.rows.get(key);
    if (!row) return;
    row.done = true;
    row.ok = ok;
    // its last numbers, which the redraw limit may have held back, and a full bar when it succeeded
    if (this.o.tty) this.draw(true);
  }

  /** Writes a line (a result) above the bars, which are redrawn under it. */
  log(text: string): void {
    if (!this.o.tty) {
      this.err.write(text);
      return;
    }
    this.clear();
    this.err.write(text);
    for (const [k, r] of this.rows) if (r.done) this.rows.delete(k);
    this.draw(true);
  }

  /** Removes the bars and stops the timer. */
  stop(): void {
    clearInterval(this.timer);
    if (this.o.tty) this.clear();
    this.rows.clear();
  }

  private clear(): void {
    if (this.drawn === 0) return;
    // up to the first bar, then erase to the end of the screen
    this.err.write(`\x1b[${this.drawn}A\r\x1b[J`);
    this.drawn = 0;
  }

  private draw(force: boolean): void {
    if (!force && this.rows.size === 0) return;
    // a pseudo-terminal without a size reports 0 columns
    const width = Math.max(40, this.o.columns || 80) - 1;
    const lines = [...this.rows.values()].map((r) => barLine(r, this.o.mode, this.now()).slice(0, width));
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A\r` : '';
    for (const l of lines) out += `\x1b[2K${l}\n`;
    if (lines.length < this.drawn) out += '\x1b[J';
    this.err.write(out);
    this.drawn = lines.length;
    this.lastDraw = this.now();
  }

  private logLines(): void {
    for (const r of this.rows.values()) {
      if (r.done) continue;
      this.err.write(`${logLine(r, this.o.mode, this.now())}\n`);
    }
  }
}

/** "web1  [########------------]  40%  1,204/3,000 files  12.3 MiB  4.1 MiB/s  0:00:12" */
export function barLine(r: ProgressRow, mode: 'sync' | 'audit', now: number): string {
  const p = r.last;
  const fraction = progressFraction(r, mode);
  const filled = Math.round(fraction * BAR);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}]`;
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  const took = mode === 'audit' ? [`${Math.round((now - r.started) / 1000)} s`] : [];
  return [r.label, bar, pct, ...progressWords(p, mode, r.ok === true), ...took].join('  ');
}

/** "progress web1: 40%, 1,204/3,000 files checked, 96 sent, 12.3 MiB, 4.1 MiB/s, 0:00:12 left, 30 s so far" */
export function logLine(r: ProgressRow, mode: 'sync' | 'audit', now: number): string {
  const p = r.last;
  const elapsed = `${Math.round((now - r.started) / 1000)} s so far`;
  if (!p) return `progress ${r.label}: starting (${elapsed})`;
  const pct = `${Math.floor(progressFraction(r, mode) * 100)}%`;
  return `progress ${r.label}: ${[pct, ...progressWords(p, mode, r.ok === true), elapsed].join(', ')}`;
}

/**
 * sync: rsync's own percent (of the data to send); audit: entries checked of
 * those known; 1 once it succeeded: rsync's last line can say less (its
 * percent counts the whole size of files sent as deltas, a line is not
 * printed for every file, and a sync with nothing to send prints none).
 */
function progressFraction(r: ProgressRow, mode: 'sync' | 'audit'): number {
  if (r.done && r.ok) return 1;
  const p = r.last;
  if (!p) return 0;
  if (mode === 'sync') return Math.min(1, p.percent / 100);
  if (p.total === undefined || p.toCheck === undefined || p.total === 0) return 0;
  return Math.min(1, (p.total - p.toCheck) / p.total);
}

export { bytes };
