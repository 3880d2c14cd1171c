// What the dashboard shows, derived from the API's data. Pure: no DOM, no fetch.
// The types come from the daemon itself, so a change to its status contract
// breaks the UI's type check instead of the page.

import type { Incident } from '../../src/alerts/index.js';
import type { ApiStatus } from '../../src/api/index.js';
import type { TransferReport } from '../../src/dispatch/index.js';
import { flattenLeaves, type LeafRow } from '../../src/relay/view.js';
import type {
  AuditSummary,
  LeafStatus,
  RelayStatus,
  SourceStatus,
  TargetStatus,
} from '../../src/status/index.js';
import type { TransferProgress } from '../../src/transport/progress.js';

export type {
  ApiStatus,
  Incident,
  LeafRow,
  LeafStatus,
  RelayStatus,
  SourceStatus,
  TargetStatus,
  TransferProgress,
  TransferReport,
};

export type DriftKind = 'missing' | 'extra' | 'content' | 'metadata';
export const DRIFT_KINDS: DriftKind[] = ['missing', 'extra', 'content', 'metadata'];

export interface DriftItem {
  kind: string;
  path: string;
  detail: string;
}

/** The last audit of a target as the page shows it: counts always, entries when the API sent some. */
export interface AuditView {
  at: number;
  ok: boolean;
  error: string | null;
  checksum: boolean;
  counts: Record<DriftKind, number>;
  pending: number;
  /** null when only counts are known */
  entries: DriftItem[] | null;
  truncated: boolean;
}

export interface LagSample {
  /** epoch ms */
  t: number;
  /** seconds the oldest pending change has waited (0 when nothing is pending) */
  lag: number;
  /** the last canary's end-to-end lag in seconds, when the source has a canary */
  canary: number | null;
}

/** How long the lag chart looks back. */
export const HISTORY_MS = 60 * 60 * 1000;

export const keyOf = (source: string, target: string): string => `${source}/${target}`;

/** Lag of a target now, in seconds: the age of its oldest pending change. */
export function lagSeconds(t: TargetStatus, now: number): number {
  return t.oldestPendingAt === null ? 0 : Math.max(0, (now - t.oldestPendingAt) / 1000);
}

/** Appends a sample and drops those older than the chart's window (in place). */
export function pushSample(samples: LagSample[], s: LagSample): LagSample[] {
  const last = samples[samples.length - 1];
  if (last && last.t >= s.t) samples[samples.length - 1] = s;
  else samples.push(s);
  const cutoff = s.t - HISTORY_MS;
  let drop = 0;
  while (drop < samples.length && (samples[drop] as LagSample).t < cutoff) drop++;
  if (drop > 0) samples.splice(0, drop);
  return samples;
}

/** "850 ms", "12 s", "4 min 3 s", "2 h 5 min", "3 d 4 h" */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export function ago(at: number | null, now: number): string {
  if (at === null) return 'never';
  const ms = now - at;
  return ms < 1000 ? 'just now' : `${duration(ms)} ago`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function clock(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour12: false });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function driftItems(list: unknown): DriftItem[] | null {
  if (!Array.isArray(list)) return null;
  return list.filter(isObject).map((e) => ({
    kind: String(e.kind ?? ''),
    path: String(e.path ?? ''),
    detail: String(e.detail ?? ''),
  }));
}

/**
 * An audit as the page keeps it, from the status's lastAudit (counts only),
 * an 'audit' event or a POST .../audit answer: the fields are read from the
 * object itself or from its `summary` / `result`, and entries from `entries`
 * or `sample`, whichever is there.
 */
export function auditView(raw: unknown): AuditView | null {
  if (!isObject(raw)) return null;
  const parts = [raw, raw.summary, raw.result, raw.lastAudit].filter(isObject);
  const pick = (k: string): unknown => parts.map((p) => p[k]).find((v) => v !== undefined);
  const drift = pick('drift') ?? pick('counts');
  if (!isObject(drift) && pick('ok') === undefined) return null;
  const counts = Object.fromEntries(
    DRIFT_KINDS.map((k) => [k, isObject(drift) ? num(drift[k]) : 0]),
  ) as AuditView['counts'];
  const error = pick('error');
  const pending = pick('pending');
  return {
    at: num(pick('at')) || Date.now(),
    ok: pick('ok') === true,
    error: typeof error === 'string' && error !== '' ? error : null,
    checksum: pick('checksum') === true,
    counts,
    pending: typeof pending === 'number' ? pending : num(pick('pendingCount')),
    entries: driftItems(pick('entries')) ?? driftItems(pick('sample')),
    truncated: pick('truncated') === true,
  };
}

/** The newer of two views of a target's last audit; entries survive a counts-only update of the same audit. */
export function newerAudit(a: AuditView | null, b: AuditView | null): AuditView | null {
  if (!a) return b;
  if (!b) return a;
  if (b.at > a.at) return b;
  if (b.at === a.at && !b.entries && a.entries) return a;
  return b.at === a.at ? b : a;
}

/** A target's audit from the status summary (counts only). */
export function auditFromSummary(s: AuditSummary | null): AuditView | null {
  return s ? auditView(s) : null;
}

/** Source and target named by an event's payload, if any. */
export function eventKey(data: unknown): string | null {
  if (!isObject(data)) return null;
  const source = data.source;
  const target = data.target;
  return typeof source === 'string' && typeof target === 'string' ? keyOf(source, target) : null;
}

export const STATE_LABEL: Record<string, string> = {
  starting: 'starting',
  syncing: 'syncing',
  idle: 'in sync',
  lagging: 'lagging',
  down: 'down',
  misconfigured: 'misconfigured',
  held: 'on hold',
  paused: 'paused',
  unknown: 'unknown',
};

/** The rows a relay target shows beneath it: every leaf, a tier further down after its relay leaf (via.length is its indent). */
export function leafRows(t: TargetStatus): LeafRow[] {
  return t.relay ? flattenLeaves(t.relay) : [];
}

/**
 * A leaf's lag for the page, in ms: its canary lag (from the first
 * source's write when the relay follows the upstream canary), else the age
 * of its oldest pending change; null while it is unknown or nothing
 * measured it (the relay's last word is no lag of now).
 */
export function leafLag(l: LeafStatus, now: number): { ms: number; canary: boolean } | null {
  if (l.state === 'unknown') return null;
  if (l.canary?.lagMs != null) return { ms: l.canary.lagMs, canary: true };
  if (l.oldestPendingAt !== null) return { ms: Math.max(0, now - l.oldestPendingAt), canary: false };
  return null;
}

/** How the relay's API answers, in words: read when, or since when it cannot be read and why. */
export function relayLine(r: RelayStatus, now: number): string {
  if (r.state === 'ok') return `read ${ago(r.readAt, now)}`;
  if (r.state === 'starting') return 'not read yet';
  const lasting = r.since === null ? '' : ` for ${duration(Math.max(0, now - r.since))}`;
  return `cannot be read${lasting}: ${r.error ?? 'no reason given'}; its targets are unknown`;
}
