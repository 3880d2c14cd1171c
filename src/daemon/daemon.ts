import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { type Alert, type Incident, SEVERITY } from '../alerts/index.js';
import type { ApiServer } from '../api/index.js';
import { AuditRunner } from '../audit/index.js';
import type { Config, SourceConfig } from '../config/index.js';
import type { Delivery, TargetState } from '../dispatch/index.js';
import { Hooks } from '../hooks/index.js';
import {
  catchUpText,
  JOURNAL_FILE,
  Journal,
  lockStateDir,
  prepareStateDir,
  StateLockedError,
  storageTroubleMessage,
} from '../journal/index.js';
import { Monitor } from '../monitor/index.js';
import { describeOpenFilesLimit, raiseOpenFilesLimit } from '../native/index.js';
import { Scheduler } from '../schedule/index.js';
import { type Lifted, Source } from '../source/index.js';
import type { SourceAuditResult, SourceStatus } from '../status/index.js';
import { localRsyncVersion, SENDER_SYMLINK_FIX, senderSymlinkWarning } from '../transport/index.js';
import type { Logger } from '../util/log.js';
import { Pacer } from '../util/timers.js';
import { startControlServer } from './control.js';

/** How often lag and the source roots' devices are checked. */
const HEALTH_MS = 2_000;
/** how often an idle daemon (every target idle, nothing pending) looks at its roots and rules */
const QUIET_MS = 10_000;

export type { Alert, AlertKind, Incident } from '../alerts/index.js';
export type {
  AuditEntry,
  AuditEvent,
  AuditSummary,
  BatchEvent,
  CanaryStatus,
  RefusedEvent,
  SourceAuditResult,
  SourceState,
  SourceStatus,
  TargetAuditResult,
  TargetStatus,
} from '../status/index.js';

/** What a Source emits that the daemon passes on unchanged. */
const FORWARDED = ['batch', 'transfer', 'overflow', 'ready', 'canary', 'refused'] as const;

/**
 * The running syncward: one Source per configured source (each runs its own
 * pipeline, see source/source.ts), and around them the journal, the API, the
 * monitor, hooks, the scheduler and the audits. A source or target that
 * fails never stops the others.
 *
 * Events: 'batch' (BatchEvent) when a source's watcher accepted changes,
 * 'transfer' (TransferReport), 'delivered' (source, target, Delivery) after a
 * transfer reached a target, 'state' (source, target, state, reason),
 * 'alert' (Alert), 'overflow' (source), 'ready' (source) when a source is watched,
 * 'audit' (AuditEvent) when an audit of a target finished, 'canary' (CanaryEvent)
 * when a canary arrived on a target or went missing there, 'refused'
 * (RefusedEvent) when a full sync was asked for a source that is not watched.
 */
export class Daemon extends EventEmitter {
  private sources: Source[] = [];
  private stopping = false;
  private scheduler = new Scheduler();
  private journal: Journal | null = null;
  private lock: { release(): void } | null = null;
  /** the previous run did not stop cleanly: what the kernel still held for it is lost, so every target gets a full sync */
  private unclean = false;
  private control: Server | null = null;
  private api: ApiServer | null = null;
  private health: Pacer | null = null;
  private monitor: Monitor | null = null;
  private hooks: Hooks | null = null;
  private audits: AuditRunner | null = null;
  private config: Config;
  private readonly isRoot = process.getuid?.() === 0;

  constructor(
    config: Config,
    private readonly log: Logger,
  ) {
    super();
    this.config = config;
  }

  async start(): Promise<void> {
    this.raiseOpenFilesLimit();
    // refuses a state_dir others could write into: root writes through whatever is planted there
    prepareStateDir(this.config.stateDir);
    const trouble = (e: unknown) =>
      new Error(
        storageTroubleMessage(e, {
          stateDir: this.config.stateDir,
          file: join(this.config.stateDir, JOURNAL_FILE),
          catchUp: catchUpText(this.config.sources, this.config.file),
          uid: process.geteuid?.() ?? 0,
        }),
        { cause: e },
      );
    // One daemon per state dir: two would send the same journal twice and race on it
    let lock: ReturnType<typeof lockStateDir>;
    try {
      lock = lockStateDir(this.config.stateDir);
    } catch (e) {
      if (e instanceof StateLockedError) throw e;
      throw trouble(e);
    }
    this.lock = lock;
    let clean: string | undefined;
    try {
      this.journal = Journal.open(this.config.stateDir);
      // the first write, here: a full disk is told now, not as a crash later
      clean = this.journal.meta('clean_shutdown');
      this.journal.setMeta('clean_shutdown', '0');
    } catch (e) {
      this.journal?.close();
      this.journal = null;
      lock.release();
      this.lock = null;
      throw trouble(e);
    }
    this.monitor = new Monitor({
      alerts: this.config.alerts,
      status: () => this.status(),
      journal: this.journal,
      log: this.log,
      onIncident: (incident) => this.emit('incident', incident),
      quiet: () => this.quiet,
    });
    this.monitor.start();
    this.hooks = new Hooks(this.config.sources, this.log);
    this.audits = new AuditRunner({
      journal: () => this.journal,
      log: this.log,
      isRoot: this.isRoot,
      raise: (a) => this.raise(a),
      onAudit: (e) => this.emit('audit', e),
      commands: { configFile: this.config.file, stateDir: this.config.stateDir },
    });
    this.unclean = lock.stale || clean === '0';
    if (this.unclean) {
      this.raise({
        kind: 'uncleanRestart',
        source: '*',
        message: `unclean restart: the previous syncward on ${this.config.stateDir} did not stop cleanly (crash, kill -9 or power loss); its pending changes are resent and every target gets a full catch-up sync`,
      });
    }
    try {
      this.control = await startControlServer(this.config.stateDir, this, this.log);
    } catch (e) {
      this.log.warn(
        { err: (e as Error).message },
        `control socket unavailable (syncward resume will not reach this daemon): ${(e as Error).message}`,
      );
    }
    // never throws: an API that cannot listen is logged and the daemon runs on without it.
    // Loaded only when it listens: with api.listen "off" the daemon does not carry
    // the HTTP server and prom-client (prom-client alone is ~3.6 MB of RSS).
    if (this.config.api.listen !== 'off') {
      const { startApi } = await import('../api/index.js');
      this.api = await startApi(this, {
        listen: this.config.api.listen,
        tokenFile: this.config.api.tokenFile,
        stateDir: this.config.stateDir,
        log: this.log,
        allowedHosts: this.config.api.allowedHosts,
        maxConnections: this.config.api.maxConnections,
        maxSseClients: this.config.api.maxSseClients,
        headerTimeoutS: this.config.api.headerTimeoutS,
      });
    }
    const rsync = localRsyncVersion()?.version;
    const sender = rsync === undefined ? null : senderSymlinkWarning(rsync, this.isRoot);
    if (sender) this.log.warn({ rsync }, `${sender}: ${SENDER_SYMLINK_FIX.join(', ')}`);
    // idle: the root's device and the lag only need a look every QUIET_MS
    this.health = new Pacer(
      () => this.checkHealth(),
      () => this.quiet,
      HEALTH_MS,
      QUIET_MS,
    );
    this.health.start();
    this.sources = this.config.sources.map((sc) => this.makeSource(sc));
    this.schedule();
    await Promise.all(this.sources.map((s) => this.startSource(s)));
  }

  /** Soft RLIMIT_NOFILE up to the hard limit, and the result in the log (a warning when low). */
  private raiseOpenFilesLimit(): void {
    try {
      const limit = raiseOpenFilesLimit();
      const { level, message } = describeOpenFilesLimit(limit);
      this.log[level](
        { openFiles: limit.soft, openFilesHard: limit.hard, openFilesBefore: limit.before },
        message,
      );
    } catch (e) {
      this.log.warn(
        { err: (e as Error).message },
        `cannot read the open files limit: ${(e as Error).message}`,
      );
    }
  }

  private schedule(): void {
    this.scheduler.stop();
    this.scheduler = new Scheduler();
    for (const sc of this.config.sources) {
      if (sc.fullSync) {
        const name = sc.name;
        this.scheduler.add({
          name: `full sync of ${name}`,
          cron: sc.fullSync,
          run: () => this.fullSync(name, 'scheduled (full_sync)'),
        });
      }
      if (sc.audit) {
        const name = sc.name;
        this.scheduler.add({
          name: `audit of ${name}`,
          cron: sc.audit,
          run: () => {
            // audit() never rejects: each target's failure is in its result
            void this.audit(name);
          },
        });
      }
    }
  }

  /** Logs (an error for a critical kind, a warning for the others) and emits an alert. */
  private raise(a: Omit<Alert, 'at'>): void {
    const alert: Alert = { ...a, at: Date.now() };
    this.log[SEVERITY[alert.kind] === 'critical' ? 'error' : 'warn'](
      { alert: alert.kind, source: alert.source, target: alert.target, paths: alert.paths?.slice(0, 20) },
      `ALERT ${alert.kind}: ${alert.message}`,
    );
    this.emit('alert', alert);
    this.monitor?.onAlert(alert);
  }

  /** Lag per target, and whether each watched root is still the same filesystem. */
  /** Every source idle (nothing pending, running or owed on any target): time alone changes nothing. */
  private get quiet(): boolean {
    return this.sources.every((s) => s.isIdle);
  }

  private checkHealth(): void {
    const now = Date.now();
    for (const s of this.sources) s.checkHealth(now);
  }

  /** A Source for `sc`, its events passed on as the daemon's. */
  private makeSource(sc: SourceConfig): Source {
    const s = new Source(sc, {
      journal: () => this.journal,
      log: this.log,
      stateDir: this.config.stateDir,
      isRoot: this.isRoot,
      unclean: this.unclean,
      unwatchedAlertMs: () => this.config.alerts.unwatchedAfterS * 1000,
      configFile: this.config.file,
    });
    const name = sc.name;
    for (const event of FORWARDED) s.on(event, (...args: unknown[]) => this.emit(event, ...args));
    s.on('alert', (a: Omit<Alert, 'at'>) => this.raise(a));
    s.on('delivered', (target: string, d: Delivery) => {
      this.emit('delivered', name, target, d);
      this.hooks?.delivered(name, target, d);
    });
    s.on('state', (target: string, state: TargetState, reason: string) => {
      this.emit('state', name, target, state, reason);
      this.monitor?.poke();
    });
    s.on('recovered', () => this.monitor?.poke());
    return s;
  }

  private async startSource(s: Source): Promise<void> {
    if (this.stopping) return;
    await s.start();
  }

  /** The alert incidents firing now (the monitor's view). */
  incidents(): Incident[] {
    return this.monitor?.incidents() ?? [];
  }

  /** Waits until queued alert messages and hook calls were sent or given up (tests, shutdown). */
  async flushNotifications(): Promise<void> {
    await Promise.all([this.monitor?.flush(), this.hooks?.idle()]);
  }

  /** Names ("source/target") of the targets on hold. */
  heldTargets(): string[] {
    return this.sources.flatMap((s) => s.workers.filter((w) => w.held !== null).map((w) => w.key));
  }

  /** Names ("source/target") of the targets an operator paused. */
  pausedTargets(): string[] {
    return this.sources.flatMap((s) => s.workers.filter((w) => w.paused !== null).map((w) => w.key));
  }

  /** Resumes a paused or held target by name ("target" or "source/target"). Returns how many were resumed. */
  resume(name: string): number {
    return this.lift(name).length;
  }

  /**
   * Lifts the pause and the safety hold of the targets named `name`; with
   * no name, every operator's pause (a safety hold is lifted only by name).
   */
  lift(name?: string): Lifted[] {
    return this.sources.flatMap((s) => s.lift(name));
  }

  /**
   * Pauses the targets named `name` ("target" or "source/target"; all when
   * undefined) until resumed: nothing is sent, changes keep journaling.
   * null when no target has that name.
   */
  pause(name?: string): { paused: string[]; already: string[] } | null {
    const found = this.sources.some((s) => s.named(name).length > 0);
    if (!found) return null;
    const out = { paused: [] as string[], already: [] as string[] };
    for (const s of this.sources) {
      const r = s.pause(name);
      out.paused.push(...r.paused);
      out.already.push(...r.already);
    }
    return out;
  }

  /**
   * Queues a full sync of a source to all its targets (each goes through the
   * delete guard before it deletes anything). A source that is not watched
   * (missing, root gone) is refused: false, a warning and a 'refused' event.
   */
  fullSync(sourceName: string, reason = 'requested'): boolean {
    return this.sources.find((x) => x.name === sourceName)?.fullSync(reason) ?? false;
  }

  /**
   * Audits a source against its targets (all, or the one named), in
   * parallel; null for an unknown source. Each result is stored in the
   * journal, becomes the target's lastAudit, is emitted as 'audit', and drift
   * raises a 'drift' alert. Paths still pending for a target are reported as
   * pending, not drift. A target already being audited is not audited twice:
   * the request gets the running audit's result. Never rejects.
   */
  async audit(
    sourceName: string,
    opts: { checksum?: boolean; target?: string } = {},
  ): Promise<SourceAuditResult | null> {
    const s = this.sources.find((x) => x.name === sourceName);
    if (!s || !this.audits) return null;
    const results = await this.audits.run(s.auditSubjects(opts.target), opts.checksum === true);
    return { source: sourceName, results };
  }

  status(): SourceStatus[] {
    return this.sources.map((s) => s.status((key) => this.audits?.lastAudit(key) ?? null));
  }

  /** True when every watched source's workers have nothing pending or running. */
  isIdle(): boolean {
    return this.sources.every((s) => s.isIdle);
  }

  /**
   * Applies a new config (SIGHUP). Sources whose settings are unchanged keep
   * running untouched; added ones start; a source whose targets alone
   * changed keeps running, and only its added or changed targets start
   * (with a full sync each, see Source.retarget); other changed sources
   * restart (their pending changes are in the journal and come back);
   * removed ones stop, and the journal forgets targets that no longer exist.
   */
  async reload(
    next: Config,
    graceMs = 10_000,
  ): Promise<{ added: string[]; changed: string[]; removed: string[] }> {
    if (next.stateDir !== this.config.stateDir) {
      this.log.warn(
        { stateDir: this.config.stateDir, requested: next.stateDir },
        `reload: state_dir cannot change while running (keeping ${this.config.stateDir}); restart syncward to move it`,
      );
      next = { ...next, stateDir: this.config.stateDir };
    }
    if (JSON.stringify(next.api) !== JSON.stringify(this.config.api))
      this.log.warn(
        { listen: this.config.api.listen, requested: next.api.listen },
        'reload: api settings cannot change while running (the API keeps its address and token); restart syncward to apply them',
      );
    const old = new Map(this.sources.map((s) => [s.config.name, s]));
    const added: string[] = [];
    const changed: string[] = [];
    const removed: string[] = [];
    const keepKeys = new Set(next.sources.flatMap((sc) => sc.targets.map((t) => `${sc.name}/${t.name}`)));
    const oldKeys = this.sources.flatMap((s) => s.keys);
    const targets: Record<string, { added: string[]; changed: string[]; removed: string[] }> = {};
    const retargeted: [Source, SourceConfig][] = [];
    const sources: Source[] = [];
    const starting: Source[] = [];
    const replaced: Source[] = [];
    for (const sc of next.sources) {
      const prev = old.get(sc.name);
      old.delete(sc.name);
      // a source whose root vanished restarts too: that is how SIGHUP brings it back once restored
      if (prev && prev.state !== 'rootGone' && JSON.stringify(prev.config) === JSON.stringify(sc)) {
        sources.push(prev);
        continue;
      }
      if (prev?.retargetable(sc)) {
        changed.push(sc.name);
        retargeted.push([prev, sc]);
        sources.push(prev);
        continue;
      }
      // built before anything stops: a source that cannot be built throws here, and the running config stays whole
      const fresh = this.makeSource(sc);
      if (prev) {
        changed.push(sc.name);
        replaced.push(prev);
      } else added.push(sc.name);
      sources.push(fresh);
      starting.push(fresh);
    }
    for (const [prev, sc] of retargeted) targets[sc.name] = await prev.retarget(sc, graceMs);
    for (const prev of replaced) await prev.stop(graceMs);
    for (const [name, prev] of old) {
      removed.push(name);
      await prev.stop(graceMs);
    }
    for (const key of oldKeys) if (!keepKeys.has(key)) this.journal?.forget(key);
    const hooksChanged =
      JSON.stringify(this.config.sources.map((s) => [s.name, s.hooks])) !==
      JSON.stringify(next.sources.map((s) => [s.name, s.hooks]));
    this.config = next;
    this.sources = sources;
    this.schedule();
    this.monitor?.reconfigure(next.alerts);
    if (hooksChanged && this.hooks) {
      this.hooks.stop();
      this.hooks = new Hooks(next.sources, this.log);
    }
    this.log.info(
      { added, changed, removed, targets },
      `config reloaded: ${added.length} source(s) added, ${changed.length} changed, ${removed.length} removed`,
    );
    await Promise.all(starting.map((s) => this.startSource(s)));
    return { added, changed, removed };
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.scheduler.stop();
    // first: stopping sources and targets must not read as incidents resolving
    this.monitor?.stop();
    this.monitor = null;
    this.health?.stop();
    this.health = null;
    await Promise.all(this.sources.map((s) => s.stop(graceMs)));
    // hooks get a moment for what the last transfers delivered
    const hooks = this.hooks;
    this.hooks = null;
    if (hooks) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([hooks.idle(), new Promise((r) => (t = setTimeout(r, Math.min(graceMs, 2000))))]);
      clearTimeout(t);
      hooks.stop();
    }
    await this.api?.close();
    this.api = null;
    await new Promise<void>((resolve) => (this.control ? this.control.close(() => resolve()) : resolve()));
    this.control = null;
    try {
      this.journal?.setMeta('clean_shutdown', '1');
      this.journal?.close();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, `journal: cannot close cleanly: ${(e as Error).message}`);
    }
    this.journal = null;
    this.lock?.release();
    this.lock = null;
  }
}
