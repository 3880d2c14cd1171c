/**
 * Pure decisions behind the benchmark's claims: how long a contender took
 * from the same events as the others, whether a goal is met, and which
 * cause a report may print. A claim is made only from what was measured.
 */
import { fmtS, fmtX, ratio } from './stats.js';
import type { Goal } from './types.js';

/**
 * One contender's run of a workload, in performance.now() times: its first
 * and last write, and when its target(s) held everything (null: never).
 */
export interface Timeline {
  firstWriteAt: number;
  lastWriteAt: number;
  arrivedAt: number | null;
}

export interface Convergence {
  /** the writing loop itself, first write to last */
  writingMs: number;
  /** from the first write until the target held everything */
  fromFirstMs: number | null;
  /** from the last write until the target held everything */
  fromLastMs: number | null;
}

/**
 * Both clocks every contender is timed by. A contender that sends while the
 * workload runs (syncward, lsyncd) arrives early by the second clock alone;
 * the first clock charges it the whole workload, as it does the floor.
 */
export function convergence(t: Timeline): Convergence {
  if (!(t.lastWriteAt >= t.firstWriteAt)) throw new Error('the last write comes before the first one');
  const writingMs = t.lastWriteAt - t.firstWriteAt;
  if (t.arrivedAt == null) return { writingMs, fromFirstMs: null, fromLastMs: null };
  // a target cannot hold the last write before it happened: arrival is at least the last write
  const at = Math.max(t.arrivedAt, t.lastWriteAt);
  return { writingMs, fromFirstMs: at - t.firstWriteAt, fromLastMs: at - t.lastWriteAt };
}

/**
 * "value within limit x base": met or missed on the ratio; not measured when
 * the base is missing (a contender not installed); missed when the measured
 * side never finished (why goes in `failure`).
 */
export function ratioGoal(o: {
  goal: string;
  value: number | null | undefined;
  base: number | null | undefined;
  limit: number;
  /** how the two numbers read, e.g. "s from the first write" */
  unit: string;
  /** how a number (in ms) is printed: seconds unless told */
  fmt?: (ms: number | null | undefined) => string;
  failure?: string;
  /** more of what was measured, after the verdict's own numbers */
  also?: string;
}): Goal {
  const also = o.also ? `; ${o.also}` : '';
  if (o.value == null)
    return { goal: o.goal, status: 'missed', detail: `${o.failure ?? 'did not finish'}${also}` };
  const x = ratio(o.value, o.base);
  if (x == null) return { goal: o.goal, status: 'not measured', detail: `no base to compare with${also}` };
  return {
    goal: o.goal,
    status: x <= o.limit ? 'met' : 'missed',
    detail: `${fmtX(x)}: ${(o.fmt ?? fmtS)(o.value)} vs ${(o.fmt ?? fmtS)(o.base)} ${o.unit}${also}`,
  };
}

/** What syncward said about one tree it was asked to watch. */
export interface WatchReport {
  /** directories in the tree, its root included */
  dirsInTree: number;
  /** "watching N directories", or null when it never said so */
  watched: number | null;
  /** watch-limit alerts it raised (ALERT watchLimit) */
  limitAlerts: number;
  /** other alerts it raised, by kind */
  otherAlerts: string[];
  ms: number | null;
  rssMb: number | null;
  error?: string;
}

/**
 * What makes a startup time worthless, or nothing: fewer directories watched
 * than the tree has (the watch limit cuts a walk short and startup still
 * finishes), any alert raised.
 */
export function watchTrouble(r: WatchReport): string | null {
  if (r.watched == null) return r.error ?? 'it never said it was watching';
  const problems: string[] = [];
  if (r.watched < r.dirsInTree)
    problems.push(
      `watched ${r.watched.toLocaleString('en')} of ${r.dirsInTree.toLocaleString('en')} directories`,
    );
  if (r.limitAlerts > 0) problems.push(`${r.limitAlerts} watch-limit alert(s)`);
  if (r.otherAlerts.length > 0) problems.push(`alerts: ${[...new Set(r.otherAlerts)].join(', ')}`);
  return problems.length > 0 ? problems.join('; ') : null;
}

/** "N directories without trouble": every directory of the tree watched, no alert raised. */
export function withoutTroubleGoal(goal: string, r: WatchReport): Goal {
  const took = r.ms == null ? '' : `, watching after ${fmtS(r.ms)} s, ${r.rssMb?.toFixed(1) ?? '-'} MB`;
  const trouble = watchTrouble(r);
  if (trouble != null) return { goal, status: 'missed', detail: `${trouble}${took}` };
  return {
    goal,
    status: 'met',
    detail: `all ${(r.watched as number).toLocaleString('en')} directories watched, no alert${took}`,
  };
}

/** A file whose content differs between source and target, as stat saw both. */
export interface StaleFile {
  path: string;
  sourceSize: number;
  targetSize: number;
  /** mtimes in ms */
  sourceMtimeMs: number;
  targetMtimeMs: number;
}

/** the whole second of an mtime in ms, as rsync compares mtimes without --modify-window=-1 */
const second = (ms: number) => Math.floor(ms / 1000);

/**
 * The cause the churn report may name for files left stale, with the numbers
 * behind it, or null when the files measured do not all show it. rsync's
 * quick check skips a file whose size and mtime match, and without
 * --modify-window=-1 it compares mtimes in whole seconds: when every stale
 * file has the source's size and an mtime in the source's second, that is
 * the measured explanation.
 */
export function sameSecondCause(files: readonly StaleFile[]): string | null {
  if (files.length === 0) return null;
  const all = files.every(
    (f) => f.sourceSize === f.targetSize && second(f.sourceMtimeMs) === second(f.targetMtimeMs),
  );
  if (!all) return null;
  const gaps = files.map((f) => Math.abs(f.sourceMtimeMs - f.targetMtimeMs) / 1000);
  const lo = Math.min(...gaps);
  const hi = Math.max(...gaps);
  const span = lo === hi ? `${lo.toFixed(3)} s` : `${lo.toFixed(3)}-${hi.toFixed(3)} s`;
  return `all ${files.length} file(s) left with old content have the source's size and an mtime in the same whole second as the source's (${span} apart; stat of both after the wait), which rsync's quick check without --modify-window=-1 takes for unchanged`;
}

/** What was measured about stale files, said without naming a cause (when sameSecondCause finds none). */
export function staleFacts(files: readonly StaleFile[]): string {
  const sameSize = files.filter((f) => f.sourceSize === f.targetSize).length;
  const sameSecond = files.filter((f) => second(f.sourceMtimeMs) === second(f.targetMtimeMs)).length;
  return `${files.length} file(s) left with old content: ${sameSize} with the source's size, ${sameSecond} with an mtime in the source's whole second`;
}

/** The report's line on a target that never matched: the cause only when its stat showed it. */
export function neverMatchedNote(who: string, stale: readonly StaleFile[]): string | null {
  if (stale.length === 0) return null;
  const cause = sameSecondCause(stale);
  return cause
    ? `${who} never matched: ${cause}; syncward passes --modify-window=-1.`
    : `${who} never matched: ${staleFacts(stale)}; no cause measured.`;
}

/**
 * "sends less than `limit` of what it moved": met when the bytes on the
 * wire (both ways) stay under that share and the target ended identical;
 * missed when it never ended identical (why goes in `failure`).
 */
export function wireShareGoal(o: {
  goal: string;
  wireBytes: number | null;
  movedBytes: number;
  limit: number;
  failure?: string;
}): Goal {
  if (o.wireBytes == null) return { goal: o.goal, status: 'missed', detail: o.failure ?? 'did not finish' };
  const share = o.wireBytes / o.movedBytes;
  return {
    goal: o.goal,
    status: share < o.limit && o.failure === undefined ? 'met' : 'missed',
    detail: `${fmtShare(share)}: ${o.wireBytes} bytes on the wire for ${o.movedBytes} bytes moved${o.failure ? `; ${o.failure}` : ''}`,
  };
}

/** a share as a percentage with enough digits to tell 0.01% from 0.0001% */
export function fmtShare(share: number): string {
  const pct = share * 100;
  return `${pct >= 10 ? pct.toFixed(0) : pct.toPrecision(2)}%`;
}
