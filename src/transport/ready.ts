import type { RsyncCall } from './argv.js';
import { fitsReady, learnedRecycleMs } from './ready-rules.js';
import { type RsyncResult, type StartedRsync, startRsync } from './run.js';

/** What the ready rsync of one target did so far (status, tests). */
export interface ReadyStats {
  /** rsyncs started ahead of a batch */
  started: number;
  /** batches handed to one */
  handedOff: number;
  /** of those, batches sent again cold after a connection-class failure (ready-rules.ts retryCold) */
  retriedCold: number;
  /** batches sent cold while one could have been ready: none was, or the batch needed another call */
  cold: number;
  /** ended with an empty list and replaced after the recycle interval */
  recycled: number;
  /** ended because another call to the target came */
  disarmed: number;
  /** exited by themselves before they were used (a login refused, a daemon at max connections, a kill) */
  diedIdle: number;
  /** the one waiting now, or null */
  pid: number | null;
  /** the recycle interval in force (it shrinks when a daemon cuts ready connections sooner) */
  recycleMs: number;
}

export interface ReadyRsyncOptions {
  /** the batch call a ready rsync runs, built when it starts (a batch must match it exactly) */
  build: () => RsyncCall;
  /** end and replace a ready rsync this long after it started, before a daemon's idle timeout cuts it */
  recycleMs: number;
  /** bounds of the empty call that ends one at its recycle (its stall window, its hard bound) */
  endStallS: number;
  endTimeoutMs: number;
  /** a ready rsync ended by its recycle: the caller may start the next */
  recycled: () => void;
  /** one exited by itself before it was used (it was spawned at startedAt); the caller may lift `blocked` */
  diedIdle?: (r: RsyncResult, startedAt: number) => void;
}

/** An idle rsync waiting on its stdin ends at once on SIGTERM; SIGKILL is the backstop. */
const KILL_GRACE_MS = 1000;
/** An empty call is a few round trips: one that takes longer is on a dead link, and killed. */
const END_MS = 5000;

/**
 * At most one rsync started ahead for one target: spawned, connected and
 * logged in, waiting on its stdin for the --files-from=- list (run.ts
 * startRsync). The transport hands it a batch whose call matches (take),
 * or ends it, with an empty list too, before any other call (disarm). One timer while it waits: its
 * recycle, which ends it with an empty list (nothing is listed, so nothing
 * is sent or deleted, and the daemon logs an ordinary transfer rather than
 * a cut connection) so that a daemon's idle timeout never cuts it first.
 */
export class ReadyRsync {
  private proc: StartedRsync | null = null;
  private call: RsyncCall | null = null;
  /** the one being ended at its recycle */
  private leaving: StartedRsync | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly counts: Omit<ReadyStats, 'pid' | 'recycleMs'> = {
    started: 0,
    handedOff: 0,
    retriedCold: 0,
    cold: 0,
    recycled: 0,
    disarmed: 0,
    diedIdle: 0,
  };
  private recycleMs: number;
  /** the last one exited by itself before use: no other until a call to the target ended (ready-rules.ts shouldArm) */
  blocked = false;

  constructor(private readonly o: ReadyRsyncOptions) {
    this.recycleMs = o.recycleMs;
  }

  /** one is waiting or being ended */
  get present(): boolean {
    return this.proc !== null || this.leaving !== null;
  }

  stats(): ReadyStats {
    return { ...this.counts, pid: this.proc?.pid ?? null, recycleMs: this.recycleMs };
  }

  /** Starts one, unless one is there. */
  arm(): void {
    if (this.present) return;
    const call = this.o.build();
    const proc = startRsync(call);
    this.proc = proc;
    this.call = call;
    this.counts.started++;
    void proc.done.then((r) => {
      // ours and never handed a list: it ended by itself
      if (this.proc !== proc) return;
      this.detach();
      this.counts.diedIdle++;
      this.blocked = true;
      this.o.diedIdle?.(r, proc.startedAt);
    });
    this.timer = setTimeout(() => void this.recycle(), this.recycleMs);
    // an idle daemon may exit with one waiting: the timer must not keep it up
    this.timer.unref();
  }

  /**
   * The ready rsync, for a batch whose call is exactly its call; it is no
   * longer this object's. null: none is waiting, or the batch needs another
   * call (the caller ends the ready one with disarm before calling cold).
   */
  take(batch: RsyncCall): StartedRsync | null {
    const proc = this.proc;
    if (proc === null || proc.exited || this.call === null || !fitsReady(this.call, batch)) return null;
    this.detach();
    this.counts.handedOff++;
    return proc;
  }

  /**
   * Ends the waiting one (and one being recycled) and waits until it exited:
   * the target's connection is free. `end`: with an empty list, so the
   * target logs an ordinary transfer and its daemon process exits by itself
   * (a daemon frees a max connections slot only then); it takes the round
   * trips of an empty call, at most END_MS before it is killed. `kill`: now
   * (the daemon is stopping).
   */
  async disarm(how: 'end' | 'kill' = 'end'): Promise<void> {
    const waiting = this.proc;
    const leaving = this.leaving;
    if (waiting) this.counts.disarmed++;
    this.detach();
    this.leaving = null;
    if (waiting && how === 'end') void waiting.run(Buffer.alloc(0), { timeoutMs: END_MS });
    else waiting?.kill(KILL_GRACE_MS);
    if (how === 'kill') leaving?.kill(KILL_GRACE_MS);
    await Promise.all([waiting?.done, leaving?.done]);
  }

  /** Counts a batch that went cold. */
  sentCold(): void {
    this.counts.cold++;
  }

  /** A handed-off batch failed as only a stale connection would, at `ageMs`: it is sent again cold, and later ones recycle sooner. */
  failedAt(ageMs: number): void {
    this.counts.retriedCold++;
    this.recycleMs = learnedRecycleMs(this.recycleMs, ageMs);
  }

  /** Ends the waiting one with an empty list, then lets the caller start the next. */
  private async recycle(): Promise<void> {
    const proc = this.proc;
    if (proc === null) return;
    this.detach();
    this.leaving = proc;
    await proc.run(Buffer.alloc(0), { timeoutMs: this.o.endTimeoutMs, stallS: this.o.endStallS });
    if (this.leaving !== proc) return; // disarmed meanwhile: whoever did re-arms
    this.leaving = null;
    this.counts.recycled++;
    this.o.recycled();
  }

  private detach(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.proc = null;
    this.call = null;
  }
}
