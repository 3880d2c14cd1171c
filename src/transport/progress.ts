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
