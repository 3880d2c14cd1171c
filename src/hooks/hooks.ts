import type { Change, Op } from '../change/index.js';
import type { HookConfig, SourceConfig } from '../config/index.js';
import { postJson, runCommand, Sink } from '../deliver/index.js';
import { type CompiledPattern, compilePattern } from '../filter/index.js';
import { type BytePath, display, fromText, parentOf } from '../util/bytes.js';
import type { Logger } from '../util/log.js';
import { timerDelay } from '../util/timers.js';

/**
 * After-sync hooks (sersync's plugins, done safely): after a batch or a full
 * sync reached a target, each matching hook of that source gets the changed
 * paths as JSON, POSTed to its URL or on a command's stdin (argv, no shell).
 *
 * Hooks never block the pipeline: each has its own queue, one call in
 * flight, retries with backoff. A hook that falls behind gets the waiting
 * deliveries to the same target merged into one message, so no path is
 * dropped and the queue stays as long as the number of targets.
 */

/** What a hook receives. */
export interface HookMessage {
  source: string;
  target: string;
  /** 'full': the whole tree was synced (paths lists only changes merged into it, if any) */
  kind: 'batch' | 'full';
  /** epoch ms when the (last merged) transfer reached the target */
  at: number;
  /** changed paths relative to the source root, as text; invalid UTF-8 bytes show as U+FFFD */
  paths: { path: string; op: Op }[];
}

/** What goes through a hook's queue: paths kept as bytes (so merging is exact) until sent. */
interface Pending {
  source: string;
  target: string;
  kind: 'batch' | 'full';
  at: number;
  paths: Map<BytePath, Op>;
}

/**
 * One hook's include patterns: a path matches when it or one of its parent
 * directories does. The source's canary file never matches: it changes every
 * canary interval and is syncward's own, not the operator's content.
 */
export function hookMatcher(
  include: readonly string[],
  canaryPath?: string,
): (path: BytePath, op: Op) => boolean {
  if (canaryPath !== undefined) {
    const canary = fromText(canaryPath);
    const rest = hookMatcher(include);
    return (path, op) => path !== canary && rest(path, op);
  }
  if (include.length === 0) return () => true;
  const patterns: CompiledPattern[] = include.map((p) => compilePattern(p, true));
  return (path, op) => {
    if (patterns.some((p) => p.matches(path, op === 'upsertTree'))) return true;
    for (let dir = parentOf(path); dir !== ''; dir = parentOf(dir))
      if (patterns.some((p) => p.matches(dir, true))) return true;
    return false;
  };
}

/** The message a hook gets for one delivery, or null when none of its paths match. */
export function hookPayload(
  hook: Pick<HookConfig, 'include' | 'targets'>,
  match: (path: BytePath, op: Op) => boolean,
  source: string,
  target: string,
  delivery: { kind: 'batch' | 'full'; changes: readonly Change[] },
  at: number,
): Pending | null {
  if (hook.targets.length > 0 && !hook.targets.includes(target)) return null;
  const paths = new Map<BytePath, Op>();
  for (const c of delivery.changes) if (match(c.path, c.op)) paths.set(c.path, c.op);
  // a full sync may have changed anything the patterns match
  if (delivery.kind === 'batch' && paths.size === 0) return null;
  return { source, target, kind: delivery.kind, at, paths };
}

/** Merges a newer delivery into a waiting one for the same target (later ops win per path). */
export function mergePending(waiting: Pending, next: Pending): Pending | null {
  if (waiting.target !== next.target || waiting.source !== next.source) return null;
  const paths = new Map(waiting.paths);
  for (const [p, op] of next.paths) {
    paths.delete(p);
    paths.set(p, op);
  }
  return {
    source: next.source,
    target: next.target,
    kind: waiting.kind === 'full' || next.kind === 'full' ? 'full' : 'batch',
    at: Math.max(waiting.at, next.at),
    paths,
  };
}

export function toMessage(p: Pending): HookMessage {
  return {
    source: p.source,
    target: p.target,
    kind: p.kind,
    at: p.at,
    paths: [...p.paths].map(([path, op]) => ({ path: display(path), op })),
  };
}

interface RunningHook {
  config: HookConfig;
  match: (path: BytePath, op: Op) => boolean;
  sink: Sink<Pending>;
}

/** The hooks of every source, fed by the daemon's 'delivered' events. */
export class Hooks {
  private readonly bySource = new Map<string, RunningHook[]>();

  constructor(
    sources: readonly SourceConfig[],
    private readonly log: Logger,
  ) {
    for (const s of sources) {
      const hooks: RunningHook[] = [];
      for (const h of s.hooks) {
        let match: (path: BytePath, op: Op) => boolean;
        let timeoutMs: number;
        try {
          match = hookMatcher(h.include, s.canary?.path);
          timeoutMs = timerDelay(h.timeoutS * 1000, 'its timeout_s');
        } catch (e) {
          log.error(
            { source: s.name, hook: h.name },
            `hook ${s.name}/${h.name} is disabled: ${(e as Error).message}; fix it in the config`,
          );
          continue;
        }
        const name = `hook ${s.name}/${h.name}`;
        const send = h.url
          ? (p: Pending) => postJson(h.url as string, toMessage(p), { timeoutMs })
          : (p: Pending) => runCommand(h.command as string[], toMessage(p), { timeoutMs });
        hooks.push({
          config: h,
          match,
          sink: new Sink<Pending>({
            name,
            log,
            send,
            merge: mergePending,
            describe: (p) =>
              `${p.kind === 'full' ? 'full sync' : `${p.paths.size} path(s)`} delivered to ${p.target}`,
          }),
        });
      }
      if (hooks.length > 0) this.bySource.set(s.name, hooks);
    }
  }

  /** A transfer reached a target: queue a message for every hook that wants it. Returns at once. */
  delivered(
    source: string,
    target: string,
    delivery: { kind: 'batch' | 'full'; changes: readonly Change[] },
    at = Date.now(),
  ): void {
    for (const h of this.bySource.get(source) ?? []) {
      try {
        const p = hookPayload(h.config, h.match, source, target, delivery, at);
        if (p) h.sink.push(p);
      } catch (e) {
        this.log.error(
          { source, hook: h.config.name, err: (e as Error).message },
          `hook ${source}/${h.config.name}: ${(e as Error).message}`,
        );
      }
    }
  }

  /** Waits until every hook has sent (or given up on) what is queued. */
  async idle(): Promise<void> {
    await Promise.all([...this.bySource.values()].flat().map((h) => h.sink.idle()));
  }

  /** Stops: waiting messages are dropped (logged); calls in flight finish on their own. */
  stop(): void {
    for (const hooks of this.bySource.values()) for (const h of hooks) h.sink.close();
    this.bySource.clear();
  }
}
