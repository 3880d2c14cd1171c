import { type Config, checkEnvironment, formatProblem } from '../config/index.js';
import { Daemon } from '../daemon/index.js';
import { createLogger } from '../util/log.js';
import { EXIT } from './exit.js';

/** `syncward start`: the daemon in the foreground until SIGTERM/SIGINT. */
export async function runStart(config: Config): Promise<number> {
  const log = createLogger(config.log);
  // Problems outside the file (a missing source, a loose password file) are
  // reported, and the daemon runs for everything else.
  for (const p of checkEnvironment(config)) log.warn({ problem: p }, formatProblem(p));
  const daemon = new Daemon(config, log);
  let stopping: Promise<void> | null = null;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        log.warn(`${sig} again: exiting now`);
        process.exit(EXIT.failure);
      }
      log.info({ signal: sig }, `${sig}: stopping (finishing transfers in flight, at most 10 s)`);
      stopping = daemon.stop(10_000).then(() => {
        log.info('stopped');
        resolve(EXIT.ok);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  log.info(
    {
      sources: config.sources.map((s) => ({
        name: s.name,
        path: s.path,
        targets: s.targets.map((t) => t.url),
      })),
    },
    `syncward starting: ${config.sources.length} source(s), state in ${config.stateDir}`,
  );
  try {
    await daemon.start();
  } catch (e) {
    log.error((e as Error).message);
    await daemon.stop(0);
    return EXIT.failure;
  }
  return stopped;
}
