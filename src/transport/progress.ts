/**
 * rsync --info=progress2: one line per update for the whole transfer,
 * separated by \r (run.ts splits on it), e.g. (rsync 3.2-3.5)
 *
 *         400,000   4%    1.37MB/s    0:00:00 (xfr#2, to-chk=68/71)
 *               0   0%    0.00kB/s    0:00:00 (xfr#0, ir-chk=1000/3101)
 *          32,768   0%    0.00kB/s    0:00:00
 *           1.01M 100%  225.86kB/s    0:00:04 (xfr#20000, to-chk=0/20201)   (with -h)
 *
 * bytes sent so far (of file data), percent of the data to send, the current
 * rate, the time left (the time taken on the last line), files transferred,
 * and entries still to check of those known: "ir-chk" while incremental
 * recursion is still finding entries (the total grows), "to-chk" once the
 * whole list is known.
 */
export interface RsyncProgress {
  /** file data sent so far */
  bytes: number;
  /** rsync's percent: of the data to send */
  percent: number;
  /** bytes per second */
  rate: number;
  /** h:mm:ss as rsync printed it: time left, or time taken on the last line */
  time: string;
  /** regular files transferred so far (xfr#) */
  transferred?: number;
  /** entries still to check (of `total`) */
  toCheck?: number;
  /** entries known so far */
  total?: number;
  /** false while incremental recursion is still finding entries ("ir-chk"): the total grows */
  listComplete?: boolean;
}

const LINE =
  /^\s*([\d,.]+[KMGTP]?)\s+(\d{1,3})%\s+([\d,.]+)([kMGTP]?B)\/s\s+(\d+:\d{2}:\d{2})(?:\s+\(xfr#(\d+),\s+(ir|to)-chk=(\d+)\/(\d+)\))?\s*$/;

/** One --info=progress2 line, or undefined for any other line (stats, itemized changes, messages). */
export function parseProgress2Line(line: string): RsyncProgress | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const [, bytes = '0', percent = '0', rate = '0', unit = 'B', time = '', xfr, chk, left, total] = m;
  const p: RsyncProgress = {
    bytes: number(bytes),
    percent: Number(percent),
    // rsync computes the rate in units of 1024 (progress.c)
    rate: Math.round(Number(rate.replaceAll(',', '')) * 1024 ** 'BkMGTP'.indexOf(unit[0] as string)),
    time,
  };
  if (xfr !== undefined) {
    p.transferred = Number(xfr);
    p.toCheck = Number(left);
    p.total = Number(total);
    p.listComplete = chk === 'to';
  }
  return p;
}

/** "8,000,081", or "1.01M" with one -h (units of 1000; -hh would mean 1024, close enough for a progress line). */
function number(s: string): number {
  const unit = /[KMGTP]$/.exec(s)?.[0];
  const n = Number(s.replace(/[KMGTP]$/, '').replaceAll(',', ''));
  return Math.round(unit ? n * 1000 ** ('KMGTP'.indexOf(unit) + 1) : n);
}

/**
 * The last line's numbers with a new line's: a line without counts (inside
 * a big file) keeps the counts of the last completed file.
 */
export function mergeProgress(prev: RsyncProgress | undefined, p: RsyncProgress): RsyncProgress {
  // rsync prints the counts only when a file completes; lines in between (a big file) carry bytes alone
  if (p.total !== undefined || prev?.total === undefined) return p;
  return {
    ...p,
    transferred: prev.transferred,
    toCheck: prev.toCheck,
    total: prev.total,
    listComplete: prev.listComplete,
  };
}

/** A transfer in progress, as status and the API report it. */
export interface TransferProgress {
  kind: 'full';
  startedAt: number;
  /** when rsync last reported (null before its first progress line) */
  at: number | null;
  /** file data sent so far */
  bytes: number;
  /** bytes per second, as rsync measures it now */
  rate: number;
  /** rsync's percent: of the data it has to send */
  percent: number;
  /** regular files sent so far */
  files: number;
  /** entries checked so far, of `total` known (which grows until listComplete) */
  checked: number;
  total: number;
  listComplete: boolean;
}

/** The status view of a full sync started at `startedAt` whose rsync last said `p` at `at`. */
export function transferProgress(
  startedAt: number,
  p: RsyncProgress | undefined,
  at: number | null,
): TransferProgress {
  return {
    kind: 'full',
    startedAt,
    at: p ? at : null,
    bytes: p?.bytes ?? 0,
    rate: p?.rate ?? 0,
    percent: p?.percent ?? 0,
    files: p?.transferred ?? 0,
    checked: p?.total !== undefined && p.toCheck !== undefined ? p.total - p.toCheck : 0,
    total: p?.total ?? 0,
    listComplete: p?.listComplete ?? false,
  };
}

/** "40%, 1,204/3,000+ files checked, 96 sent, 12.3 MiB, 4.1 MiB/s, 30 s so far" (the daemon's log, status) */
export function describeTransfer(p: TransferProgress, now: number): string {
  const words =
    p.at === null
      ? ['starting']
      : [
          `${p.percent}%`,
          ...(p.total > 0
            ? [
                `${count(p.checked)}/${count(p.total)}${p.listComplete ? '' : '+'} files checked`,
                `${count(p.files)} sent`,
              ]
            : []),
          bytes(p.bytes),
          `${bytes(p.rate)}/s`,
        ];
  return [...words, `${Math.round((now - p.startedAt) / 1000)} s so far`].join(', ');
}

/**
 * A progress line in words, for logs and the CLI: "1,204/3,000 files
 * checked", "96 sent" and, for a sync, "12.3 MiB", "4.1 MiB/s", "0:00:12
 * left" (while it runs). `ended`: every entry of a complete list was checked.
 */
export function progressWords(p: RsyncProgress | undefined, mode: 'sync' | 'audit', ended = false): string[] {
  if (!p) return ended ? [] : ['starting'];
  const out: string[] = [];
  if (p.total !== undefined && p.toCheck !== undefined) {
    const known = `${count(p.total)}${p.listComplete ? '' : '+'}`;
    // ended whole: every entry of a complete list was checked, whatever the last line said
    const checked = ended && p.listComplete ? p.total : p.total - p.toCheck;
    out.push(`${count(checked)}/${known} files checked`);
    if (mode === 'sync') out.push(`${count(p.transferred ?? 0)} sent`);
  }
  if (mode === 'sync') {
    out.push(bytes(p.bytes), `${bytes(p.rate)}/s`);
    // rsync's time is what is left while it runs
    if (!ended && p.percent < 100 && p.rate > 0 && p.time !== '0:00:00') out.push(`${p.time} left`);
  }
  return out;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** 1024-based, as rsync prints rates */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}
