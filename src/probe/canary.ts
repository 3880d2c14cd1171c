import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  opendirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Transport } from '../transport/index.js';
import type { Logger } from '../util/log.js';
import { timerDelay } from '../util/timers.js';

/** End-to-end replication lag measured by the canary, per target (as Daemon.status() shows it). */
export interface CanaryState {
  lastWrittenAt: number | null;
  lastArrivedAt: number | null;
  /** write-to-confirmed-arrival time of the last canary that arrived */
  lagMs: number | null;
  /** epoch ms of the oldest canary write not seen on the target within the timeout, or null */
  missingSince: number | null;
}

/** One canary written into the source. */
export interface CanaryWrite {
  nonce: string;
  writtenAt: number;
}

const MAGIC = 'syncward canary';

/** The canary file's text: the nonce and the write time (pure). */
export function canaryText(w: CanaryWrite): string {
  return `${MAGIC} (written by syncward to measure replication lag; do not edit)\nnonce ${w.nonce}\nwritten ${w.writtenAt} ${new Date(w.writtenAt).toISOString()}\n`;
}

/** The nonce and write time of a canary file's text, or null if it is not one (pure). */
export function parseCanary(text: string): CanaryWrite | null {
  if (!text.startsWith(MAGIC)) return null;
  const nonce = /^nonce ([0-9a-f]+)$/m.exec(text)?.[1];
  const written = /^written (\d+)\b/m.exec(text)?.[1];
  if (!nonce || !written) return null;
  return { nonce, writtenAt: Number(written) };
}

/** Canaries remembered per target while not yet seen; older ones are forgotten (a later arrival covers them). */
const OUTSTANDING_MAX = 64;

/**
 * What one target has seen of the canaries (pure: times are passed in).
 * A canary seen on the target also accounts for every older one: the file
 * holds only the newest write that got through.
 */
export class CanaryTracker {
  private outstanding: CanaryWrite[] = [];
  /** oldest write not yet accounted for (also when forgotten from the list) */
  private oldestUnseen: number | null = null;
  private state: CanaryState = { lastWrittenAt: null, lastArrivedAt: null, lagMs: null, missingSince: null };

  constructor(private readonly timeoutMs: number) {}

  written(w: CanaryWrite): void {
    this.outstanding.push(w);
    if (this.outstanding.length > OUTSTANDING_MAX) this.outstanding.shift();
    if (this.oldestUnseen === null) this.oldestUnseen = w.writtenAt;
    this.state.lastWrittenAt = w.writtenAt;
  }

  /** True while a written canary has not been seen: keep reading the target. */
  get waiting(): boolean {
    return this.outstanding.length > 0;
  }

  /**
   * The target holds the canary with this nonce, read at `at`. Returns the
   * lag when it is one we wrote and were waiting for, and whether this ends
   * a missing period; null for an old or foreign nonce.
   */
  seen(nonce: string, at: number): { lagMs: number; recovered: boolean } | null {
    const i = this.outstanding.findIndex((w) => w.nonce === nonce);
    if (i < 0) return null;
    const w = this.outstanding[i] as CanaryWrite;
    this.outstanding = this.outstanding.slice(i + 1);
    this.oldestUnseen = this.outstanding[0]?.writtenAt ?? null;
    const lagMs = Math.max(0, at - w.writtenAt);
    this.state.lagMs = lagMs;
    this.state.lastArrivedAt = at;
    const recovered = this.state.missingSince !== null;
    this.state.missingSince = null;
    // a newer canary may already be overdue on its own
    this.check(at);
    return { lagMs, recovered };
  }

  /**
   * The target was down, misconfigured or held until `now`: the canaries
   * written meanwhile could not arrive, and get a fresh timeout from now (the
   * catch-up brings them) rather than an alert the moment it is back.
   */
  excuse(now: number): void {
    if (this.oldestUnseen === null) return;
    this.oldestUnseen = now;
    this.state.missingSince = null;
  }

  /** Marks the target missing once a canary is overdue. True when it just became missing. */
  check(now: number): boolean {
    if (this.state.missingSince !== null || this.oldestUnseen === null) return false;
    if (now - this.oldestUnseen <= this.timeoutMs) return false;
    this.state.missingSince = this.oldestUnseen;
    return true;
  }

  status(): CanaryState {
    return { ...this.state };
  }
}

/** The 'canary' event: a canary arrived on a target (lagMs), or is missing there. */
export interface CanaryEvent {
  source: string;
  target: string;
  at: number;
  /** write-to-arrival time of the canary that arrived, or null when it is missing */
  lagMs: number | null;
  missing: boolean;
  /** when missing: epoch ms of the oldest write not seen */
  missingSince?: number;
}

export interface CanaryOptions {
  source: string;
  /** the source root */
  root: string;
  /** relative to the root */
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** each target, as the workers reach it */
  targets: readonly Transport[];
  log: Logger;
  /** write only while this says so (the source is watched) */
  active: () => boolean;
  /** an arrival or a missing canary */
  onEvent: (e: CanaryEvent) => void;
  /** how often a waiting target is read back when nothing was delivered (default 1000 ms) */
  pollMs?: number;
  /**
   * A relay's canary: write none, follow the one an upstream syncward writes
   * into this tree (read at path every pollMs), so a target's lag counts from
   * the first source's write
   */
  follow?: boolean;
}

interface Probe {
  transport: Transport;
  tracker: CanaryTracker;
  /** its read-back directory's name under the temp directory */
  dir: string;
  busy: boolean;
  /** read again once the read in flight ends (a delivery came meanwhile) */
  again: boolean;
  timer: NodeJS.Timeout | null;
  /** consecutive failed reads: the poll backs off (a target that is down) */
  failures: number;
}

/**
 * The canary of one source: every interval it writes a small file with a
 * nonce into the source (in place, so the watcher's IN_CLOSE_WRITE sends it
 * through the normal pipeline), then reads it back from each target with an
 * rsync fetch until the nonce is there or the timeout passes. Never blocks
 * anything: writes are tiny, reads are one rsync per target at a time, and
 * every failure is logged and retried. On a relay (follow) it writes none:
 * the upstream's canary arrives in the tree, and each new one is read back
 * from every target the same way, its lag counted from the upstream's write.
 */
export class Canary {
  private readonly probes = new Map<string, Probe>();
  /** where read-back copies land, one directory per target; made at the first read */
  private tmp: string | null = null;
  /** the last write failed: the next failure is not logged again */
  private writeFailing = false;
  private tick: NodeJS.Timeout | null = null;
  /** finds overdue canaries even while a slow read is in flight */
  private watchdog: NodeJS.Timeout | null = null;
  private stopped = false;
  /** read-back directories named so far (each probe has its own) */
  private dirs = 0;
  /** follow mode: the nonce of the upstream's canary last seen in the tree */
  private followed: string | null = null;

  constructor(private readonly o: CanaryOptions) {
    timerDelay(o.intervalMs, `canary interval of source ${o.source}`);
    timerDelay(o.timeoutMs, `canary timeout of source ${o.source}`);
    for (const transport of o.targets) this.addTarget(transport);
  }

  /** A target to read the canary back from, from the next canary on (one added by a reload too). */
  addTarget(transport: Transport): void {
    this.probes.set(transport.target, {
      transport,
      tracker: new CanaryTracker(this.o.timeoutMs),
      dir: String(this.dirs++),
      busy: false,
      again: false,
      timer: null,
      failures: 0,
    });
  }

  /** A target removed by a reload: no more reads of it. */
  removeTarget(target: string): void {
    const p = this.probes.get(target);
    if (p?.timer) clearTimeout(p.timer);
    this.probes.delete(target);
  }

  start(): void {
    if (this.tick || this.stopped) return;
    const next = this.o.follow ? () => this.follow() : () => this.write();
    next();
    this.tick = setInterval(next, this.o.follow ? (this.o.pollMs ?? 1000) : this.o.intervalMs);
    this.tick.unref();
    this.watchdog = setInterval(
      () => {
        const now = Date.now();
        for (const p of this.probes.values()) this.checkMissing(p, now);
      },
      Math.min(1000, this.o.timeoutMs),
    );
    this.watchdog.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.tick) clearInterval(this.tick);
    if (this.watchdog) clearInterval(this.watchdog);
    this.tick = null;
    this.watchdog = null;
    for (const p of this.probes.values()) if (p.timer) clearTimeout(p.timer);
    if (this.tmp) {
      try {
        // a read still in flight may write into it meanwhile (ENOTEMPTY): a few tries, and stop never throws
        rmSync(this.tmp, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
      } catch (e) {
        this.o.log.warn(
          { source: this.o.source, err: (e as Error).message },
          `canary of source ${this.o.source}: could not remove its read-back directory ${this.tmp} (${(e as Error).message}); it holds only canary copies and may be deleted`,
        );
      }
    }
    this.tmp = null;
  }

  status(target: string): CanaryState | null {
    return this.probes.get(target)?.tracker.status() ?? null;
  }

  /** Something reached this target: read the canary back now rather than at the next poll. */
  /** The target is reachable again after a state with its own alert: its canary's clock starts again. */
  targetBack(target: string): void {
    this.probes.get(target)?.tracker.excuse(Date.now());
  }

  delivered(target: string): void {
    const p = this.probes.get(target);
    if (p?.tracker.waiting) this.read(p);
  }

  /** Writes a new canary, then starts reading it back from every target. */
  private write(): void {
    if (this.stopped || !this.o.active()) return;
    const file = join(this.o.root, this.o.path);
    try {
      // an emptied source stays empty: no canary may make it look alive (and keep its targets from being held)
      if (!this.rootHasOthers()) return;
      mkdirSync(dirname(file), { recursive: true });
      const w: CanaryWrite = { nonce: randomBytes(8).toString('hex'), writtenAt: Date.now() };
      // in place, closed at once: IN_CLOSE_WRITE sends it (a temp file + rename would be synced too)
      writeFileSync(file, canaryText(w), { mode: 0o644 });
      for (const p of this.probes.values()) {
        p.tracker.written(w);
        this.schedule(p, this.o.pollMs ?? 1000);
      }
      this.writeFailing = false;
    } catch (e) {
      if (this.writeFailing) return;
      this.writeFailing = true;
      this.o.log.warn(
        { source: this.o.source, path: file, err: (e as Error).message },
        `canary of source ${this.o.source}: cannot write ${file} (${(e as Error).message}); lag is not measured until it can`,
      );
    }
  }

  /**
   * Follow mode: the upstream's canary as this tree holds it now. A nonce
   * not seen before is a new write, as if this daemon had made it at the
   * time written in the file, and every target is read back for it.
   */
  private follow(): void {
    if (this.stopped || !this.o.active()) return;
    let w: CanaryWrite | null;
    try {
      w = parseCanary(readFileSync(join(this.o.root, this.o.path), 'utf8'));
    } catch {
      // not arrived yet, or between the upstream's writes: nothing new
      return;
    }
    if (w === null || w.nonce === this.followed) return;
    this.followed = w.nonce;
    // one written before its timeout ago (found at start): when it reached each target is not knowable
    if (Date.now() - w.writtenAt > this.o.timeoutMs) return;
    for (const p of this.probes.values()) {
      p.tracker.written(w);
      this.schedule(p, 0);
    }
  }

  /** Emits 'missing' once when the target's oldest unseen canary is past the timeout. */
  private checkMissing(p: Probe, now: number): void {
    if (!p.tracker.check(now)) return;
    this.o.onEvent({
      source: this.o.source,
      target: p.transport.target,
      at: now,
      lagMs: null,
      missing: true,
      missingSince: p.tracker.status().missingSince ?? now,
    });
  }

  /** Whether the source root holds anything besides the canary (stops at the first such entry). */
  private rootHasOthers(): boolean {
    const own = this.o.path.split('/')[0];
    const dir = opendirSync(this.o.root);
    try {
      for (let e = dir.readSync(); e !== null; e = dir.readSync()) if (e.name !== own) return true;
      return false;
    } finally {
      dir.closeSync();
    }
  }

  /** The read-back directory of a target, made (with the temp directory) when first needed. */
  private localDir(p: Probe): string {
    if (!this.tmp) this.tmp = mkdtempSync(join(tmpdir(), 'syncward-canary-'));
    const dir = join(this.tmp, p.dir);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  private schedule(p: Probe, ms: number): void {
    // a probe removed by a reload (its read in flight ends) is not read again
    if (this.stopped || p.timer || this.probes.get(p.transport.target) !== p) return;
    p.timer = setTimeout(() => {
      p.timer = null;
      this.read(p);
    }, ms);
    p.timer.unref();
  }

  /** One rsync fetch of the canary from the target; then compare nonces. */
  private read(p: Probe): void {
    if (this.stopped || this.probes.get(p.transport.target) !== p) return;
    if (p.busy) {
      p.again = true;
      return;
    }
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    let dir: string;
    try {
      dir = this.localDir(p);
    } catch (e) {
      this.o.log.warn(
        { source: this.o.source, err: (e as Error).message },
        `canary of source ${this.o.source}: cannot make a temporary directory to read it back (${(e as Error).message}); check the free space and permissions of ${tmpdir()}`,
      );
      this.schedule(p, this.o.intervalMs);
      return;
    }
    p.busy = true;
    p.again = false;
    const local = join(dir, basename(this.o.path));
    try {
      unlinkSync(local);
    } catch {
      // nothing left from the last read
    }
    void p.transport
      .fetch(this.o.path, dir)
      .then((r) => {
        const at = Date.now();
        let nonce: string | null = null;
        if (r.class === 'ok') {
          try {
            nonce = parseCanary(readFileSync(local, 'utf8'))?.nonce ?? null;
          } catch {
            nonce = null;
          }
          p.failures = 0;
        } else {
          // not there yet (23: no such file), or the target is down: both just mean "not seen"
          p.failures++;
          this.o.log.debug(
            { source: this.o.source, target: p.transport.target, code: r.code, err: r.message },
            'canary: read back failed',
          );
        }
        const arrived = nonce === null ? null : p.tracker.seen(nonce, at);
        if (arrived) {
          this.o.log.info(
            { source: this.o.source, target: p.transport.target, lagMs: arrived.lagMs },
            `canary of source ${this.o.source} arrived on target ${p.transport.target} after ${arrived.lagMs} ms${arrived.recovered ? ' (it had been missing; the path works again)' : ''}`,
          );
          this.o.onEvent({
            source: this.o.source,
            target: p.transport.target,
            at,
            lagMs: arrived.lagMs,
            missing: false,
          });
        }
        this.checkMissing(p, at);
      })
      .catch((e: unknown) => {
        this.o.log.warn(
          { source: this.o.source, target: p.transport.target, err: (e as Error).message },
          `canary: cannot read back from ${p.transport.target}: ${(e as Error).message}`,
        );
      })
      .finally(() => {
        p.busy = false;
        if (this.stopped || !p.tracker.waiting) return;
        if (p.again) return this.read(p);
        // a target that keeps failing is asked less often, at most once per interval
        const base = this.o.pollMs ?? 1000;
        this.schedule(p, Math.min(base * 2 ** Math.min(p.failures, 10), this.o.intervalMs));
      });
  }
}
