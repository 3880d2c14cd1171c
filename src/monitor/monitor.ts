import { hostname } from 'node:os';
import type { Alert, Incident } from '../alerts/index.js';
import type { AlertsConfig } from '../config/index.js';
import { Sink } from '../deliver/index.js';
import type { Journal } from '../journal/index.js';
import type { Logger } from '../util/log.js';
import { Pacer } from '../util/timers.js';
import { VERSION } from '../util/version.js';
import { alertChannels } from './channels.js';
import {
  type Condition,
  conditionId,
  evaluate,
  type RuleAudit,
  type RuleSource,
  type Snapshot,
  secs,
} from './rules.js';

/** How often the rules are evaluated (state changes and raw alerts evaluate sooner). */
const EVALUATE_MS = 2000;
/** ... and when nothing is pending anywhere and no incident is open: a state change evaluates at once anyway */
const QUIET_MS = 10_000;
/** After a restart, incidents that were open are kept this long at least before they may resolve. */
const RESTORE_GRACE_MS = 15_000;
/** Evaluations triggered by state changes are at least this far apart (a busy target changes state per transfer). */
const MIN_GAP_MS = 250;

/** What webhooks receive as JSON and commands on stdin. */
export interface AlertMessage {
  event: 'firing' | 'resolved';
  /** one line for humans (chat, mail subject) */
  text: string;
  /** set on a reminder (alerts.remind_every_s): the same incident still firing, sent again for the n-th time */
  reminder?: number;
  incident: Incident;
  host: string;
  syncward: string;
}

export interface MonitorOptions {
  alerts: AlertsConfig;
  /** the daemon's status() */
  status: () => RuleSource[];
  journal: Journal | null;
  log: Logger;
  /** called at fire and at resolve */
  onIncident: (incident: Incident) => void;
  startedAt?: number;
  /** nothing pending or running anywhere: with no incident open, the rules are evaluated every QUIET_MS */
  quiet?: () => boolean;
}

/**
 * Turns the daemon's state into incidents: every EVALUATE_MS (and right
 * after state changes and raw alerts) it evaluates the rules and compares
 * with the open incidents: a new condition fires once, a condition gone
 * resolves once. Both go to the log, the daemon ('incident'), the journal,
 * and every webhook and alert command.
 */
export class Monitor {
  private readonly open = new Map<string, Incident>();
  /** incidents open when the previous run stopped, not yet seen again */
  private readonly restored = new Map<string, Incident>();
  private readonly startedAt: number;
  private uncleanRestartAt: number | null = null;
  private readonly noSpaceAt: Record<string, number> = {};
  private readonly watchLimit: Record<string, { at: number; message: string }> = {};
  private readonly lastCompletedAudit: Record<string, RuleAudit> = {};
  /** conditions whose raised alert the daemon logged as `ALERT <kind>:` since the last evaluation */
  private readonly raised = new Set<string>();
  /** open incident id -> when it was last sent (fired, restored or reminded) and how many reminders went */
  private readonly sent = new Map<string, { at: number; reminders: number }>();
  private alerts: AlertsConfig;
  private sinks: Sink<AlertMessage>[] = [];
  private timer: Pacer | null = null;
  private soon: NodeJS.Timeout | null = null;
  private lastEvaluation = 0;
  private stopped = false;
  private readonly host = hostname();

  constructor(private readonly o: MonitorOptions) {
    this.startedAt = o.startedAt ?? Date.now();
    this.alerts = o.alerts;
    this.sinks = this.makeSinks(o.alerts);
    try {
      for (const inc of o.journal?.openIncidents() ?? []) this.restored.set(inc.id, inc);
    } catch (e) {
      o.log.error(
        { err: (e as Error).message },
        `journal: cannot read open incidents (${(e as Error).message}); alerts that were firing before the restart may fire again`,
      );
    }
  }

  start(): void {
    this.timer = new Pacer(
      () => this.evaluateNow(),
      () => this.open.size === 0 && this.restored.size === 0 && (this.o.quiet?.() ?? false),
      EVALUATE_MS,
      QUIET_MS,
    );
    this.timer.start();
  }

  /** Stops evaluating; waiting alert messages are dropped (open incidents stay open in the journal). */
  stop(): void {
    this.stopped = true;
    this.timer?.stop();
    this.timer = null;
    if (this.soon) clearTimeout(this.soon);
    this.soon = null;
    for (const s of this.sinks) s.close();
  }

  /** New thresholds and destinations (SIGHUP). Open incidents stay open. */
  reconfigure(alerts: AlertsConfig): void {
    const sinksChanged =
      JSON.stringify([alerts.webhooks, alerts.commands, alerts.email]) !==
      JSON.stringify([this.alerts.webhooks, this.alerts.commands, this.alerts.email]);
    this.alerts = alerts;
    if (sinksChanged) {
      for (const s of this.sinks) s.close();
      this.sinks = this.makeSinks(alerts);
    }
    this.poke();
  }

  /** The incidents firing now. */
  incidents(): Incident[] {
    return [...this.open.values(), ...this.restored.values()].map((i) => ({ ...i }));
  }

  /** Waits until every alert message queued so far was sent or given up (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.idle()));
  }

  /** Latches the raw alerts that are events rather than states, then evaluates soon. */
  onAlert(a: Alert): void {
    this.raised.add(conditionId(a.kind, a.source, a.target));
    if (a.kind === 'uncleanRestart') this.uncleanRestartAt = a.at;
    else if (a.kind === 'noSpace' && a.target !== undefined) this.noSpaceAt[`${a.source}/${a.target}`] = a.at;
    else if (a.kind === 'watchLimit') this.watchLimit[a.source] = { at: a.at, message: a.message };
    // an overflow's condition lasts only until its catch-up full sync, which on a small tree can end
    // within MIN_GAP_MS: look now, while it holds, so the incident fires (once per spell: no storm)
    if (a.kind === 'overflow') this.evaluateNow();
    else this.poke();
  }

  /** Something changed (a target's state, a raw alert): evaluate right away, but not more often than MIN_GAP_MS. */
  poke(): void {
    if (this.stopped || this.soon) return;
    const wait = Math.max(0, this.lastEvaluation + MIN_GAP_MS - Date.now());
    this.soon = setTimeout(() => {
      this.soon = null;
      this.evaluateNow();
    }, wait);
    this.soon.unref();
  }

  /** Evaluates the rules now and fires / resolves what changed. Returns the conditions. */
  evaluateNow(now = Date.now()): Condition[] {
    if (this.stopped) return [];
    this.lastEvaluation = Date.now();
    let sources: RuleSource[];
    try {
      sources = this.o.status();
    } catch (e) {
      this.o.log.error({ err: (e as Error).message }, `monitor: cannot read status: ${(e as Error).message}`);
      return [];
    }
    for (const s of sources)
      for (const t of s.targets)
        if (t.lastAudit && t.lastAudit.error === null)
          this.lastCompletedAudit[`${s.name}/${t.target}`] = t.lastAudit;
    const snap: Snapshot = {
      startedAt: this.startedAt,
      uncleanRestartAt: this.uncleanRestartAt,
      sources,
      noSpaceAt: this.noSpaceAt,
      watchLimit: this.watchLimit,
      lastCompletedAudit: this.lastCompletedAudit,
    };
    const conditions = evaluate(snap, this.alerts, now);
    const current = new Map(conditions.map((c) => [c.id, c]));
    for (const c of conditions) {
      const firing = this.open.get(c.id);
      if (firing) {
        // what the condition says now (down for an hour, 27 overflows): status, reminders and the resolve show it
        firing.message = c.message;
        continue;
      }
      const before = this.restored.get(c.id);
      if (before) {
        // it was firing before the restart and still is: no second firing
        this.restored.delete(c.id);
        this.open.set(c.id, before);
        // its reminders count from the restart: the previous run may have sent one just before it stopped
        this.sent.set(c.id, { at: now, reminders: 0 });
        continue;
      }
      this.fire(c, now);
    }
    for (const [id, inc] of this.open) if (!current.has(id)) this.resolve(inc, now);
    this.remind(now);
    this.raised.clear();
    if (this.restored.size > 0) this.settleRestored(snap, sources, now);
    return conditions;
  }

  /**
   * Incidents open before a restart resolve only once the daemon had a
   * chance to see their cause again: not during the first RESTORE_GRACE_MS,
   * not while their source's targets are starting, and not while the cause
   * holds below its time threshold (a target down again, but not yet for
   * down_after_s).
   */
  private settleRestored(snap: Snapshot, sources: RuleSource[], now: number): void {
    if (now - this.startedAt < RESTORE_GRACE_MS) return;
    const early = new Set(
      evaluate(
        snap,
        { ...this.alerts, downAfterS: 0, misconfiguredAfterS: 0, lagAboveS: 0, unwatchedAfterS: 0 },
        now,
      ).map((c) => c.id),
    );
    for (const [id, inc] of this.restored) {
      const mine = sources.filter((s) => inc.source === '*' || s.name === inc.source);
      const starting = mine.some(
        (s) => s.state === 'starting' || s.targets.some((t) => t.state === 'starting'),
      );
      if (starting || early.has(id)) continue;
      this.restored.delete(id);
      this.resolve(inc, now);
    }
  }

  /** Sends each incident still firing again once alerts.remind_every_s has passed since it was last sent. */
  private remind(now: number): void {
    const every = this.alerts.remindEveryS * 1000;
    if (every <= 0) return;
    for (const [id, inc] of this.open) {
      const last = this.sent.get(id) ?? { at: inc.firedAt, reminders: 0 };
      if (now - last.at < every) continue;
      const reminders = last.reminders + 1;
      this.sent.set(id, { at: now, reminders });
      const still: Incident = { ...inc };
      const text = `[${inc.severity}] ${inc.kind} still firing after ${secs(now - inc.firedAt)}: ${still.message}`;
      this.o.log[levelOf(inc)](
        {
          incident: id,
          alert: inc.kind,
          severity: inc.severity,
          source: inc.source,
          target: inc.target,
          reminder: reminders,
        },
        `ALERT reminder ${inc.kind}: ${text}`,
      );
      const msg: AlertMessage = {
        event: 'firing',
        text,
        reminder: reminders,
        incident: still,
        host: this.host,
        syncward: VERSION,
      };
      for (const s of this.sinks) s.push(msg);
    }
  }

  private fire(c: Condition, now: number): void {
    const inc: Incident = {
      id: c.id,
      kind: c.kind,
      severity: c.severity,
      source: c.source,
      target: c.target,
      message: c.message,
      firedAt: now,
      resolvedAt: null,
    };
    this.open.set(c.id, inc);
    this.sent.set(c.id, { at: now, reminders: 0 });
    // an alert the daemon raised was logged already (`ALERT <kind>:`, with its paths): log each alert once
    const fields = {
      incident: inc.id,
      alert: inc.kind,
      severity: inc.severity,
      source: inc.source,
      target: inc.target,
    };
    if (this.raised.has(c.id)) this.o.log.debug(fields, `incident firing ${inc.kind}: ${inc.message}`);
    else this.o.log[levelOf(inc)](fields, `ALERT firing ${inc.kind}: ${inc.message}`);
    this.publish('firing', inc, `[${inc.severity}] ${inc.kind}: ${inc.message}`);
  }

  private resolve(inc: Incident, now: number): void {
    this.open.delete(inc.id);
    this.sent.delete(inc.id);
    const done: Incident = { ...inc, resolvedAt: now };
    const what = inc.target ? `${inc.source}/${inc.target}` : inc.source === '*' ? 'syncward' : inc.source;
    const text = `resolved ${inc.kind} on ${what} after ${secs(now - inc.firedAt)}`;
    this.o.log.info(
      { incident: inc.id, alert: inc.kind, source: inc.source, target: inc.target, firedAt: inc.firedAt },
      `ALERT resolved ${inc.kind}: ${text}`,
    );
    this.publish('resolved', done, text);
  }

  private publish(event: 'firing' | 'resolved', inc: Incident, text: string): void {
    try {
      this.o.journal?.recordIncident(inc);
    } catch (e) {
      this.o.log.error(
        { err: (e as Error).message },
        `journal: cannot record incident ${inc.id}: ${(e as Error).message}`,
      );
    }
    try {
      this.o.onIncident({ ...inc });
    } catch (e) {
      this.o.log.error({ err: (e as Error).message }, `incident listener failed: ${(e as Error).message}`);
    }
    const msg: AlertMessage = { event, text, incident: { ...inc }, host: this.host, syncward: VERSION };
    for (const s of this.sinks) s.push(msg);
  }

  private makeSinks(alerts: AlertsConfig): Sink<AlertMessage>[] {
    const describe = (m: AlertMessage) => `alert ${m.event} ${m.incident.id}`;
    return alertChannels(alerts).map(
      (c) => new Sink<AlertMessage>({ name: c.name, log: this.o.log, describe, send: c.send }),
    );
  }
}

/** A critical incident is logged as an error, a warning one as a warning. */
const levelOf = (inc: Incident): 'error' | 'warn' => (inc.severity === 'critical' ? 'error' : 'warn');
