import { chmodSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import type { Lifted } from '../source/index.js';
import type { Logger } from '../util/log.js';

export const CONTROL_SOCKET = 'control.sock';

/** What the control socket needs from the daemon. */
export interface Controllable {
  status(): unknown;
  /** the alert incidents open now */
  incidents(): unknown[];
  lift(name?: string): Lifted[];
  pause(name?: string): { paused: string[]; already: string[] } | null;
  heldTargets(): string[];
  pausedTargets(): string[];
}

/**
 * A small HTTP server on a unix socket in state_dir, for the CLI on the same
 * host (`syncward pause`, `syncward resume`, without a target name on every target; `syncward status --state-dir`). Only whoever can open state_dir can reach it:
 * the socket is mode 600. The network API is separate (api.listen).
 */
export async function startControlServer(
  stateDir: string,
  daemon: Controllable,
  log: Logger,
): Promise<Server> {
  const path = join(stateDir, CONTROL_SOCKET);
  // the state-dir lock is held: a socket file left here is from a dead daemon
  rmSync(path, { force: true });
  const server = createServer((req, res) => {
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const url = new URL(req.url ?? '/', 'http://control');
    const verb = /^(?:\/targets\/([^/]+(?:\/[^/]+)?))?\/(resume|pause)$/.exec(url.pathname);
    // what `syncward status --state-dir` reads: the parts of /api/status its verdict needs
    if (req.method === 'GET' && url.pathname === '/status')
      return reply(200, {
        pid: process.pid,
        now: Date.now(),
        sources: daemon.status(),
        alerts: daemon.incidents(),
      });
    if (req.method === 'POST' && verb) {
      const name = verb[1] === undefined ? undefined : decodeURIComponent(verb[1]);
      const which = name ?? 'every target';
      if (verb[2] === 'pause') {
        const r = daemon.pause(name);
        if (r === null)
          return reply(404, { error: name ? `no target ${name}` : 'the daemon has no targets' });
        log.info({ target: name, ...r }, `control: pause ${which}: ${r.paused.length} target(s) paused`);
        return reply(200, r);
      }
      const lifted = daemon.lift(name);
      log.info({ target: name, lifted }, `control: resume ${which}: ${lifted.length} target(s) resumed`);
      if (lifted.length > 0) return reply(200, { resumed: lifted.length, targets: lifted });
      return reply(409, {
        resumed: 0,
        error: `${name ?? 'no target'} is ${name ? 'not on hold or paused' : 'paused'}`,
        held: daemon.heldTargets(),
        paused: daemon.pausedTargets(),
      });
    }
    reply(404, { error: `no such control endpoint: ${req.method} ${url.pathname}` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // bind(2) creates the socket 777 minus the umask, and listen() binds before it
    // returns: a umask of 177 around it makes the socket 600 from its first instant
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  chmodSync(path, 0o600);
  return server;
}

/** One request to a running daemon's control socket. Rejects with code ENOENT/ECONNREFUSED when none runs. */
export function controlRequest(
  stateDir: string,
  method: 'GET' | 'POST',
  path: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: join(stateDir, CONTROL_SOCKET), method, path, timeout: 10_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: text });
          }
        });
      },
    );
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error('the daemon did not answer in 10 s'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end();
  });
}
