import { createRequire } from 'node:module';
import { type Logger, pino } from 'pino';
import type pinoPretty from 'pino-pretty';

// pino-pretty is loaded only when a log is pretty (a terminal): a daemon
// logging JSON lines under systemd does not carry it in memory
const require = createRequire(import.meta.url);

export type { Logger };

export interface LogOptions {
  level?: 'debug' | 'info' | 'warn' | 'error';
  /** auto: readable on a terminal, JSON lines otherwise (journald, files, pipes) */
  format?: 'auto' | 'json' | 'pretty';
}

/** The daemon's logger: structured, to stderr (systemd style). */
export function createLogger(o: LogOptions = {}): Logger {
  const usePretty = o.format === 'pretty' || (o.format !== 'json' && process.stderr.isTTY === true);
  const level = o.level ?? 'info';
  if (usePretty) {
    const pretty = require('pino-pretty') as typeof pinoPretty;
    return pino(
      { level, base: undefined },
      pretty({
        destination: 2,
        sync: true,
        colorize: true,
        translateTime: 'HH:MM:ss.l',
        ignore: 'pid,hostname',
      }),
    );
  }
  return pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that drops everything, for tests and quiet commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
