import { EventEmitter } from 'node:events';
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { type Alert, UNREACHED_STATES, type WorkerAlert } from '../alerts/index.js';
import type { AuditSubject } from '../audit/index.js';
import type { Change } from '../change/index.js';
import { changesOf } from '../coalesce/index.js';
import { rootIgnore, type SourceConfig, type TargetConfig, targetSpec } from '../config/index.js';
import { type Delivery, type TargetState, TargetWorker, type TransferReport } from '../dispatch/index.js';
import { Filter, routeEvents } from '../filter/index.js';
import type { Journal } from '../journal/index.js';
import { Canary, type CanaryEvent } from '../probe/index.js';
import { RelayWatch } from '../relay/index.js';
import type { AuditSummary, BatchEvent, RefusedEvent, SourceState, SourceStatus } from '../status/index.js';
import {
  localRsyncVersion,
  RsyncTransport,
  type SourceSpec,
  type TargetSpec,
  type Transport,
} from '../transport/index.js';
import { type BytePath, display } from '../util/bytes.js';
import type { Logger } from '../util/log.js';
import { syncwardCommand } from '../util/shell.js';
import {
  AUTO_FANOTIFY_DIRS,
  eventQueue,
  FanotifyWatcher,
  fanotifyRefusal,
  fullSyncAfterRecovery,
  HardLinks,
  type RecoveredInfo,
  readMaxUserWatches,
  TOO_MANY_DIRS,
  TreeWatcher,
  type Watcher,
  type WatcherBackend,
} from '../watch/index.js';
import type { BatchInfo, FsEvent } from '../watch/types.js';

/** How often a source whose directory is missing is looked for again. */
const SOURCE_RETRY_MS = 10_000;
/** Changes an audit in progress collects at most (it reads them as pending). */
const AUDIT_SEEN_MAX = 1_000_000;

/** A target resumed by an operator: whether it was paused, and the safety hold lifted (null: none). */
export interface Lifted {
  target: string;
  paused: boolean;
  hold: string | null;
}

/** What a source needs of the daemon that runs it. */
export interface SourceContext {
  /** the daemon's journal (null once it stopped) */
  journal: () => Journal | null;
  log: Logger;
  stateDir: string;
  isRoot: boolean;
  /** the previous run did not stop cleanly: every target gets a full sync */
  unclean: boolean;
  /** alerts.unwatched_after_s in ms, read when it is needed (a reload may change it) */
  unwatchedAlertMs: () => number;
  /** the daemon's config file, for the commands its alerts print (none: `start --source`) */
  configFile?: string;
}

/**
 * One source and its pipeline: the watcher of its tree, the hard-link
 * tracker, its filter, the journal rows of its targets, and one worker per
 * target. A batch goes watcher → hard links → filter → changes → journal →
 * each worker, in `accept`. It also owns the source's lifecycle: looking
 * again for a missing root, holding every target when the root goes, the
 * canary, and stopping.
 *
 * Events (forwarded by the daemon): 'batch' (BatchEvent), 'transfer'
 * (TransferReport), 'delivered' (target, Delivery), 'state' (target, state,
 * reason), 'alert' (an Alert without `at`), 'overflow' (source), 'ready'
 * (source), 'canary' (CanaryEvent), 'refused' (RefusedEvent), 'recovered' ()
 * when every directory is watched again.
 */
export class Source extends EventEmitter {
  /** its settings; a reload that changes only targets replaces them (retarget) */
  config: SourceConfig;
  readonly name: string;
  state: SourceState = 'starting';
  /** one per target, in the order of config.targets (as are targetSpecs and transports) */
  workers: TargetWorker[];
  private readonly filter: Filter;
  /** the source as rsync sees it (root, filters incl. state_dir), for transfers and audits */
  private readonly spec: SourceSpec;
  private targetSpecs: TargetSpec[];
  /** how each target is reached, by its worker and the canary alike */
  private transports: Transport[];
  private watcher: Watcher | null = null;
  /** the names of each linked file, so they travel together (rsync -H links within one list) */
  private links: HardLinks | null = null;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  private overflows = 0;
  private lastOverflowAt: number | null = null;
  /** the first overflow and how many came since every target's last catch-up (one alert for a burst) */
  private spell = { since: 0, count: 0 };
  private maxUserWatches: number | null = null;
  /** st_dev of the root when watching began: a change means it was unmounted or replaced */
  private dev: number | null = null;
  /** audits in progress: the changes the watcher accepts meanwhile are pending for them */
  private readonly auditWatch = new Set<Change[]>();
  /** writes and reads back the canary, when the source has one */
  private readonly canary: Canary | null = null;
  /** the relay tiers among the targets, by target name: their status is read from their API */
  private readonly relays = new Map<string, RelayWatch>();
  /** the root directory, held open from the first watch until the source stops (spec.readRoot names it) */
  private rootFd: number | null = null;

  constructor(
    sc: SourceConfig,
    private readonly ctx: SourceContext,
  ) {
    super();
    this.config = sc;
    this.name = sc.name;
    // state_dir is never inside a source: the config's path rules refuse it
    this.filter = new Filter({ exclude: sc.exclude, include: sc.include });
    this.spec = { root: sc.path, filterArgs: this.filter.rsyncArgs(), delete: sc.delete };
    this.targetSpecs = sc.targets.map((tc) => this.makeTargetSpec(tc));
    this.transports = sc.targets.map((tc, i) => this.makeTransport(tc, this.targetSpecs[i] as TargetSpec));
    if (sc.canary) {
      const cc = sc.canary;
      this.canary = new Canary({
        source: sc.name,
        root: sc.path,
        path: cc.path,
        intervalMs: cc.intervalS * 1000,
        timeoutMs: cc.timeoutS * 1000,
        targets: this.transports,
        log: ctx.log,
        active: () => this.state === 'watching',
        onEvent: (e) => this.canaryEvent(e, cc.timeoutS),
        follow: cc.follow,
      });
    }
    this.workers = sc.targets.map((tc, i) => this.makeWorker(tc, this.transports[i] as Transport));
  }

  private makeTargetSpec(tc: TargetConfig): TargetSpec {
    return { ...targetSpec(tc, this.ctx.stateDir), rsyncVersion: localRsyncVersion()?.version };
  }

  private makeTransport(tc: TargetConfig, target: TargetSpec): Transport {
    return new RsyncTransport({
      source: this.spec,
      target,
      isRoot: this.ctx.isRoot,
      ready: tc.preconnect ? { recycleMs: tc.preconnectRecycleS * 1000 } : undefined,
      log: this.ctx.log,
    });
  }

  private makeWorker(tc: TargetConfig, transport: Transport): TargetWorker {
    const sc = this.config;
    const w = new TargetWorker({
      sourceName: sc.name,
      source: this.spec,
      transport,
      delayMs: sc.delayMs,
      maxWaitMs: sc.maxWaitMs,
      log: this.ctx.log,
      journal: this.ctx.journal() ?? undefined,
      key: `${sc.name}/${tc.name}`,
      maxDelete: tc.maxDelete,
      fullSyncThreshold: sc.fullSyncThreshold,
      stuckAfter: sc.stuckAfter,
      lagThresholdS: sc.lagThresholdS,
      rootIgnore: rootIgnore(sc, this.ctx.stateDir),
      rootDev: () => this.dev,
      companions: (changes) => this.companions(changes),
      resumeCommand: syncwardCommand(
        'resume',
        { configFile: this.ctx.configFile, stateDir: this.ctx.stateDir },
        `${sc.name}/${tc.name}`,
      ),
    });
    w.on('transfer', (r: TransferReport) => this.emit('transfer', r));
    // the canary is read back right after something reached the target: its lag is not rounded up to a poll
    w.on('delivered', () => this.canary?.delivered(tc.name));
    w.on('delivered', (d: Delivery) => this.emit('delivered', tc.name, d));
    w.on('alert', (a: WorkerAlert) => this.raise({ ...a, target: tc.name }));
    w.on('state', (state: TargetState, prev: TargetState, reason: string) => {
      if (UNREACHED_STATES.has(prev) && !UNREACHED_STATES.has(state)) this.canary?.targetBack(tc.name);
      this.emit('state', tc.name, state, reason);
    });
    // an operator's pause outlives a restart: it is back before the first transfer is considered
    const paused = this.ctx.journal()?.paused(w.key);
    if (paused) w.pause(paused);
    this.relays.get(tc.name)?.stop();
    this.relays.delete(tc.name);
    if (tc.relay) {
      const r = new RelayWatch({ source: sc.name, target: tc.name, config: tc.relay, log: this.ctx.log });
      this.relays.set(tc.name, r);
      if (!this.stopped) r.start();
    }
    return w;
  }

  /** the journal keys ("source/target") of this source's targets */
  get keys(): string[] {
    return this.workers.map((w) => w.key);
  }

  private raise(a: Omit<Alert, 'at' | 'source'>): void {
    this.emit('alert', { ...a, source: this.name } satisfies Omit<Alert, 'at'>);
  }

  /** Watches the root (or looks for it again later), then catches every target up. */
  async start(): Promise<void> {
    if (this.stopped) return;
    const { name, path } = this.config;
    const log = this.ctx.log;
    try {
      if (!statSync(path).isDirectory())
        throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      this.state = 'missing';
      log.error(
        { source: name, path, code },
        `source ${name}: ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be used (${code ?? (e as Error).message})`}; other sources keep running; looking again every ${SOURCE_RETRY_MS / 1000} s`,
      );
      this.retryLater();
      return;
    }
    const links = new HardLinks(path, (rel, isDir) => this.filter.excludes(rel, isDir));
    this.links = links;
    // a linked file's other names, found by a scan after the event
    links.on('events', (batch: FsEvent[]) => this.accept(batch));
    try {
      const { dirs, ms } = await this.startWatcher(links);
      this.maxUserWatches = readMaxUserWatches();
      this.state = 'watching';
      try {
        this.dev = statSync(path).dev;
      } catch {
        this.dev = null;
      }
      this.pinRoot();
      log.info(
        { source: name, path, dirs, ms },
        `source ${name}: watching ${dirs} directories under ${path} (${ms} ms)`,
      );
      this.emit('ready', name);
    } catch (e) {
      log.error(
        { source: name, path, err: (e as Error).message },
        `source ${name}: cannot watch ${path}: ${(e as Error).message}`,
      );
      this.unwatch();
      this.state = 'missing';
      this.retryLater();
      return;
    }
    this.catchUp();
    this.canary?.start();
    links.start();
  }

  /**
   * The watcher the config asks for, started, with its events flowing into
   * the pipeline. fanotify that cannot watch this tree (no CAP_SYS_ADMIN, an
   * old kernel, a filesystem without file handles, a mount inside the tree)
   * falls back to inotify, and the log says why. "auto" walks with inotify
   * and takes fanotify instead once the tree has more than
   * AUTO_FANOTIFY_DIRS directories; the inotify watches stay until the other
   * watcher is in place, so nothing happens unwatched in between.
   */
  private async startWatcher(links: HardLinks): Promise<{ dirs: number; ms: number }> {
    const { name, path } = this.config;
    const log = this.ctx.log;
    const open = (backend: WatcherBackend, maxDirs?: number): Watcher => {
      const ignoreDir = (rel: BytePath) => this.filter.excludes(rel, true);
      const w =
        backend === 'fanotify'
          ? new FanotifyWatcher(path, { ignoreDir })
          : new TreeWatcher(path, { ignoreDir, ...(maxDirs !== undefined ? { maxDirs } : {}) });
      this.watcher = w;
      // the pipeline's first stages: the watcher's batches gain their linked names
      w.on('events', (batch: FsEvent[], info?: BatchInfo) => this.accept(links.expand(batch, info)));
      this.watchSignals(w);
      return w;
    };
    const retire = (w: Watcher) => {
      w.removeAllListeners();
      w.close();
    };
    /** fanotify started, or null (logged) when it cannot watch this tree */
    const fanotify = async (why: string): Promise<{ dirs: number; ms: number } | null> => {
      const fan = open('fanotify');
      try {
        const started = await fan.start();
        log.info(
          { source: name, path, watcher: 'fanotify' },
          `source ${name}: watching ${path} with fanotify${why}`,
        );
        return started;
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        retire(fan);
        log.warn(
          { source: name, path, watcher: 'inotify', code: err.code },
          `source ${name}: fanotify cannot watch ${path} (${fanotifyRefusal(err)}); watching it with inotify instead`,
        );
        return null;
      }
    };
    const backend = this.config.watcher;
    if (backend === 'fanotify') return (await fanotify(' (one filesystem mark)')) ?? open('inotify').start();
    if (backend === 'inotify') return open('inotify').start();
    const first = open('inotify', AUTO_FANOTIFY_DIRS);
    try {
      return await first.start();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== TOO_MANY_DIRS) throw e;
    }
    const started = await fanotify(` (watcher auto: more than ${AUTO_FANOTIFY_DIRS} directories)`);
    if (started) {
      retire(first);
      return started;
    }
    // the partial inotify watches keep reporting until the full walk is done
    first.removeAllListeners('events');
    first.on('events', (batch: FsEvent[], info?: BatchInfo) => this.accept(links.expand(batch, info)));
    try {
      return await open('inotify').start();
    } finally {
      retire(first);
    }
  }

  private retryLater(): void {
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.start();
    }, SOURCE_RETRY_MS);
  }

  /**
   * One batch of the watcher's events through the rest of the pipeline:
   * the filter, the changes they mean, the journal, then each target's worker.
   */
  private accept(events: FsEvent[]): void {
    const routed = routeEvents(this.filter, events);
    if (routed.length === 0) return;
    this.ctx.log.debug({ source: this.name, events: routed.length }, 'events');
    const kinds: BatchEvent['kinds'] = {};
    for (const e of routed) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
    this.emit('batch', {
      source: this.name,
      at: Date.now(),
      events: routed.length,
      kinds,
      sample: routed.slice(0, 5).map((e) => `${e.kind} ${display(e.path) || '.'}`),
    } satisfies BatchEvent);
    const changes = changesOf(routed);
    for (const seen of this.auditWatch)
      for (const c of changes) if (seen.length < AUDIT_SEEN_MAX) seen.push(c);
    // Journal first: once recorded, a change survives a crash until each target has it
    const seq = this.record(changes);
    for (const w of this.workers) w.addChanges(changes, seq);
  }

  /** The other names of the linked files a batch sends (HardLinks.companions), the filter's excluded left out. */
  private companions(changes: readonly Change[]): BytePath[] {
    const names = this.links?.companions(changes) ?? [];
    return names.filter((p) => !this.filter.excludes(p, false));
  }

  /** Writes the changes for every target; returns their sequence number (0 if they could not be written). */
  private record(changes: Change[]): number {
    try {
      return this.ctx.journal()?.recordChanges(this.keys, changes) ?? 0;
    } catch (e) {
      this.ctx.log.error(
        { source: this.name, err: (e as Error).message },
        `journal: cannot record changes (${(e as Error).message}); they are still sent, but would be lost by a crash now: check the disk of state_dir ${this.ctx.stateDir}`,
      );
      return 0;
    }
  }

  /** What the watcher says besides events: lost events, limits, trouble, the root gone. */
  private watchSignals(watcher: Watcher): void {
    const name = this.name;
    const queue = eventQueue(watcher.backend);
    watcher.on('overflow', () => {
      const now = Date.now();
      const first = this.overflowSpell() === null;
      if (first) this.endSpell();
      this.overflows++;
      this.lastOverflowAt = now;
      this.spell = first
        ? { since: now, count: 1 }
        : { since: this.spell.since, count: this.spell.count + 1 };
      this.emit('overflow', name);
      for (const w of this.workers) w.requestFullSync(`${queue.name} overflow`);
      // a burst overflows the queue again and again before the catch-up: one alert, then a count
      if (!first) {
        this.ctx.log.debug(
          { source: name, overflows: this.spell.count },
          `source ${name}: the ${queue.name} overflowed again (${this.spell.count} times since the first); the catch-up full sync already queued covers it`,
        );
        return;
      }
      this.raise({
        kind: 'overflow',
        message: `source ${name}: the kernel's ${queue.name} overflowed (${queue.sysctl}) and events were lost; a full catch-up sync runs to every target`,
      });
    });
    watcher.on('watchLimit', (info: { message: string }) => {
      this.raise({ kind: 'watchLimit', message: info.message });
      for (const w of this.workers) w.requestFullSync('watch limit reached');
    });
    watcher.on('warning', (info: { path: string; code: string; message: string }) => {
      this.ctx.log.warn({ source: name, ...info }, `source ${name}: ${info.message}`);
    });
    watcher.on('recovered', (info: RecoveredInfo) => this.unwatchedRecovered(info));
    watcher.on('rootGone', (info: { reason: string }) => this.rootGone(info.reason));
  }

  /**
   * What an earlier run had not delivered goes first, then (watches being in
   * place) the full sync: whatever changed while syncward was down, or
   * during the walk, is covered.
   */
  private catchUp(): void {
    for (const w of this.workers) this.loadJournal(w);
    // initial_sync: false trusts the journal after a clean stop; after a crash,
    // events the kernel still queued were never journaled: a full sync, always
    if (this.config.initialSync) for (const w of this.workers) w.requestFullSync('startup');
    else if (this.ctx.unclean) for (const w of this.workers) w.requestFullSync('unclean restart');
  }

  /** Once every target caught up: the one line that sums up a burst of overflows. */
  private endSpell(): void {
    if (this.spell.count === 0) return;
    this.ctx.log.info(
      { source: this.name, overflows: this.spell.count, since: this.spell.since },
      `source ${this.name}: every target had its catch-up full sync after ${this.spell.count} ${eventQueue(this.watcher?.backend ?? 'inotify').name} overflow(s) in ${(this.lastOverflowAt ?? this.spell.since) - this.spell.since} ms`,
    );
    this.spell = { since: 0, count: 0 };
  }

  /** The overflows not yet covered by a catch-up full sync on every target, or null. */
  private overflowSpell(): { since: number; count: number } | null {
    const at = this.lastOverflowAt;
    if (at === null || this.workers.every((w) => w.lastFullSyncAt !== null && w.lastFullSyncAt > at))
      return null;
    return { ...this.spell };
  }

  /** What the journal still holds for a target: its pending changes, and a full sync owed. */
  private loadJournal(w: TargetWorker): void {
    const journal = this.ctx.journal();
    if (!journal) return;
    const rows = journal.pending(w.key);
    if (rows.length > 0) {
      this.ctx.log.info(
        { source: this.name, target: w.name, pending: rows.length },
        `target ${this.name}/${w.name}: ${rows.length} change(s) pending from the journal`,
      );
      w.loadPending(rows);
    }
    const needsFull = journal.target(w.key)?.needsFull;
    if (needsFull) w.requestFullSync(`left from the last run: ${needsFull}`);
  }

  /** Whether `next` differs from this source's settings in its targets alone, and the source is watched. */
  retargetable(next: SourceConfig): boolean {
    return (
      this.state === 'watching' &&
      !this.stopped &&
      JSON.stringify({ ...this.config, targets: [] }) === JSON.stringify({ ...next, targets: [] })
    );
  }

  /**
   * A reload that changes only this source's targets (SIGHUP): targets whose
   * settings are unchanged keep their worker, queue and state, and get no
   * full sync; an added or changed target gets a new worker, its journal
   * rows and a full sync; a removed one stops. Only when `retargetable`.
   */
  async retarget(
    next: SourceConfig,
    graceMs: number,
  ): Promise<{ added: string[]; changed: string[]; removed: string[] }> {
    const old = new Map(this.config.targets.map((tc, i) => [tc.name, i]));
    const out = { added: [] as string[], changed: [] as string[], removed: [] as string[] };
    const workers: TargetWorker[] = [];
    const specs: TargetSpec[] = [];
    const transports: Transport[] = [];
    const fresh: TargetWorker[] = [];
    const retired: number[] = [];
    for (const tc of next.targets) {
      const i = old.get(tc.name);
      old.delete(tc.name);
      if (i !== undefined && JSON.stringify(this.config.targets[i]) === JSON.stringify(tc)) {
        workers.push(this.workers[i] as TargetWorker);
        specs.push(this.targetSpecs[i] as TargetSpec);
        transports.push(this.transports[i] as Transport);
        continue;
      }
      if (i !== undefined) retired.push(i);
      (i === undefined ? out.added : out.changed).push(tc.name);
      const spec = this.makeTargetSpec(tc);
      const transport = this.makeTransport(tc, spec);
      const w = this.makeWorker(tc, transport);
      workers.push(w);
      specs.push(spec);
      transports.push(transport);
      fresh.push(w);
    }
    for (const [name, i] of old) {
      out.removed.push(name);
      retired.push(i);
      this.relays.get(name)?.stop();
      this.relays.delete(name);
    }
    // the old workers of changed and removed targets finish their transfer in flight first
    await Promise.all(
      retired.map(async (i) => {
        await this.workers[i]?.stop(graceMs);
        await this.transports[i]?.close?.();
        this.canary?.removeTarget((this.transports[i] as Transport).target);
      }),
    );
    this.config = next;
    this.workers = workers;
    this.targetSpecs = specs;
    this.transports = transports;
    for (const w of fresh) {
      this.canary?.addTarget(this.transports[this.workers.indexOf(w)] as Transport);
      this.loadJournal(w);
      w.requestFullSync(out.added.includes(w.name) ? 'target added (reload)' : 'target changed (reload)');
    }
    return out;
  }

  /** Lag per target, and whether the watched root is still the same filesystem. */
  checkHealth(now: number): void {
    for (const w of this.workers) w.checkLag(now);
    if (this.overflowSpell() === null) this.endSpell();
    if (this.state !== 'watching' || this.dev === null) return;
    let dev: number | null = null;
    try {
      dev = statSync(this.config.path).dev;
    } catch {
      dev = null;
    }
    if (dev !== this.dev)
      this.rootGone(dev === null ? 'removed' : 'unmounted or replaced (its device changed)');
  }

  /** The source root vanished or changed: hold every target before anything is deleted on them. */
  private rootGone(reason: string): void {
    if (this.state === 'rootGone') return;
    this.state = 'rootGone';
    const { name, path } = this.config;
    this.raise({
      kind: 'rootGone',
      message: `source ${name}: the source root ${path} was ${reason}; every target is on hold so nothing is deleted on them; restore the directory, then restart syncward (or send it SIGHUP)`,
    });
    for (const w of this.workers) w.hold(`source root ${path} was ${reason}`);
    this.unwatch();
  }

  /**
   * Every directory that could not be listed or watched is watched again and
   * was sent whole. After a long spell (the `unwatched` alert fired) or a
   * root that could not be listed, a full sync makes sure.
   */
  private unwatchedRecovered(info: RecoveredInfo): void {
    const name = this.name;
    const ms = Date.now() - info.since;
    const full = fullSyncAfterRecovery({
      unwatchedMs: ms,
      alertAfterMs: this.ctx.unwatchedAlertMs(),
      root: info.root,
    });
    this.ctx.log.info(
      { source: name, dirs: info.dirs, ms, fullSync: full },
      `source ${name}: every directory is watched again after ${Math.round(ms / 1000)} s; ${info.dirs} directory tree(s) that could not be listed or watched were sent whole${full ? ', and a full sync runs' : ''}`,
    );
    if (full)
      for (const w of this.workers)
        w.requestFullSync(`directories were unwatched for ${Math.round(ms / 1000)} s`);
    this.emit('recovered');
  }

  /** A canary arrived on a target, or is missing there ('canary' event; missing raises canaryMissing). */
  private canaryEvent(e: CanaryEvent, timeoutS: number): void {
    this.emit('canary', e);
    if (!e.missing) return;
    const state = this.workers.find((w) => w.name === e.target)?.state;
    if (state !== undefined && UNREACHED_STATES.has(state)) {
      // no canary can reach a target in that state: its own alert says why, a second page would not
      this.ctx.log.debug(
        { source: e.source, target: e.target, state },
        `source ${e.source}: the canary has not arrived on target ${e.target}, which is ${state}`,
      );
      return;
    }
    const ago = Math.round((Date.now() - (e.missingSince ?? e.at)) / 1000);
    this.raise({
      kind: 'canaryMissing',
      target: e.target,
      message: `the canary of source ${e.source} written ${ago} s ago has not arrived on target ${e.target} within ${timeoutS} s (watcher or transfer path dead); check the target's state and this log for rsync errors; it clears when a later canary arrives`,
    });
  }

  /**
   * Queues a full sync to every target (each goes through the delete guard
   * before it deletes anything). A source that is not watched (missing, root
   * gone) refuses: false, a warning and a 'refused' event.
   */
  fullSync(reason: string): boolean {
    if (this.state !== 'watching') {
      // a missing or vanished source must not be "synced" (with --delete that empties targets)
      const why =
        this.state === 'rootGone'
          ? `its root ${this.config.path} vanished, was unmounted or replaced; restore it, then send syncward SIGHUP`
          : `it is ${this.state}, not watched`;
      const event: RefusedEvent = { source: this.name, what: 'full sync', reason, why, at: Date.now() };
      this.ctx.log.warn(
        { source: this.name, state: this.state, reason },
        `source ${this.name}: full sync (${reason}) refused: ${why}`,
      );
      this.emit('refused', event);
      return false;
    }
    for (const w of this.workers) w.requestFullSync(reason);
    return true;
  }

  /** Resumes the held targets named `name` ("target" or "source/target"); returns how many. */
  resume(name: string): number {
    return this.lift(name).length;
  }

  /** Pauses the targets named `name` (all when undefined): which were paused now, which were already. */
  pause(name?: string): { paused: string[]; already: string[] } {
    const out = { paused: [] as string[], already: [] as string[] };
    for (const w of this.named(name)) (w.pause() ? out.paused : out.already).push(w.key);
    return out;
  }

  /** The workers named `name` ("target" or "source/target"), all of them when undefined. */
  named(name?: string): TargetWorker[] {
    return this.workers.filter((w) => name === undefined || w.name === name || w.key === name);
  }

  /**
   * Lifts the operator's pause and the safety hold of the targets named
   * `name`; with no name, only pauses (a safety hold is lifted by naming its
   * target). Returns what each resumed target was.
   */
  lift(name?: string): Lifted[] {
    const out: Lifted[] = [];
    for (const w of this.named(name)) {
      const hold = name === undefined ? null : w.held;
      const paused = w.unpause();
      const held = hold !== null && w.resume();
      if (paused || held) out.push({ target: w.key, paused, hold: held ? hold : null });
    }
    return out;
  }

  /** true when the source is not watched, or none of its workers has anything pending or running */
  get isIdle(): boolean {
    return this.state !== 'watching' || this.workers.every((w) => w.isIdle);
  }

  /**
   * What audits need of each target named `target` (all when undefined):
   * the specs, why it cannot be audited now, and the changes the watcher
   * accepts while one runs.
   */
  auditSubjects(target?: string): AuditSubject[] {
    return this.workers
      .map((w, i) => ({ w, i }))
      .filter(({ w }) => target === undefined || w.name === target || w.key === target)
      .map(({ w, i }) => ({
        source: this.name,
        target: w.name,
        key: w.key,
        url: (this.config.targets[i] as TargetConfig).url,
        sourceSpec: this.spec,
        targetSpec: this.targetSpecs[i] as TargetSpec,
        exclude: this.config.canary ? [`/${this.config.canary.path}`] : [],
        // not audited: a missing source would look like everything extra, a down target like nothing
        skip: () =>
          this.state !== 'watching'
            ? `source ${this.name} is ${this.state}, not watching: not audited`
            : w.state === 'down' || w.state === 'misconfigured'
              ? `target is ${w.state}${w.stateReason ? ` (${w.stateReason})` : ''}: not audited`
              : null,
        stuck: () => w.stuckList(),
        watch: (seen: Change[]) => {
          this.auditWatch.add(seen);
          return () => this.auditWatch.delete(seen);
        },
        aside: <T>(call: () => Promise<T>) => {
          const t = this.transports[i] as Transport;
          return t.aside ? t.aside(call) : call();
        },
      }));
  }

  status(lastAudit: (key: string) => AuditSummary | null): SourceStatus {
    return {
      name: this.name,
      path: this.config.path,
      state: this.state,
      watcher: this.state === 'watching' ? (this.watcher?.backend ?? null) : null,
      watchedDirs: this.watcher?.watchedDirs ?? 0,
      overflows: this.overflows,
      lastOverflowAt: this.lastOverflowAt,
      overflowSpell: this.overflowSpell(),
      maxUserWatches: this.maxUserWatches,
      unwatched: this.watcher?.unwatchedSummary() ?? { dirs: 0, since: null, codes: [], sample: [] },
      targets: this.workers.map((w, i) => ({
        source: this.name,
        target: w.name,
        url: (this.config.targets[i] as TargetConfig).url,
        state: w.state,
        stateSince: w.stateSince,
        stateReason: w.stateReason,
        pending: w.pending,
        oldestPendingAt: w.oldestPendingAt(),
        stuck: w.stuck,
        stuckPaths: w.stuckNames(),
        holdReason: w.held,
        pausedSince: w.paused?.since ?? null,
        progress: w.progress,
        lastSuccessAt: w.lastSuccessAt,
        lastFullSyncAt: w.lastFullSyncAt,
        lastError: w.lastError,
        failures: w.failedAttempts,
        lastAudit: lastAudit(w.key),
        canary: this.canary?.status(w.name) ?? null,
        relay: this.relays.get(w.name)?.status() ?? null,
      })),
    };
  }

  /** Closes the watcher and what works beside it. */
  private unwatch(): void {
    this.watcher?.close();
    this.watcher = null;
    this.links?.close();
    this.links = null;
  }

  /**
   * From here on rsync reads the source through a directory fd, not its path
   * (see SourceSpec.readRoot): what a transfer reads is the tree whose
   * device the daemon watches, even if the root is unmounted or replaced
   * while it runs. The fd is closed only after the source's workers stopped,
   * so its number is never reused under a transfer.
   */
  private pinRoot(): void {
    if (this.rootFd !== null) return;
    try {
      this.rootFd = openSync(this.config.path, constants.O_RDONLY | constants.O_DIRECTORY);
      this.spec.readRoot = `/proc/${process.pid}/fd/${this.rootFd}`;
    } catch (e) {
      this.ctx.log.warn(
        { source: this.name, err: (e as Error).message },
        `source ${this.name}: cannot hold the root open (${(e as Error).message}); rsync reads it by path`,
      );
    }
  }

  /** No more watching; transfers in flight finish (at most `graceMs`). */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.unwatch();
    this.state = 'stopped';
    this.canary?.stop();
    for (const r of this.relays.values()) r.stop();
    await Promise.all(this.workers.map((w) => w.stop(graceMs)));
    // the rsyncs started ahead end before the root fd they read through is closed
    await Promise.all(this.transports.map((t) => t.close?.()));
    if (this.rootFd !== null) {
      delete this.spec.readRoot;
      closeSync(this.rootFd);
      this.rootFd = null;
    }
  }
}
