import { spawn } from 'node:child_process';
import { jitteredDelay } from '../util/backoff.js';
import type { Logger } from '../util/log.js';
import { readTokenFile } from '../util/token-file.js';

/**
 * Delivery of JSON messages to webhooks and commands, for alerts and
 * after-sync hooks. Nothing here ever blocks the pipeline: each sink has its
 * own bounded queue and one message in flight; a failing sink is retried
 * with backoff, then logged as given up, and never throws into its caller.
 */

export interface RetryPolicy {
  /** attempts in all, the first one included */
  tries: number;
  baseMs: number;
  maxMs: number;
}

export const defaultRetry: RetryPolicy = { tries: 5, baseMs: 1000, maxMs: 30_000 };

/**
 * How long to wait after failed attempt number `attempt` (1 = the first
 * try failed) before the next one, or null when it was the last. Pure: the
 * random source is passed in. Exponential from baseMs, capped at maxMs, with
 * jitter on the upper half so many daemons do not hit a recovering receiver
 * in lockstep.
 */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy = defaultRetry,
  random: () => number = Math.random,
): number | null {
  if (attempt >= policy.tries) return null;
  return jitteredDelay(attempt, policy.baseMs, policy.maxMs, random);
}

/**
 * POSTs JSON; resolves on 2xx, throws with the status and the start of the
 * body otherwise, or with `refusal`'s reason when a 2xx answer's body says
 * the message was refused (chat services answer 200 with an error code).
 */
export async function postJson(
  url: string,
  body: unknown,
  o: { timeoutMs: number; tokenFile?: string; refusal?: (answer: string) => string | null },
): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.tokenFile)
    headers.authorization = `Bearer ${readTokenFile(o.tokenFile, { key: 'token_file', ownerOnly: false })}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs),
      redirect: 'error',
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError') throw new Error(`no answer within ${o.timeoutMs / 1000} s`);
    throw new Error(err.cause?.code ?? err.cause?.message ?? err.message);
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new Error(`HTTP ${res.status}${text ? `: ${text.slice(0, 200).trim()}` : ''}`);
  const refused = o.refusal?.(text) ?? null;
  if (refused !== null) throw new Error(refused);
}

/**
 * Runs argv (no shell) with JSON on stdin. Resolves on exit 0; throws with
 * the exit code (or the kill after the timeout) and the end of stderr.
 */
export function runCommand(argv: readonly string[], body: unknown, o: { timeoutMs: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv as [string, ...string[]];
    let stderr = '';
    let timedOut = false;
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    } catch (e) {
      reject(e);
      return;
    }
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    // a program that does not read its stdin is not an error of ours
    child.stdin?.on('error', () => {});
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${file}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const tail = stderr.trim().split('\n').slice(-5).join(' | ');
      if (timedOut)
        reject(new Error(`killed after ${o.timeoutMs / 1000} s${tail ? `; stderr: ${tail}` : ''}`));
      else if (code === 0) resolve();
      else reject(new Error(`exit ${code ?? signal}${tail ? `; stderr: ${tail}` : ''}`));
    });
    child.stdin?.end(`${JSON.stringify(body)}\n`);
  });
}

export interface SinkOptions<T> {
  /** for logs: "webhook https://..." or "command /usr/local/bin/x" */
  name: string;
  send: (item: T) => Promise<void>;
  log: Logger;
  retry?: RetryPolicy;
  /** most messages waiting (the one in flight not counted) */
  maxQueue?: number;
  /**
   * Folds a new message into a waiting one instead of queueing it; returns
   * the merged message, or null when they cannot be merged. Without it, a
   * full queue drops its oldest waiting message (and logs it).
   */
  merge?: (waiting: T, next: T) => T | null;
  /** a short description of a message for logs */
  describe?: (item: T) => string;
  random?: () => number;
}

/**
 * One destination: messages go out in order, one at a time, each retried
 * per the policy, then given up (logged). push() returns at once.
 */
export class Sink<T> {
  private readonly queue: T[] = [];
  private busy = false;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private idleWaiters: (() => void)[] = [];
  /** messages delivered, given up and dropped so far */
  readonly counts = { delivered: 0, givenUp: 0, dropped: 0 };

  constructor(private readonly o: SinkOptions<T>) {}

  push(item: T): void {
    if (this.closed) return;
    if (this.o.merge) {
      for (let i = this.queue.length - 1; i >= 0; i--) {
        const merged = this.o.merge(this.queue[i] as T, item);
        if (merged !== null) {
          this.queue[i] = merged;
          return;
        }
      }
    }
    const max = this.o.maxQueue ?? 100;
    if (this.queue.length >= max) {
      const dropped = this.queue.shift() as T;
      this.counts.dropped++;
      this.o.log.error(
        { sink: this.o.name, queued: max },
        `${this.o.name}: ${max} messages are waiting (it is slow or failing), dropping the oldest: ${this.describe(dropped)}`,
      );
    }
    this.queue.push(item);
    void this.run();
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is waiting or in flight (for tests and shutdown). */
  idle(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops retrying and drops what waits; a message in flight finishes on its own. */
  close(): void {
    this.closed = true;
    if (this.queue.length > 0)
      this.o.log.warn(
        { sink: this.o.name, dropped: this.queue.length },
        `${this.o.name}: ${this.queue.length} message(s) not sent because syncward is stopping`,
      );
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake?.();
  }

  private describe(item: T): string {
    return this.o.describe ? this.o.describe(item) : 'message';
  }

  private async run(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const item = this.queue.shift() as T;
        await this.deliver(item);
      }
    } finally {
      this.busy = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async deliver(item: T): Promise<void> {
    const policy = this.o.retry ?? defaultRetry;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.send(item);
        this.counts.delivered++;
        if (attempt > 1)
          this.o.log.info(
            { sink: this.o.name, attempt },
            `${this.o.name}: ${this.describe(item)} delivered at attempt ${attempt}`,
          );
        return;
      } catch (e) {
        const delay = retryDelayMs(attempt, policy, this.o.random);
        const why = (e as Error).message;
        if (delay === null || this.closed) {
          this.counts.givenUp++;
          this.o.log.error(
            { sink: this.o.name, attempt, err: why },
            `${this.o.name}: gave up on ${this.describe(item)} after ${attempt} attempt(s): ${why}; check that the receiver is up and accepts it`,
          );
          return;
        }
        this.o.log.warn(
          { sink: this.o.name, attempt, err: why, retryInMs: delay },
          `${this.o.name}: ${this.describe(item)} failed (${why}); retry ${attempt + 1} of ${policy.tries} in ${Math.round(delay / 100) / 10} s`,
        );
        await new Promise<void>((r) => {
          this.wake = r;
          this.timer = setTimeout(r, delay);
        });
        this.wake = null;
        this.timer = null;
        if (this.closed) {
          this.counts.givenUp++;
          return;
        }
      }
    }
  }
}
