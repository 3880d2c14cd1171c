import { controlRequest } from '../daemon/index.js';
import type { Lifted } from '../source/index.js';
import { syncwardCommand } from '../util/shell.js';
import { type DaemonAt, refOf, stateDirOf } from './daemon-at.js';
import { EXIT } from './exit.js';

/**
 * `syncward resume [TARGET]`: asks the running daemon to lift an operator's
 * pause and a safety hold; without TARGET, every pause (a safety hold is
 * lifted only by naming its target).
 * Exit 0 resumed, 1 not on hold or paused or no such target, 2 no daemon running.
 */
export async function runResume(
  at: DaemonAt,
  target: string | undefined,
  o: { json?: boolean },
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const res = await askDaemon(at, 'resume', target, err);
  if (typeof res === 'number') return res;
  const body = res.body as {
    resumed?: number;
    targets?: Lifted[];
    error?: string;
    held?: string[];
    paused?: string[];
  };
  if (o.json) out.write(`${JSON.stringify({ target, ...body })}\n`);
  if (res.status === 200) {
    if (!o.json)
      for (const t of body.targets ?? [])
        err.write(
          `resumed ${t.target}: ${[t.paused ? 'no longer paused, what was journaled meanwhile goes now' : '', t.hold ? `hold lifted (${t.hold}), its held transfer goes ahead` : ''].filter(Boolean).join('; ')}\n`,
        );
    return EXIT.ok;
  }
  if (!o.json) {
    const now = [
      body.paused?.length ? `paused now: ${body.paused.join(', ')}` : '',
      body.held?.length ? `on hold now: ${body.held.join(', ')} (name the target to lift a hold)` : '',
    ].filter(Boolean);
    err.write(
      `syncward resume: ${body.error ?? `daemon answered ${res.status}`}; ${now.length ? now.join('; ') : 'no target is paused or on hold'}\n`,
    );
  }
  return EXIT.failure;
}

/**
 * `syncward pause [TARGET]`: the running daemon stops sending to the target
 * (every target without TARGET) until `syncward resume`; changes keep
 * journaling, and the pause outlives a restart.
 * Exit 0 paused (or paused already), 1 no such target, 2 no daemon running.
 */
export async function runPause(
  at: DaemonAt,
  target: string | undefined,
  o: { json?: boolean },
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const res = await askDaemon(at, 'pause', target, err);
  if (typeof res === 'number') return res;
  const body = res.body as { paused?: string[]; already?: string[]; error?: string };
  if (o.json) out.write(`${JSON.stringify({ target, ...body })}\n`);
  if (res.status !== 200) {
    if (!o.json) err.write(`syncward pause: ${body.error ?? `daemon answered ${res.status}`}\n`);
    return EXIT.failure;
  }
  if (!o.json) {
    for (const t of body.paused ?? [])
      err.write(
        `paused ${t}: nothing more is sent to it (a transfer in flight finishes first); changes keep journaling until: \`${syncwardCommand('resume', refOf(at), t)}\`\n`,
      );
    for (const t of body.already ?? []) err.write(`${t} was already paused\n`);
  }
  return EXIT.ok;
}

/**
 * One pause or resume request to the daemon on config's state_dir, for
 * `target` or every target. The answer, or the exit code when the target is
 * unknown or no daemon answers (the error is written to `err`).
 */
async function askDaemon(
  at: DaemonAt,
  verb: 'pause' | 'resume',
  target: string | undefined,
  err: NodeJS.WritableStream,
): Promise<{ status: number; body: unknown } | number> {
  // with --state-dir the daemon itself says which targets it has
  if ('config' in at && target !== undefined) {
    const { config } = at;
    const known = config.sources.flatMap((s) => s.targets.flatMap((t) => [t.name, `${s.name}/${t.name}`]));
    if (!known.includes(target)) {
      err.write(
        `syncward ${verb}: no target "${target}" in ${config.file ?? 'the config'}; targets: ${known.filter((k) => k.includes('/')).join(', ')}\n`,
      );
      return EXIT.failure;
    }
  }
  const stateDir = stateDirOf(at);
  const path = target === undefined ? `/${verb}` : `/targets/${encodeURIComponent(target)}/${verb}`;
  try {
    return await controlRequest(stateDir, 'POST', path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const start = 'config' in at ? syncwardCommand('start', { configFile: at.config.file }) : undefined;
    err.write(
      `syncward ${verb}: no syncward daemon is running on state_dir ${stateDir} (${code ?? (e as Error).message})${start ? `; start it with: \`${start}\`` : ''}\n`,
    );
    return EXIT.usage;
  }
}
