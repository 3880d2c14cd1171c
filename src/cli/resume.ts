import { controlRequest } from '../daemon/index.js';
import { syncwardCommand } from '../util/shell.js';
import { type DaemonAt, stateDirOf } from './daemon-at.js';
import { EXIT } from './exit.js';

/**
 * `syncward resume TARGET`: asks the running daemon to lift a safety hold.
 * Exit 0 resumed, 1 not on hold or no such target, 2 no daemon running.
 */
export async function runResume(
  at: DaemonAt,
  target: string,
  o: { json?: boolean },
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  // with --state-dir the daemon itself says which targets it has (its 409 lists those on hold)
  if ('config' in at) {
    const { config } = at;
    const known = config.sources.flatMap((s) => s.targets.flatMap((t) => [t.name, `${s.name}/${t.name}`]));
    if (!known.includes(target)) {
      err.write(
        `syncward resume: no target "${target}" in ${config.file ?? 'the config'}; targets: ${known.filter((k) => k.includes('/')).join(', ')}\n`,
      );
      return EXIT.failure;
    }
  }
  const stateDir = stateDirOf(at);
  let res: { status: number; body: unknown };
  try {
    res = await controlRequest(stateDir, 'POST', `/targets/${encodeURIComponent(target)}/resume`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const start = 'config' in at ? syncwardCommand('start', { configFile: at.config.file }) : undefined;
    err.write(
      `syncward resume: no syncward daemon is running on state_dir ${stateDir} (${code ?? (e as Error).message})${start ? `; start it with: \`${start}\`` : ''}\n`,
    );
    return EXIT.usage;
  }
  const body = res.body as { resumed?: number; error?: string; held?: string[] };
  if (o.json) out.write(`${JSON.stringify({ target, ...body })}\n`);
  if (res.status === 200) {
    if (!o.json) err.write(`resumed ${target}: its held transfer goes ahead now\n`);
    return EXIT.ok;
  }
  if (!o.json)
    err.write(
      `syncward resume: ${body.error ?? `daemon answered ${res.status}`}${body.held?.length ? `; on hold now: ${body.held.join(', ')}` : '; no target is on hold'}\n`,
    );
  return EXIT.failure;
}
