import { EventEmitter } from 'node:events';
import { mkdirSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, relative } from 'node:path';
import { changesOf } from '../coalesce/index.js';
import { type Config, type SourceConfig, type TargetConfig, targetSpec } from '../config/index.js';
import {
  type Delivery,
  type TargetState,
  TargetWorker,
  type TransferReport,
  type WorkerAlert,
} from '../dispatch/index.js';
import { Filter } from '../filter/index.js';
import { Journal, lockStateDir } from '../journal/index.js';
import { Scheduler } from '../schedule/index.js';
import type { SourceSpec } from '../transport/index.js';
import { display } from '../util/bytes.js';
import type { Logger } from '../util/log.js';
import { readMaxUserWatches, TreeWatcher } from '../watch/index.js';
import type { FsEvent } from '../watch/types.js';
import { startControlServer } from './control.js';
import { routeEvents } from './route.js';

/** How often a source whose directory is missing is looked for again. */
const SOURCE_RETRY_MS = 10_000;
/** How often lag and the source roots' devices are checked. */
const HEALTH_MS = 2_000;

export type AlertKind = WorkerAlert['kind'] | 'uncleanRestart' | 'overflow' | 'rootGone' | 'watchLimit';

export interface Alert {
  kind: AlertKind;
  source: string;
  target?: string;
  message: string;
  paths?: string[];
  at: number;
}

export type SourceState = 'starting' | 'watching' | 'missing' | 'rootGone' | 'stopped';

interface SourceRuntime {
  config: SourceConfig;
  state: SourceState;
  filter: Filter;
  watcher: TreeWatcher | null;
  workers: TargetWorker[];
  retry: NodeJS.Timeout | null;
  watchedDirs: number;
  overflows: number;
  lastOverflowAt: number | null;
  maxUserWatches: number | null;
  /** st_dev of the root when watching began: a change means it was unmounted or replaced */
  dev: number | null;
}

export interface TargetStatus {
  source: string;
  target: string;
  url: string;
  state: TargetState;
  /** epoch ms when the current state began, and why it began */
  stateSince: number;
  stateReason: string;
  pending: number;
  /** epoch ms of the oldest change the target still needs, from the journal */
  oldestPendingAt: number | null;
  stuck: number;
  holdReason: string | null;
  lastSuccessAt: number | null;
  lastFullSyncAt: number | null;
  lastError: string | null;
  /** the last audit of this target (scheduled, API or CLI through the daemon); null before the first */
  lastAudit: AuditSummary | null;
  /** null when the source has no canary configured */
  canary: CanaryStatus | null;
}

/** The outcome of one audit of one target, as status, metrics and alert rules see it. */
export interface AuditSummary {
  at: number;
  checksum: boolean;
  /** true when the audit ran and found no drift (pending paths are not drift) */
  ok: boolean;
  /** why the audit could not run, or null */
  error: string | null;
  drift: { missing: number; extra: number; content: number; metadata: number };
  /** paths that differ but are still pending in the journal (not drift) */
  pending: number;
}

/** End-to-end replication lag measured by the canary, per target. */
export interface CanaryStatus {
  lastWrittenAt: number | null;
  lastArrivedAt: number | null;
  /** write-to-confirmed-arrival time of the last canary that arrived */
  lagMs: number | null;
  /** epoch ms of the oldest canary write not yet seen on the target after timeout_s, or null */
  missingSince: number | null;
}

/**
 * An alert as the monitor tracks it: it fires once when its condition starts
 * and resolves once when the condition ends ('incident' event, both times).
 */
export interface Incident {
  /** stable per condition: kind + source + target */
  id: string;
  kind: string;
  severity: 'warning' | 'critical';
  source: string;
  target?: string;
  message: string;
  firedAt: number;
  resolvedAt: number | null;
}

/** A batch of accepted changes from a source's watcher ('batch' event). */
export interface BatchEvent {
  source: string;
  at: number;
  events: number;
  /** a few of the paths, for logs and the event stream */
  sample: string[];
}

export interface SourceStatus {
  name: string;
  path: string;
  state: SourceState;
  watchedDirs: number;
  overflows: number;
  lastOverflowAt: number | null;
  /** fs.inotify.max_user_watches when the source was last watched, or null if unreadable */
  maxUserWatches: number | null;
  targets: TargetStatus[];
}

/**
 * The running syncward: for each source a watcher, a filter and one worker
 * per target, wired as DESIGN.md's pipeline. A source or target that fails
 * never stops the others.
 *
 * Events: 'batch' (BatchEvent) when a source's watcher accepted changes,
 * 'transfer' (TransferReport), 'delivered' (source, target, Delivery) after a
 * transfer reached a target, 'state' (source, target, state, reason),
 * 'alert' (Alert), 'overflow' (source), 'ready' (source) when a source is watched.
 */
export class Daemon extends EventEmitter {
  private sources: SourceRuntime[] = [];
  private stopping = false;
  private scheduler = new Scheduler();
  private journal: Journal | null = null;
  private lock: { release(): void } | null = null;
  private control: Server | null = null;
  private health: NodeJS.Timeout | null = null;
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
    try {
      mkdirSync(this.config.stateDir, { recursive: true, mode: 0o700 });
      mkdirSync(join(this.config.stateDir, 'ssh'), { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new Error(
        `cannot create state_dir ${this.config.stateDir}: ${(e as Error).message} (set state_dir to a directory this user can write)`,
      );
    }
    // One daemon per state dir: two would send the same journal twice and race on it
    const lock = lockStateDir(this.config.stateDir);
    this.lock = lock;
    try {
      this.journal = Journal.open(this.config.stateDir);
    } catch (e) {
      lock.release();
      this.lock = null;
      throw new Error(`cannot open the journal in ${this.config.stateDir}: ${(e as Error).message}`);
    }
    const clean = this.journal.meta('clean_shutdown');
    if (lock.stale || clean === '0') {
      this.raise({
        kind: 'uncleanRestart',
        source: '*',
        message: `unclean restart: the previous syncward on ${this.config.stateDir} did not stop cleanly (crash, kill -9 or power loss); its pending changes are resent and every target gets a full catch-up sync`,
      });
    }
    this.journal.setMeta('clean_shutdown', '0');
    try {
      this.control = await startControlServer(this.config.stateDir, this, this.log);
    } catch (e) {
      this.log.warn(
        { err: (e as Error).message },
        `control socket unavailable (syncward resume will not reach this daemon): ${(e as Error).message}`,
      );
    }
    this.health = setInterval(() => this.checkHealth(), HEALTH_MS);
    this.health.unref();
    this.sources = this.config.sources.map((sc) => this.makeSource(sc));
    this.schedule();
    await Promise.all(this.sources.map((s) => this.startSource(s)));
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
    s.watcher?.close();
    s.watcher = null;
  }

  private makeSource(sc: SourceConfig): SourceRuntime {
    const exclude = [...sc.exclude];
    // syncward's own state is never mirrored, even when it lives inside a source
    const rel = relative(sc.path, this.config.stateDir);
    if (rel !== '' && !rel.startsWith('..') && !rel.startsWith('/')) exclude.unshift(`/${rel}/`);
    const filter = new Filter({ exclude, include: sc.include });
    const source: SourceSpec = { root: sc.path, filterArgs: filter.rsyncArgs(), delete: sc.delete };
    const runtime: SourceRuntime = {
      config: sc,
      state: 'starting',
      filter,
      watcher: null,
      workers: [],
      retry: null,
      watchedDirs: 0,
      overflows: 0,
      lastOverflowAt: null,
      maxUserWatches: null,
      dev: null,
    };
    runtime.workers = sc.targets.map((tc) => {
      const w = new TargetWorker({
        sourceName: sc.name,
        source,
        target: targetSpec(tc, this.config.stateDir),
        delayMs: sc.delayMs,
        maxWaitMs: sc.maxWaitMs,
        isRoot: this.isRoot,
        log: this.log,
        journal: this.journal ?? undefined,
        key: `${sc.name}/${tc.name}`,
        maxDelete: tc.maxDelete,
        fullSyncThreshold: sc.fullSyncThreshold,
        stuckAfter: sc.stuckAfter,
        lagThresholdS: sc.lagThresholdS,
      });
      w.on('transfer', (r: TransferReport) => this.emit('transfer', r));
      w.on('delivered', (d: Delivery) => this.emit('delivered', sc.name, tc.name, d));
      w.on('alert', (a: WorkerAlert) => this.raise({ ...a, source: sc.name, target: tc.name }));

      w.on('state', (state: TargetState, _prev: TargetState, reason: string) =>
        this.emit('state', sc.name, tc.name, state, reason),
      );
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
    watcher.on('events', (batch: FsEvent[]) => {
      const routed = routeEvents(s.filter, batch);
      if (routed.length === 0) return;
      this.log.debug({ source: name, events: routed.length }, 'events');
      this.emit('batch', {
        source: name,
        at: Date.now(),
        events: routed.length,
        sample: routed.slice(0, 5).map((e) => `${e.kind} ${display(e.path) || '.'}`),
      } satisfies BatchEvent);
      // Journal first: once recorded, a change survives a crash until each target has it
      let seq = 0;
      try {
        seq =
          this.journal?.recordChanges(
            s.workers.map((w) => w.key),
            changesOf(routed),
          ) ?? 0;
      } catch (e) {
        this.log.error(
          { source: name, err: (e as Error).message },
          `journal: cannot record changes (${(e as Error).message}); they are still sent, but would be lost by a crash now: check the disk of state_dir ${this.config.stateDir}`,
        );
      }
      for (const w of s.workers) w.addEvents(routed, seq);
    });
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
      watcher.close();
      s.watcher = null;
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
    if (s.config.initialSync) for (const w of s.workers) w.requestFullSync('startup');
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

  /** Queues a full sync of a source to all its targets. */
  fullSync(sourceName: string, reason = 'requested'): boolean {
    const s = this.sources.find((x) => x.config.name === sourceName);
    if (!s) return false;
    if (s.state !== 'watching') {
      // a missing or vanished source must not be "synced" (with --delete that empties targets)
      this.log.warn(
        { source: sourceName, state: s.state, reason },
        `source ${sourceName}: full sync skipped, the source is ${s.state}`,
      );
      return false;
    }
    for (const w of s.workers) w.requestFullSync(reason);
    return true;
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
        holdReason: w.held,
        lastSuccessAt: w.lastSuccessAt,
        lastFullSyncAt: w.lastFullSyncAt,
        lastError: w.lastError,
        lastAudit: null,
        canary: null,
      })),
    }));
  }

  /** True when every watched source's workers have nothing pending or running. */
  isIdle(): boolean {
    return this.sources.every((s) => s.state !== 'watching' || s.workers.every((w) => w.isIdle));
  }

  /** Stops a source: no more watching; transfers in flight finish (at most `graceMs`). */
  private async stopSource(s: SourceRuntime, graceMs: number): Promise<void> {
    if (s.retry) clearTimeout(s.retry);
    s.retry = null;
    s.watcher?.close();
    s.watcher = null;
    s.state = 'stopped';
    await Promise.all(s.workers.map((w) => w.stop(graceMs)));
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
    const old = new Map(this.sources.map((s) => [s.config.name, s]));
    const added: string[] = [];
    const changed: string[] = [];
    const removed: string[] = [];
    const keepKeys = new Set(next.sources.flatMap((sc) => sc.targets.map((t) => `${sc.name}/${t.name}`)));
    const sources: SourceRuntime[] = [];
    const starting: SourceRuntime[] = [];
    for (const sc of next.sources) {
      const prev = old.get(sc.name);
      old.delete(sc.name);
      // a source whose root vanished restarts too: that is how SIGHUP brings it back once restored
      if (prev && prev.state !== 'rootGone' && JSON.stringify(prev.config) === JSON.stringify(sc)) {
        sources.push(prev);
        continue;
      }
      if (prev) {
        changed.push(sc.name);
        await this.stopSource(prev, graceMs);
      } else added.push(sc.name);
      const fresh = this.makeSource(sc);
      sources.push(fresh);
      starting.push(fresh);
    }
    for (const [name, prev] of old) {
      removed.push(name);
      await this.stopSource(prev, graceMs);
    }
    for (const prev of this.sources)
      for (const w of prev.workers) if (!keepKeys.has(w.key)) this.journal?.forget(w.key);
    this.config = next;
    this.sources = sources;
    this.schedule();
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
    if (this.health) clearInterval(this.health);
    this.health = null;
    await Promise.all(this.sources.map((s) => this.stopSource(s, graceMs)));
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
