// The page's state: the last /api/status plus what only the event stream
// tells (transfers, audit entries) and what only the page remembers (the lag
// history). Components read it and re-render when it says so.
import { AuthError, api, type EventName, initialToken, type LinkState, openStream, setToken } from './api.js';
import {
  type ApiStatus,
  type AuditView,
  auditFromSummary,
  auditView,
  eventKey,
  keyOf,
  type LagSample,
  lagSeconds,
  newerAudit,
  pushSample,
  type TransferReport,
} from './model.js';

/** How often the status is fetched (lag history, and a safety net for missed events). */
const POLL_MS = 5000;
/** Transfers kept per target. */
const TRANSFERS_KEPT = 25;
/** How often a running audit job is asked for its result. */
const AUDIT_POLL_MS = 500;

export type Transfer = TransferReport & { at: number };

export type Action = 'sync' | 'audit' | 'resume';

export interface ActionResult {
  key: string;
  action: Action;
  ok: boolean;
  message: string;
  at: number;
}

export class Store {
  token: string | null = initialToken();
  status: ApiStatus | null = null;
  statusError: string | null = null;
  statusAt: number | null = null;
  needToken = false;
  tokenRejected = false;
  link: LinkState = 'connecting';
  selected: string | null = null;
  busy: { key: string; action: Action } | null = null;
  result: ActionResult | null = null;
  readonly lag = new Map<string, LagSample[]>();
  readonly transfers = new Map<string, Transfer[]>();
  readonly audits = new Map<string, AuditView>();
  /** bumped on every change; components compare it */
  version = 0;

  private listeners = new Set<() => void>();
  private closeStream: (() => void) | null = null;
  private poll: ReturnType<typeof setInterval> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private inflight: Promise<void> | null = null;

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  start(): void {
    void this.refresh().then(() => {
      if (!this.needToken) this.connect();
    });
    this.poll = setInterval(() => void this.refresh(), POLL_MS);
  }

  stop(): void {
    this.closeStream?.();
    if (this.poll) clearInterval(this.poll);
  }

  private connect(): void {
    this.closeStream?.();
    this.closeStream = openStream(this.token, {
      onEvent: (name, data) => this.onEvent(name, data),
      onState: (s) => {
        if (s === this.link) return;
        this.link = s;
        this.changed();
        // a stream that cannot open may be a rejected token: the status fetch tells
        if (s === 'offline') this.soon();
      },
      onOpen: () => this.soon(),
    });
  }

  submitToken(t: string): void {
    this.token = t.trim() || null;
    setToken(this.token);
    this.needToken = false;
    this.tokenRejected = false;
    this.changed();
    void this.refresh().then(() => {
      if (!this.needToken) this.connect();
    });
  }

  select(key: string): void {
    this.selected = key;
    this.changed();
  }

  /** A status fetch soon, merging bursts of events into one request. */
  private soon(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, 200);
  }

  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    this.inflight = this.fetchStatus().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async fetchStatus(): Promise<void> {
    if (this.needToken) return;
    try {
      const st = await api<ApiStatus>(this.token, 'GET', 'api/status');
      this.applyStatus(st);
    } catch (e) {
      if (e instanceof AuthError) {
        this.tokenRejected = this.token !== null;
        this.needToken = true;
        // what this page saw with a token that no longer counts is not shown any more
        this.status = null;
        this.closeStream?.();
        this.closeStream = null;
        this.link = 'offline';
      } else this.statusError = `cannot reach the daemon: ${(e as Error).message}`;
    }
    this.changed();
  }

  private applyStatus(st: ApiStatus): void {
    const now = Date.now();
    this.status = st;
    this.statusError = null;
    this.statusAt = now;
    for (const s of st.sources)
      for (const t of s.targets) {
        const key = keyOf(s.name, t.target);
        const samples = this.lag.get(key) ?? [];
        const canary = t.canary?.lagMs;
        pushSample(samples, {
          t: now,
          lag: lagSeconds(t, now),
          canary: canary == null ? null : canary / 1000,
        });
        this.lag.set(key, samples);
        const a = newerAudit(this.audits.get(key) ?? null, auditFromSummary(t.lastAudit));
        if (a) this.audits.set(key, a);
      }
    if (this.selected === null) {
      const first = st.sources[0]?.targets[0];
      if (first) this.selected = keyOf(first.source, first.target);
    }
  }

  private onEvent(name: EventName, data: unknown): void {
    const key = eventKey(data);
    switch (name) {
      case 'transfer': {
        if (!key) return;
        const list = this.transfers.get(key) ?? [];
        list.unshift({ at: Date.now(), ...(data as TransferReport) });
        list.length = Math.min(list.length, TRANSFERS_KEPT);
        this.transfers.set(key, list);
        break;
      }
      case 'audit': {
        const a = auditView(data);
        if (key && a) this.audits.set(key, newerAudit(this.audits.get(key) ?? null, a) ?? a);
        this.soon();
        break;
      }
      case 'state': {
        // show the new state at once; the status fetch brings the rest
        const d = data as { state?: string; reason?: string };
        const t = key ? this.findTarget(key) : null;
        if (t && typeof d.state === 'string') {
          t.state = d.state as typeof t.state;
          t.stateSince = Date.now();
          if (typeof d.reason === 'string') t.stateReason = d.reason;
        }
        this.soon();
        break;
      }
      case 'incident':
      case 'alert':
      case 'canary':
        this.soon();
        break;
      default:
        return;
    }
    this.changed();
  }

  private findTarget(key: string) {
    for (const s of this.status?.sources ?? [])
      for (const t of s.targets) if (keyOf(s.name, t.target) === key) return t;
    return null;
  }

  /** Runs a button's POST and keeps its answer for the panel. */
  async act(action: Action, source: string, target: string): Promise<void> {
    const key = keyOf(source, target);
    const path =
      action === 'resume'
        ? `api/targets/${encodeURIComponent(key)}/resume`
        : `api/sources/${encodeURIComponent(source)}/${action}`;
    this.busy = { key, action };
    this.result = null;
    this.changed();
    try {
      let body = await api<unknown>(this.token, 'POST', path);
      if (action === 'audit') {
        body = await this.auditJob(body);
        this.takeAuditAnswer(body);
      }
      this.result = { key, action, ok: true, message: describe(action, body, key), at: Date.now() };
    } catch (e) {
      if (e instanceof AuthError) {
        this.needToken = true;
        this.tokenRejected = this.token !== null;
      }
      this.result = { key, action, ok: false, message: (e as Error).message, at: Date.now() };
    }
    this.busy = null;
    this.changed();
    this.soon();
  }

  /**
   * The API answers an audit with 202 and a job id; the job's result has
   * every target's drift entries (the 'audit' event and the status only
   * counts).
   */
  private async auditJob(accepted: unknown): Promise<unknown> {
    const id = (accepted as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') return accepted;
    for (;;) {
      const job = await api<{ state: string; result?: unknown; error?: string }>(
        this.token,
        'GET',
        `api/audits/${encodeURIComponent(id)}`,
      );
      if (job.state === 'failed') throw new Error(`audit failed: ${job.error ?? 'no reason given'}`);
      if (job.state !== 'running') return job.result;
      await new Promise((r) => setTimeout(r, AUDIT_POLL_MS));
    }
  }

  /** An audit answer may carry each target's result, entries included. */
  private takeAuditAnswer(body: unknown): void {
    for (const item of resultsOf(body)) {
      const key = eventKey(item);
      const a = auditView(item);
      if (key && a) this.audits.set(key, newerAudit(this.audits.get(key) ?? null, a) ?? a);
    }
  }
}

function resultsOf(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  if (typeof body !== 'object' || body === null) return [];
  const b = body as Record<string, unknown>;
  for (const k of ['results', 'targets', 'audits']) if (Array.isArray(b[k])) return b[k] as unknown[];
  return [body];
}

function describe(action: Action, body: unknown, key: string): string {
  if (action === 'audit') {
    const parts = resultsOf(body)
      .filter((r) => eventKey(r) === key)
      .map((r) => auditView(r))
      .filter((a): a is AuditView => a !== null)
      .map((a) => {
        if (a.error) return `could not audit: ${a.error}`;
        const n = Object.values(a.counts).reduce((x, y) => x + y, 0);
        return n === 0 ? 'in sync' : `${n} drift entr${n === 1 ? 'y' : 'ies'}`;
      });
    if (parts.length > 0) return `audit done: ${parts.join('; ')}`;
  }
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const msg = typeof b.message === 'string' ? b.message : null;
  const verb = { sync: 'full sync requested', audit: 'audit requested', resume: 'resumed' }[action];
  return msg ?? verb;
}
