import { createRequire } from 'node:module';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { TransferReport } from '../dispatch/index.js';
import { flattenLeaves } from '../relay/index.js';
import type { BatchEvent, SourceStatus } from '../status/index.js';

const TARGET_STATES = [
  'starting',
  'syncing',
  'idle',
  'lagging',
  'down',
  'misconfigured',
  'held',
  'paused',
] as const;
/** A relay's target may also be unknown: the relay cannot be read. */
const LEAF_STATES = [...TARGET_STATES, 'unknown'] as const;
const DRIFT_KINDS = ['missing', 'extra', 'content', 'metadata'] as const;

const PREFIX = 'syncward_';

/**
 * prom-client's default process and heap metrics, except its event-loop-lag
 * histogram: that one samples the loop with a 10 ms timer
 * (monitorEventLoopDelay), which woke an idle daemon 100 times a second and
 * cost ~1% of a core doing nothing. Its place is taken by one gauge that
 * measures the loop's lag when scraped, so idle means asleep. prom-client
 * keeps each default metric in lib/metrics/<name>.js under the name its
 * metricsList gives; a release that moves them fails here, at start, and in
 * the metrics tests.
 */
function registerProcessMetrics(registry: Registry): void {
  const load = createRequire(import.meta.url);
  for (const name of collectDefaultMetrics.metricsList) {
    if (name === 'eventLoopLag') continue;
    const collector = load(`prom-client/lib/metrics/${name}.js`) as (r: Registry, c: object) => void;
    collector(registry, { prefix: PREFIX });
  }
  new Gauge({
    name: `${PREFIX}nodejs_eventloop_lag_seconds`,
    help: 'Lag of the event loop in seconds, measured at the scrape (the time an immediate waits to run).',
    registers: [registry],
    async collect() {
      const start = process.hrtime.bigint();
      await new Promise((r) => setImmediate(r));
      this.set(Number(process.hrtime.bigint() - start) / 1e9);
    },
  });
}

/**
 * syncward's Prometheus series, in a registry of its own (never prom-client's
 * global one: two daemons in one process, as in tests, must not share
 * counters). Counters follow the daemon's events; gauges are read from
 * `status()` at each scrape, so they can never disagree with /api/status.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly events: Counter<'source' | 'kind'>;
  private readonly overflows: Counter<'source'>;
  private readonly transfers: Counter<'source' | 'target' | 'kind' | 'result'>;
  private readonly duration: Histogram<'source' | 'target' | 'kind'>;
  private readonly files: Counter<'source' | 'target'>;
  private readonly bytes: Counter<'source' | 'target'>;
  private readonly gauges: {
    watched: Gauge<'source'>;
    unwatched: Gauge<'source'>;
    maxWatches: Gauge;
    pending: Gauge<'source' | 'target'>;
    oldest: Gauge<'source' | 'target'>;
    stuck: Gauge<'source' | 'target'>;
    state: Gauge<'source' | 'target' | 'state'>;
    canaryLag: Gauge<'source' | 'target'>;
    drift: Gauge<'source' | 'target' | 'kind'>;
    lastFull: Gauge<'source' | 'target'>;
    lastSuccess: Gauge<'source' | 'target'>;
    lastAudit: Gauge<'source' | 'target'>;
    relayUp: Gauge<'source' | 'target'>;
    relayRead: Gauge<'source' | 'target'>;
    leafState: Gauge<'source' | 'target' | 'leaf' | 'state'>;
    leafPending: Gauge<'source' | 'target' | 'leaf'>;
    leafCanaryLag: Gauge<'source' | 'target' | 'leaf'>;
  };

  constructor(private readonly status: () => SourceStatus[]) {
    const registers = [this.registry];
    const st = ['source', 'target'] as const;
    const stl = ['source', 'target', 'leaf'] as const;
    this.events = new Counter({
      name: 'syncward_events_total',
      help: 'Filesystem events accepted from the watcher (after the filter), by kind.',
      labelNames: ['source', 'kind'],
      registers,
    });
    this.overflows = new Counter({
      name: 'syncward_overflows_total',
      help: 'kernel event queue overflows, inotify or fanotify (each one triggers a full catch-up sync).',
      labelNames: ['source'],
      registers,
    });
    this.transfers = new Counter({
      name: 'syncward_transfers_total',
      help: 'rsync transfers, by kind (batch, full) and result (the exit class: ok, vanished, partial, transient, misconfigured, ...).',
      labelNames: ['source', 'target', 'kind', 'result'],
      registers,
    });
    this.duration = new Histogram({
      name: 'syncward_transfer_duration_seconds',
      help: 'Duration of rsync transfers.',
      labelNames: ['source', 'target', 'kind'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers,
    });
    this.files = new Counter({
      name: 'syncward_files_sent_total',
      help: 'Files rsync transferred.',
      labelNames: st,
      registers,
    });
    this.bytes = new Counter({
      name: 'syncward_bytes_sent_total',
      help: 'Bytes rsync sent (its "sent N bytes").',
      labelNames: st,
      registers,
    });
    this.gauges = {
      watched: new Gauge({
        name: 'syncward_watched_directories',
        help: 'Directories with an inotify watch.',
        labelNames: ['source'],
        registers,
      }),
      unwatched: new Gauge({
        name: 'syncward_unwatched_directories',
        help: 'Directories that could not be listed or watched (out of fds, memory or watches; no permission), retried until they can.',
        labelNames: ['source'],
        registers,
      }),
      maxWatches: new Gauge({
        name: 'syncward_max_user_watches',
        help: 'fs.inotify.max_user_watches (the limit the watched directories of all sources share).',
        registers,
      }),
      pending: new Gauge({
        name: 'syncward_pending_changes',
        help: 'Changes waiting for a target.',
        labelNames: st,
        registers,
      }),
      oldest: new Gauge({
        name: 'syncward_oldest_pending_age_seconds',
        help: 'Age of the oldest change a target still needs (0 when it needs none).',
        labelNames: st,
        registers,
      }),
      stuck: new Gauge({
        name: 'syncward_stuck_paths',
        help: 'Paths that failed stuck_after transfers in a row.',
        labelNames: st,
        registers,
      }),
      state: new Gauge({
        name: 'syncward_target_state',
        help: "1 for the target's current state, 0 for the others.",
        labelNames: ['source', 'target', 'state'],
        registers,
      }),
      canaryLag: new Gauge({
        name: 'syncward_canary_lag_seconds',
        help: 'End-to-end replication lag of the last canary that arrived (write to confirmed arrival).',
        labelNames: st,
        registers,
      }),
      drift: new Gauge({
        name: 'syncward_audit_drift_entries',
        help: 'Drift entries found by the last audit, by kind (missing, extra, content, metadata).',
        labelNames: ['source', 'target', 'kind'],
        registers,
      }),
      lastFull: new Gauge({
        name: 'syncward_last_full_sync_timestamp_seconds',
        help: 'When the last full sync to a target completed (Unix time).',
        labelNames: st,
        registers,
      }),
      lastSuccess: new Gauge({
        name: 'syncward_last_success_timestamp_seconds',
        help: 'When the last transfer to a target succeeded (Unix time).',
        labelNames: st,
        registers,
      }),
      lastAudit: new Gauge({
        name: 'syncward_last_audit_timestamp_seconds',
        help: 'When a target was last audited (Unix time).',
        labelNames: st,
        registers,
      }),
      relayUp: new Gauge({
        name: 'syncward_relay_up',
        help: "A relay target: 1 when the last read of the relay's /api/status answered, 0 when it failed (its leaves are unknown) or none was made yet.",
        labelNames: st,
        registers,
      }),
      relayRead: new Gauge({
        name: 'syncward_relay_last_read_timestamp_seconds',
        help: "When the relay's /api/status last answered (Unix time).",
        labelNames: st,
        registers,
      }),
      leafState: new Gauge({
        name: 'syncward_leaf_state',
        help: "A relay's target (leaf, a path one tier deeper: r1a/x): 1 for its current state, 0 for the others; unknown while a relay above it cannot be read.",
        labelNames: ['source', 'target', 'leaf', 'state'],
        registers,
      }),
      leafPending: new Gauge({
        name: 'syncward_leaf_pending_changes',
        help: "Changes waiting for a relay's target, as the relay reports them (none while it is unknown).",
        labelNames: stl,
        registers,
      }),
      leafCanaryLag: new Gauge({
        name: 'syncward_leaf_canary_lag_seconds',
        help: "The relay's canary lag to its target: from the first source's write with canary.follow on the relay (none while it is unknown).",
        labelNames: stl,
        registers,
      }),
    };
    registerProcessMetrics(this.registry);
  }

  onBatch(b: BatchEvent): void {
    for (const [kind, n] of Object.entries(b.kinds)) if (n) this.events.inc({ source: b.source, kind }, n);
  }

  onOverflow(source: string): void {
    this.overflows.inc({ source });
  }

  onTransfer(r: TransferReport): void {
    const st = { source: r.source, target: r.target };
    this.transfers.inc({ ...st, kind: r.kind, result: r.result });
    this.duration.observe({ ...st, kind: r.kind }, r.durationMs / 1000);
    if (r.files > 0) this.files.inc(st, r.files);
    if (r.bytes > 0) this.bytes.inc(st, r.bytes);
  }

  /** The exposition text, with every gauge read from the daemon's status now. */
  async render(now = Date.now()): Promise<string> {
    const g = this.gauges;
    for (const x of Object.values(g)) x.reset();
    let maxWatches: number | null = null;
    for (const s of this.status()) {
      g.watched.set({ source: s.name }, s.watchedDirs);
      g.unwatched.set({ source: s.name }, s.unwatched.dirs);
      // a known source shows 0 overflows rather than no series at all
      this.overflows.inc({ source: s.name }, 0);
      if (s.maxUserWatches !== null) maxWatches = Math.max(maxWatches ?? 0, s.maxUserWatches);
      for (const t of s.targets) {
        const st = { source: s.name, target: t.target };
        g.pending.set(st, t.pending);
        g.oldest.set(st, t.oldestPendingAt === null ? 0 : Math.max(0, (now - t.oldestPendingAt) / 1000));
        g.stuck.set(st, t.stuck);
        for (const state of TARGET_STATES) g.state.set({ ...st, state }, t.state === state ? 1 : 0);
        if (t.canary?.lagMs != null) g.canaryLag.set(st, t.canary.lagMs / 1000);
        if (t.lastFullSyncAt !== null) g.lastFull.set(st, t.lastFullSyncAt / 1000);
        if (t.lastSuccessAt !== null) g.lastSuccess.set(st, t.lastSuccessAt / 1000);
        if (t.lastAudit) {
          g.lastAudit.set(st, t.lastAudit.at / 1000);
          for (const kind of DRIFT_KINDS) g.drift.set({ ...st, kind }, t.lastAudit.drift[kind]);
        }
        if (t.relay) {
          g.relayUp.set(st, t.relay.state === 'ok' ? 1 : 0);
          if (t.relay.readAt !== null) g.relayRead.set(st, t.relay.readAt / 1000);
          for (const { path, leaf } of flattenLeaves(t.relay)) {
            const stl = { ...st, leaf: path };
            for (const state of LEAF_STATES) g.leafState.set({ ...stl, state }, leaf.state === state ? 1 : 0);
            // a relay's last word is no figure of now: an unknown leaf has no pending or lag series
            if (leaf.state === 'unknown') continue;
            g.leafPending.set(stl, leaf.pending);
            if (leaf.canary?.lagMs != null) g.leafCanaryLag.set(stl, leaf.canary.lagMs / 1000);
          }
        }
      }
    }
    if (maxWatches !== null) g.maxWatches.set(maxWatches);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
