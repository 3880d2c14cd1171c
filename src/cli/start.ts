import { type Config, ConfigError, checkEnvironment, formatProblem, loadConfig } from '../config/index.js';
import { Daemon } from '../daemon/index.js';
import { StateLockedError } from '../journal/index.js';
import { createLogger } from '../util/log.js';
import { syncwardCommand } from '../util/shell.js';
import { EXIT } from './exit.js';

/** `syncward start`: the daemon in the foreground until SIGTERM/SIGINT; SIGHUP reloads the config file. */
export async function runStart(config: Config): Promise<number> {
  const log = createLogger(config.log);
  // Problems outside the file (a missing source, a loose password file) are
  // reported, and the daemon runs for everything else.
  for (const p of checkEnvironment(config)) log.warn({ problem: p }, formatProblem(p));
  const daemon = new Daemon(config, log);
  let stopping: Promise<void> | null = null;
  let reloading: Promise<unknown> = Promise.resolve();
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        log.warn(`${sig} again: exiting now`);
        process.exit(EXIT.failure);
      }
      log.info({ signal: sig }, `${sig}: stopping (finishing transfers in flight, at most 10 s)`);
      stopping = reloading
        .then(() => daemon.stop(10_000))
        .then(() => {
          log.info('stopped');
          resolve(EXIT.ok);
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  process.on('SIGHUP', () => {
    if (!config.file) {
      log.warn('SIGHUP: started without a config file, nothing to reload');
      return;
    }
    const file = config.file;
    reloading = reloading.then(async () => {
      if (stopping) return;
      let next: Config;
      try {
        next = loadConfig(file);
      } catch (e) {
        // a broken edit must not take the running mirrors down
        log.error(
          { file },
          `SIGHUP: ${file} is not valid, keeping the running config: ${e instanceof ConfigError ? e.message : (e as Error).message}`,
        );
        return;
      }
      try {
        for (const p of checkEnvironment(next)) log.warn({ problem: p }, formatProblem(p));
        await daemon.reload(next);
      } catch (e) {
        // whatever went wrong while applying it, the daemon keeps running (and later SIGHUPs still work)
        log.error(
          { file, err: e },
          `SIGHUP: applying ${file} failed, keeping the running config: ${(e as Error).message}; fix the file and send SIGHUP again`,
        );
      }
    });
  });
  log.info(
    {
      sources: config.sources.map((s) => ({
        name: s.name,
        path: s.path,
        targets: s.targets.map((t) => t.url),
      })),
    },
    `syncward starting: ${config.sources.length} source(s), state in ${config.stateDir}; its state: \`${syncwardCommand('status', { configFile: config.file, stateDir: config.stateDir })}\``,
  );
  try {
    await daemon.start();
  } catch (e) {
    if (e instanceof StateLockedError) {
      log.error(
        { stateDir: e.stateDir, pid: e.pid },
        `cannot start: state_dir ${e.stateDir} is in use: ${e.message}`,
      );
      return EXIT.usage;
    }
    log.error((e as Error).message);
    await daemon.stop(0);
    return EXIT.failure;
  }
  return stopped;
}
