import { EventEmitter } from 'node:events';
import { mkdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type Config, type SourceConfig, type TargetConfig, targetSpec } from '../config/index.js';
import { type TargetState, TargetWorker, type TransferReport } from '../dispatch/index.js';
import { Filter } from '../filter/index.js';
import { Scheduler } from '../schedule/index.js';
import type { SourceSpec } from '../transport/index.js';
import type { Logger } from '../util/log.js';
import { TreeWatcher } from '../watch/index.js';
import type { FsEvent } from '../watch/types.js';
import { routeEvents } from './route.js';

/** How often a source whose directory is missing is looked for again. */
const SOURCE_RETRY_MS = 10_000;

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
}

export interface TargetStatus {
  source: string;
  target: string;
  url: string;
  state: TargetState;
  pending: number;
  lastSuccessAt: number | null;
  lastError: string | null;
}

export interface SourceStatus {
  name: string;
  path: string;
  state: SourceState;
  watchedDirs: number;
  overflows: number;
  targets: TargetStatus[];
}

/**
 * The running syncward: for each source a watcher, a filter and one worker
 * per target, wired as DESIGN.md's pipeline. A source or target that fails
 * never stops the others.
 *
 * Events: 'transfer' (TransferReport), 'state' (source, target, state, reason),
 * 'overflow' (source), 'ready' (source) when a source is watched.
 */
export class Daemon extends EventEmitter {
  private readonly sources: SourceRuntime[] = [];
  private stopping = false;
  private readonly scheduler = new Scheduler();
  private readonly isRoot = process.getuid?.() === 0;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    super();
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
    for (const sc of this.config.sources) this.sources.push(this.makeSource(sc));
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
    await Promise.all(this.sources.map((s) => this.startSource(s)));
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
      });
      w.on('transfer', (r: TransferReport) => this.emit('transfer', r));
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
      for (const w of s.workers) w.addEvents(routed);
    });
    watcher.on('overflow', () => {
      s.overflows++;
      this.log.warn(
        { source: name },
        `source ${name}: the kernel's inotify queue overflowed (fs.inotify.max_queued_events) and events were lost; running a full catch-up sync to every target`,
      );
      this.emit('overflow', name);
      for (const w of s.workers) w.requestFullSync('inotify queue overflow');
    });
    watcher.on('watchLimit', (info: { message: string }) => {
      this.log.error({ source: name, ...info }, info.message);
      for (const w of s.workers) w.requestFullSync('watch limit reached');
    });
    watcher.on('warning', (info: { path: string; code: string; message: string }) => {
      this.log.warn({ source: name, ...info }, `source ${name}: ${info.message}`);
    });
    watcher.on('rootGone', (info: { reason: string }) => {
      s.state = 'rootGone';
      this.log.error(
        { source: name, path, reason: info.reason },
        `source ${name}: the source root ${path} was ${info.reason}; every target is on hold so nothing is deleted on them; restore the directory and restart syncward`,
      );
      for (const w of s.workers) w.hold(`source root ${info.reason}`);
      watcher.close();
    });
    try {
      const { dirs, ms } = await watcher.start();
      s.watchedDirs = dirs;
      s.state = 'watching';
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
    // Watches first, then the full sync: whatever changed while syncward was
    // down, or during the walk, is covered.
    if (s.config.initialSync) for (const w of s.workers) w.requestFullSync('startup');
  }

  /** Resumes a held target by name ("target" or "source/target"). Returns how many were resumed. */
  resume(name: string): number {
    let n = 0;
    for (const s of this.sources)
      for (const w of s.workers)
        if (w.name === name || `${s.config.name}/${w.name}` === name) {
          w.resume();
          n++;
        }
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
      targets: s.workers.map((w, i) => ({
        source: s.config.name,
        target: w.name,
        url: (s.config.targets[i] as TargetConfig).url,
        state: w.state,
        pending: w.pending,
        lastSuccessAt: w.lastSuccessAt,
        lastError: w.lastError,
      })),
    }));
  }

  /** True when every watched source's workers have nothing pending or running. */
  isIdle(): boolean {
    return this.sources.every((s) => s.state !== 'watching' || s.workers.every((w) => w.isIdle));
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.scheduler.stop();
    for (const s of this.sources) {
      if (s.retry) clearTimeout(s.retry);
      s.watcher?.close();
      s.state = 'stopped';
    }
    await Promise.all(this.sources.flatMap((s) => s.workers.map((w) => w.stop(graceMs))));
  }
}
