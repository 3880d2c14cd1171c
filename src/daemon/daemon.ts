import { EventEmitter } from 'node:events';
import { closeSync, constants, openSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Alert, Incident, WorkerAlert } from '../alerts/index.js';
import type { ApiServer } from '../api/index.js';
import {
  type AuditResult,
  auditTarget,
  type DriftEntry,
  failedAudit,
  type PendingIndex,
  pendingIndex,
} from '../audit/index.js';
import { changesOf } from '../coalesce/index.js';
import type { Change } from '../coalesce/types.js';
import {
  type Config,
  rootIgnore,
  type SourceConfig,
  type TargetConfig,
  targetSpec,
} from '../config/index.js';
import { type Delivery, type TargetState, TargetWorker, type TransferReport } from '../dispatch/index.js';
import { Filter, routeEvents } from '../filter/index.js';
import { Hooks } from '../hooks/index.js';
import {
  AUDIT_SAMPLE,
  type AuditRow,
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
import { Canary, type CanaryEvent, type CanaryState } from '../probe/index.js';
import { Scheduler } from '../schedule/index.js';
import {
  localRsyncVersion,
  SENDER_SYMLINK_FIX,
  type SourceSpec,
  senderSymlinkWarning,
  type TargetSpec,
} from '../transport/index.js';
import { display } from '../util/bytes.js';
import type { Logger } from '../util/log.js';
import {
  fullSyncAfterRecovery,
  HardLinks,
  type RecoveredInfo,
  readMaxUserWatches,
  TreeWatcher,
  type UnwatchedSummary,
} from '../watch/index.js';
import type { FsEvent, FsEventKind } from '../watch/types.js';
import { startControlServer } from './control.js';

/** How often a source whose directory is missing is looked for again. */
const SOURCE_RETRY_MS = 10_000;
/** How often lag and the source roots' devices are checked. */
const HEALTH_MS = 2_000;

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

import type {
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

interface SourceRuntime {
  config: SourceConfig;
  state: SourceState;
  filter: Filter;
  watcher: TreeWatcher | null;
  /** the names of each linked file, so they travel together (rsync -H links within one list) */
  links: HardLinks | null;
  workers: TargetWorker[];
  retry: NodeJS.Timeout | null;
  watchedDirs: number;
  overflows: number;
  lastOverflowAt: number | null;
  maxUserWatches: number | null;
  /** st_dev of the root when watching began: a change means it was unmounted or replaced */
  dev: number | null;
  /** the source as rsync sees it (root, filters incl. state_dir) and each worker's target, for audits */
  spec: SourceSpec;
  targetSpecs: TargetSpec[];
  /** audits in progress: the changes the watcher accepts meanwhile are pending for them */
  auditWatch: Set<Change[]>;
  /** writes and reads back the canary, when the source has one */
  canary: Canary | null;
  /** the root directory, held open from the first watch until the source stops (spec.readRoot names it) */
  rootFd: number | null;
}

/** Entries a daemon audit returns per list. */
const AUDIT_ENTRIES = 1000;

/**
 * The running syncward: for each source a watcher, a filter and one worker
 * per target, wired as the pipeline of docs/architecture.md. A source or target that fails
 * never stops the others.
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
  private sources: SourceRuntime[] = [];
  private stopping = false;
  private scheduler = new Scheduler();
  private journal: Journal | null = null;
  private lock: { release(): void } | null = null;
  /** the previous run did not stop cleanly: what the kernel still held for it is lost, so every target gets a full sync */
  private unclean = false;
  private control: Server | null = null;
  private api: ApiServer | null = null;
  private health: NodeJS.Timeout | null = null;
  private monitor: Monitor | null = null;
  private hooks: Hooks | null = null;
  private config: Config;
  private readonly isRoot = process.getuid?.() === 0;
  /** the last audit per target key ("source/target") */
  private readonly lastAudits = new Map<string, AuditSummary>();
  /** audits running per target key: a second request joins the first */
  private readonly auditsRunning = new Map<string, Promise<TargetAuditResult>>();

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
    });
    this.monitor.start();
    this.hooks = new Hooks(this.config.sources, this.log);
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
    this.health = setInterval(() => this.checkHealth(), HEALTH_MS);
    this.health.unref();
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

  /** Logs and emits an alert. */
  private raise(a: Omit<Alert, 'at'>): void {
    const alert: Alert = { ...a, at: Date.now() };
    this.log.error(
      { alert: alert.kind, source: alert.source, target: alert.target, paths: alert.paths?.slice(0, 20) },
      `ALERT ${alert.kind}: ${alert.message}`,
    );
    this.emit('alert', alert);
    this.monitor?.onAlert(alert);
  }

  /** Lag per target, and whether each watched root is still the same filesystem. */
  private checkHealth(): void {
    const now = Date.now();
    for (const s of this.sources) {
      for (const w of s.workers) w.checkLag(now);
      if (s.state !== 'watching' || s.dev === null) continue;
      let dev: number | null = null;
      try {
        dev = statSync(s.config.path).dev;
      } catch {
        dev = null;
      }
      if (dev !== s.dev)
        this.rootGone(s, dev === null ? 'removed' : 'unmounted or replaced (its device changed)');
    }
  }

  /** The source root vanished or changed: hold every target before anything is deleted on them. */
  private rootGone(s: SourceRuntime, reason: string): void {
    if (s.state === 'rootGone') return;
    s.state = 'rootGone';
    const { name, path } = s.config;
    this.raise({
      kind: 'rootGone',
      source: name,
      message: `source ${name}: the source root ${path} was ${reason}; every target is on hold so nothing is deleted on them; restore the directory, then restart syncward (or send it SIGHUP)`,
    });
    for (const w of s.workers) w.hold(`source root ${path} was ${reason}`);
    this.unwatch(s);
  }

  private makeSource(sc: SourceConfig): SourceRuntime {
    // state_dir is never inside a source: the config's path rules refuse it
    const filter = new Filter({ exclude: sc.exclude, include: sc.include });
    const source: SourceSpec = { root: sc.path, filterArgs: filter.rsyncArgs(), delete: sc.delete };
    const targetSpecs = sc.targets.map((tc) => ({
      ...targetSpec(tc, this.config.stateDir),
      rsyncVersion: localRsyncVersion()?.version,
    }));
    const runtime: SourceRuntime = {
      config: sc,
      state: 'starting',
      filter,
      watcher: null,
      links: null,
      workers: [],
      retry: null,
      watchedDirs: 0,
      overflows: 0,
      lastOverflowAt: null,
      maxUserWatches: null,
      dev: null,
      spec: source,
      targetSpecs,
      auditWatch: new Set(),
      canary: null,
      rootFd: null,
    };
    if (sc.canary) {
      const cc = sc.canary;
      runtime.canary = new Canary({
        source: sc.name,
        root: sc.path,
        path: cc.path,
        intervalMs: cc.intervalS * 1000,
        timeoutMs: cc.timeoutS * 1000,
        targets: targetSpecs,
        log: this.log,
        active: () => runtime.state === 'watching',
        onEvent: (e) => this.canaryEvent(e, cc.timeoutS),
      });
    }
    runtime.workers = sc.targets.map((tc, i) => {
      const key = `${sc.name}/${tc.name}`;
      if (!this.lastAudits.has(key)) {
        // status shows the last audit across restarts
        const last = this.journal?.recentAudits(key, 1)[0];
        if (last) this.lastAudits.set(key, summaryOf(last));
      }
      const w = new TargetWorker({
        sourceName: sc.name,
        source,
        target: targetSpecs[i] as TargetSpec,
        delayMs: sc.delayMs,
        maxWaitMs: sc.maxWaitMs,
        isRoot: this.isRoot,
        log: this.log,
        journal: this.journal ?? undefined,
        key,
        maxDelete: tc.maxDelete,
        fullSyncThreshold: sc.fullSyncThreshold,
        stuckAfter: sc.stuckAfter,
        lagThresholdS: sc.lagThresholdS,
        rootIgnore: rootIgnore(sc, this.config.stateDir),
        rootDev: () => runtime.dev,
      });
      w.on('transfer', (r: TransferReport) => this.emit('transfer', r));
      // the canary is read back right after something reached the target: its lag is not rounded up to a poll
      w.on('delivered', () => runtime.canary?.delivered(tc.name));
      w.on('delivered', (d: Delivery) => {
        this.emit('delivered', sc.name, tc.name, d);
        this.hooks?.delivered(sc.name, tc.name, d);
      });
      w.on('alert', (a: WorkerAlert) => this.raise({ ...a, source: sc.name, target: tc.name }));

      w.on('state', (state: TargetState, _prev: TargetState, reason: string) => {
        this.emit('state', sc.name, tc.name, state, reason);
        this.monitor?.poke();
      });
      return w;
    });
    return runtime;
  }

  private async startSource(s: SourceRuntime): Promise<void> {
    if (this.stopping) return;
    const { name, path } = s.config;
    try {
      if (!statSync(path).isDirectory())
        throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      s.state = 'missing';
      this.log.error(
        { source: name, path, code },
        `source ${name}: ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be used (${code ?? (e as Error).message})`}; other sources keep running; looking again every ${SOURCE_RETRY_MS / 1000} s`,
      );
      s.retry = setTimeout(() => {
        s.retry = null;
        void this.startSource(s);
      }, SOURCE_RETRY_MS);
      return;
    }
    const watcher = new TreeWatcher(path, { ignoreDir: (rel) => s.filter.excludes(rel, true) });
    s.watcher = watcher;
    const links = new HardLinks(path, (rel, isDir) => s.filter.excludes(rel, isDir));
    s.links = links;
    const accept = (batch: FsEvent[]) => {
      const routed = routeEvents(s.filter, batch);
      if (routed.length === 0) return;
      this.log.debug({ source: name, events: routed.length }, 'events');
      const kinds: BatchEvent['kinds'] = {};
      for (const e of routed) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
      this.emit('batch', {
        source: name,
        at: Date.now(),
        events: routed.length,
        kinds,
        sample: routed.slice(0, 5).map((e) => `${e.kind} ${display(e.path) || '.'}`),
      } satisfies BatchEvent);
      // Journal first: once recorded, a change survives a crash until each target has it
      let seq = 0;
      const changes = changesOf(routed);
      for (const seen of s.auditWatch) for (const c of changes) if (seen.length < 1_000_000) seen.push(c);
      try {
        seq =
          this.journal?.recordChanges(
            s.workers.map((w) => w.key),
            changes,
          ) ?? 0;
      } catch (e) {
        this.log.error(
          { source: name, err: (e as Error).message },
          `journal: cannot record changes (${(e as Error).message}); they are still sent, but would be lost by a crash now: check the disk of state_dir ${this.config.stateDir}`,
        );
      }
      for (const w of s.workers) w.addEvents(routed, seq);
    };
    watcher.on('events', (batch: FsEvent[]) => accept(links.expand(batch)));
    // a linked file's other names, found by a scan after the event
    links.on('events', accept);
    watcher.on('overflow', () => {
      s.overflows++;
      s.lastOverflowAt = Date.now();
      this.log.warn(
        { source: name },
        `source ${name}: the kernel's inotify queue overflowed (fs.inotify.max_queued_events) and events were lost; running a full catch-up sync to every target`,
      );
      this.emit('overflow', name);
      this.raise({
        kind: 'overflow',
        source: name,
        message: `source ${name}: inotify queue overflow; a full catch-up sync runs to every target`,
      });
      for (const w of s.workers) w.requestFullSync('inotify queue overflow');
    });
    watcher.on('watchLimit', (info: { message: string }) => {
      this.raise({ kind: 'watchLimit', source: name, message: info.message });
      for (const w of s.workers) w.requestFullSync('watch limit reached');
    });
    watcher.on('warning', (info: { path: string; code: string; message: string }) => {
      this.log.warn({ source: name, ...info }, `source ${name}: ${info.message}`);
    });
    watcher.on('recovered', (info: RecoveredInfo) => this.unwatchedRecovered(s, info));
    watcher.on('rootGone', (info: { reason: string }) => this.rootGone(s, info.reason));
    try {
      const { dirs, ms } = await watcher.start();
      s.watchedDirs = dirs;
      s.maxUserWatches = readMaxUserWatches();
      s.state = 'watching';
      try {
        s.dev = statSync(path).dev;
      } catch {
        s.dev = null;
      }
      this.pinRoot(s);
      this.log.info(
        { source: name, path, dirs, ms },
        `source ${name}: watching ${dirs} directories under ${path} (${ms} ms)`,
      );
      this.emit('ready', name);
    } catch (e) {
      this.log.error(
        { source: name, path, err: (e as Error).message },
        `source ${name}: cannot watch ${path}: ${(e as Error).message}`,
      );
      this.unwatch(s);
      s.state = 'missing';
      s.retry = setTimeout(() => {
        s.retry = null;
        void this.startSource(s);
      }, SOURCE_RETRY_MS);
      return;
    }
    // What an earlier run had not delivered goes first, then (watches being in
    // place) the full sync: whatever changed while syncward was down, or
    // during the walk, is covered.
    for (const w of s.workers) {
      if (!this.journal) break;
      const rows = this.journal.pending(w.key);
      if (rows.length > 0) {
        this.log.info(
          { source: name, target: w.name, pending: rows.length },
          `target ${name}/${w.name}: ${rows.length} change(s) pending from the journal`,
        );
        w.loadPending(rows);
      }
      const needsFull = this.journal.target(w.key)?.needsFull;
      if (needsFull) w.requestFullSync(`left from the last run: ${needsFull}`);
    }
    // initial_sync: false trusts the journal after a clean stop; after a crash,
    // events the kernel still queued were never journaled: a full sync, always
    if (s.config.initialSync) for (const w of s.workers) w.requestFullSync('startup');
    else if (this.unclean) for (const w of s.workers) w.requestFullSync('unclean restart');
    s.canary?.start();
    links.start();
  }

  /**
   * Every directory that could not be listed or watched is watched again and
   * was sent whole. After a long spell (the `unwatched` alert fired) or a
   * root that could not be listed, a full sync makes sure.
   */
  private unwatchedRecovered(s: SourceRuntime, info: RecoveredInfo): void {
    const name = s.config.name;
    const ms = Date.now() - info.since;
    const full = fullSyncAfterRecovery({
      unwatchedMs: ms,
      alertAfterMs: this.config.alerts.unwatchedAfterS * 1000,
      root: info.root,
    });
    this.log.info(
      { source: name, dirs: info.dirs, ms, fullSync: full },
      `source ${name}: every directory is watched again after ${Math.round(ms / 1000)} s; ${info.dirs} directory tree(s) that could not be listed or watched were sent whole${full ? ', and a full sync runs' : ''}`,
    );
    if (full)
      for (const w of s.workers)
        w.requestFullSync(`directories were unwatched for ${Math.round(ms / 1000)} s`);
    this.monitor?.poke();
  }

  /** A canary arrived on a target, or is missing there ('canary' event; missing raises canaryMissing). */
  private canaryEvent(e: CanaryEvent, timeoutS: number): void {
    this.emit('canary', e);
    if (!e.missing) return;
    const since = new Date(e.missingSince ?? e.at).toISOString();
    this.raise({
      kind: 'canaryMissing',
      source: e.source,
      target: e.target,
      message: `the canary of source ${e.source} written at ${since} has not arrived on target ${e.target} within ${timeoutS} s (watcher or transfer path dead); check the target's state and this log for rsync errors; it clears when a later canary arrives`,
    });
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

  /** Resumes a held target by name ("target" or "source/target"). Returns how many were resumed. */
  resume(name: string): number {
    let n = 0;
    for (const s of this.sources)
      for (const w of s.workers) if ((w.name === name || w.key === name) && w.resume()) n++;
    return n;
  }

  /**
   * Queues a full sync of a source to all its targets (each goes through the
   * delete guard before it deletes anything). A source that is not watched
   * (missing, root gone) is refused: false, a warning and a 'refused' event.
   */
  fullSync(sourceName: string, reason = 'requested'): boolean {
    const s = this.sources.find((x) => x.config.name === sourceName);
    if (!s) return false;
    if (s.state !== 'watching') {
      // a missing or vanished source must not be "synced" (with --delete that empties targets)
      const why =
        s.state === 'rootGone'
          ? `its root ${s.config.path} vanished, was unmounted or replaced; restore it, then send syncward SIGHUP`
          : `it is ${s.state}, not watched`;
      const event: RefusedEvent = { source: sourceName, what: 'full sync', reason, why, at: Date.now() };
      this.log.warn(
        { source: sourceName, state: s.state, reason },
        `source ${sourceName}: full sync (${reason}) refused: ${why}`,
      );
      this.emit('refused', event);
      return false;
    }
    for (const w of s.workers) w.requestFullSync(reason);
    return true;
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
    const s = this.sources.find((x) => x.config.name === sourceName);
    if (!s) return null;
    const picked = s.workers
      .map((w, i) => ({ w, i }))
      .filter(({ w }) => opts.target === undefined || w.name === opts.target || w.key === opts.target);
    const results = await Promise.all(
      picked.map(({ w, i }) => {
        const running = this.auditsRunning.get(w.key);
        if (running) return running;
        const p = this.auditOne(s, w, i, opts.checksum === true).finally(() =>
          this.auditsRunning.delete(w.key),
        );
        this.auditsRunning.set(w.key, p);
        return p;
      }),
    );
    return { source: sourceName, results };
  }

  private async auditOne(
    s: SourceRuntime,
    w: TargetWorker,
    i: number,
    checksum: boolean,
  ): Promise<TargetAuditResult> {
    const at = Date.now();
    const tc = s.config.targets[i] as TargetConfig;
    let r: AuditResult;
    // not audited: a missing source would look like everything extra, a down target like nothing
    const skip =
      s.state !== 'watching'
        ? `source ${s.config.name} is ${s.state}, not watching: not audited`
        : w.state === 'down' || w.state === 'misconfigured'
          ? `target is ${w.state}${w.stateReason ? ` (${w.stateReason})` : ''}: not audited`
          : null;
    if (skip) {
      r = failedAudit(skip, 0);
    } else {
      const seen: Change[] = [];
      s.auditWatch.add(seen);
      try {
        r = await auditTarget(s.spec, s.targetSpecs[i] as TargetSpec, {
          isRoot: this.isRoot,
          checksum,
          exclude: s.config.canary ? [`/${s.config.canary.path}`] : [],
          pending: () => this.pendingFor(w.key, seen),
          stuck: w.stuckList(),
        });
      } catch (e) {
        r = failedAudit(`audit failed: ${(e as Error).message}`, Date.now() - at);
      } finally {
        s.auditWatch.delete(seen);
      }
    }
    const summary: AuditSummary = {
      at,
      checksum,
      ok: r.ok && r.entries.length === 0 && !r.truncated && r.stuck.length === 0,
      error: r.ok ? null : (r.error ?? 'unknown error'),
      drift: { ...r.counts },
      pending: r.pendingCount,
      stuck: r.stuck.length,
    };
    const entry = (e: DriftEntry): AuditEntry => ({ ...e, path: e.path === '' ? '.' : display(e.path) });
    const result: TargetAuditResult = {
      source: s.config.name,
      target: w.name,
      url: tc.url,
      summary,
      entries: r.entries.slice(0, AUDIT_ENTRIES).map(entry),
      pendingEntries: r.pending.slice(0, AUDIT_ENTRIES).map(entry),
      truncated: r.truncated || r.entries.length > AUDIT_ENTRIES,
      durationMs: r.durationMs,
    };
    this.lastAudits.set(w.key, summary);
    try {
      this.journal?.recordAudit({
        target: w.key,
        at,
        checksum,
        ok: summary.ok,
        error: summary.error,
        counts: summary.drift,
        pending: summary.pending,
        durationMs: r.durationMs,
        sample: result.entries
          .slice(0, AUDIT_SAMPLE)
          .map(({ kind, path, detail }) => ({ kind, path, detail })),
      });
    } catch (e) {
      this.log.error(
        { err: (e as Error).message },
        `journal: cannot record the audit of ${w.key}: ${(e as Error).message}`,
      );
    }
    const key = `${s.config.name}/${w.name}`;
    if (summary.error !== null) {
      this.log.warn(
        { source: s.config.name, target: w.name },
        `audit of ${key}: could not audit: ${summary.error}`,
      );
    } else if (!summary.ok && r.entries.length === 0 && !r.truncated) {
      // stuck paths have their own alert
      this.log.warn(
        { source: s.config.name, target: w.name, stuck: r.stuck.slice(0, 20).map(display) },
        `audit of ${key}: in sync but for ${r.stuck.length} stuck path(s) that fail every transfer (${r.stuck.slice(0, 3).map(display).join(', ')}${r.stuck.length > 3 ? ', ...' : ''})`,
      );
    } else if (!summary.ok) {
      const total = Object.values(summary.drift).reduce((a, b) => a + b, 0);
      const counts = Object.entries(summary.drift)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');
      const examples = result.entries
        .slice(0, 3)
        .map((e) => `${e.kind} ${e.path}`)
        .join('; ');
      this.raise({
        kind: 'drift',
        source: s.config.name,
        target: w.name,
        message: `target ${key} differs from the source: ${counts}${examples ? ` (e.g. ${examples})` : ''}${total > 3 ? ', ...' : ''}; something changed it outside syncward, or a transfer lost it. See: syncward audit -c CONFIG --source ${s.config.name} --target ${w.name}; fix with --repair`,
        paths: result.entries.map((e) => e.path),
      });
    } else {
      this.log.info(
        { source: s.config.name, target: w.name, pending: summary.pending, ms: r.durationMs },
        `audit of ${key}: in sync${summary.pending > 0 ? ` (${summary.pending} difference(s) still pending, not drift)` : ''}`,
      );
    }
    this.emit('audit', { source: s.config.name, target: w.name, summary } satisfies AuditEvent);
    return result;
  }

  /** What a target still has coming: its journal rows, a full sync owed, and what the watcher accepted meanwhile. */
  private pendingFor(key: string, seen: readonly Change[]): PendingIndex {
    const j = this.journal;
    const rows = j?.pending(key) ?? [];
    const full = j?.target(key)?.needsFull ?? null;
    return pendingIndex([...rows, ...seen], full);
  }

  status(): SourceStatus[] {
    return this.sources.map((s) => ({
      name: s.config.name,
      path: s.config.path,
      state: s.state,
      watchedDirs: s.watcher?.watchedDirs ?? 0,
      overflows: s.overflows,
      lastOverflowAt: s.lastOverflowAt,
      maxUserWatches: s.maxUserWatches,
      unwatched: s.watcher?.unwatchedSummary() ?? { dirs: 0, since: null, codes: [], sample: [] },
      targets: s.workers.map((w, i) => ({
        source: s.config.name,
        target: w.name,
        url: (s.config.targets[i] as TargetConfig).url,
        state: w.state,
        stateSince: w.stateSince,
        stateReason: w.stateReason,
        pending: w.pending,
        oldestPendingAt: w.oldestPendingAt(),
        stuck: w.stuck,
        stuckPaths: w.stuckNames(),
        holdReason: w.held,
        lastSuccessAt: w.lastSuccessAt,
        lastFullSyncAt: w.lastFullSyncAt,
        lastError: w.lastError,
        lastAudit: this.lastAudits.get(w.key) ?? null,
        canary: s.canary?.status(w.name) ?? null,
      })),
    }));
  }

  /** True when every watched source's workers have nothing pending or running. */
  isIdle(): boolean {
    return this.sources.every((s) => s.state !== 'watching' || s.workers.every((w) => w.isIdle));
  }

  /** Closes a source's watcher and what works beside it. */
  private unwatch(s: SourceRuntime): void {
    s.watcher?.close();
    s.watcher = null;
    s.links?.close();
    s.links = null;
  }

  /**
   * From here on rsync reads the source through a directory fd, not its path
   * (see SourceSpec.readRoot): what a transfer reads is the tree whose
   * device the daemon watches, even if the root is unmounted or replaced
   * while it runs. The fd is closed only after the source's workers stopped,
   * so its number is never reused under a transfer.
   */
  private pinRoot(s: SourceRuntime): void {
    if (s.rootFd !== null) return;
    try {
      s.rootFd = openSync(s.config.path, constants.O_RDONLY | constants.O_DIRECTORY);
      s.spec.readRoot = `/proc/${process.pid}/fd/${s.rootFd}`;
    } catch (e) {
      this.log.warn(
        { source: s.config.name, err: (e as Error).message },
        `source ${s.config.name}: cannot hold the root open (${(e as Error).message}); rsync reads it by path`,
      );
    }
  }

  /** Stops a source: no more watching; transfers in flight finish (at most `graceMs`). */
  private async stopSource(s: SourceRuntime, graceMs: number): Promise<void> {
    if (s.retry) clearTimeout(s.retry);
    s.retry = null;
    this.unwatch(s);
    s.state = 'stopped';
    s.canary?.stop();
    await Promise.all(s.workers.map((w) => w.stop(graceMs)));
    if (s.rootFd !== null) {
      delete s.spec.readRoot;
      closeSync(s.rootFd);
      s.rootFd = null;
    }
  }

  /**
   * Applies a new config (SIGHUP). Sources whose settings are unchanged keep
   * running untouched; added ones start; changed ones restart (their pending
   * changes are in the journal and come back); removed ones stop, and the
   * journal forgets targets that no longer exist.
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
    const sources: SourceRuntime[] = [];
    const starting: SourceRuntime[] = [];
    const replaced: SourceRuntime[] = [];
    for (const sc of next.sources) {
      const prev = old.get(sc.name);
      old.delete(sc.name);
      // a source whose root vanished restarts too: that is how SIGHUP brings it back once restored
      if (prev && prev.state !== 'rootGone' && JSON.stringify(prev.config) === JSON.stringify(sc)) {
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
    for (const prev of replaced) await this.stopSource(prev, graceMs);
    for (const [name, prev] of old) {
      removed.push(name);
      await this.stopSource(prev, graceMs);
    }
    for (const prev of this.sources)
      for (const w of prev.workers) if (!keepKeys.has(w.key)) this.journal?.forget(w.key);
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
      { added, changed, removed },
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
    if (this.health) clearInterval(this.health);
    this.health = null;
    await Promise.all(this.sources.map((s) => this.stopSource(s, graceMs)));
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

function summaryOf(a: AuditRow): AuditSummary {
  return {
    at: a.at,
    checksum: a.checksum,
    ok: a.ok,
    error: a.error,
    drift: { ...a.counts },
    pending: a.pending,
  };
}
