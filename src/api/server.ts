import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Alert, Incident } from '../alerts/index.js';
import { API_DEFAULTS, parseListen } from '../config/index.js';
import type { TargetState, TransferReport } from '../dispatch/index.js';
import type { BatchEvent, SourceStatus } from '../status/index.js';
import { transferred } from '../transport/index.js';
import type { Logger } from '../util/log.js';
import { VERSION } from '../util/version.js';
import { EventStream } from './events.js';
import { Metrics } from './metrics.js';
import { type HostPolicy, INTENT_HEADER, type RequestFacts, refusal } from './request-check.js';
import { serveStatic, UI_DIR } from './static.js';
import { presentedToken, readApiToken, tokenMatches } from './token.js';

/** The file a daemon listening on port 0 writes its address to, in state_dir. */
export const API_FILE = 'api.json';

/** Errors kept for /api/status. */
const RECENT_ERRORS = 50;
/** Finished audit jobs kept for GET /api/audits/:id. */
const AUDIT_JOBS = 50;
/** Largest request body accepted. */
const MAX_BODY = 64 * 1024;
/** A request's body may take this long after its headers (bodies are at most MAX_BODY). */
const BODY_TIMEOUT_MS = 30_000;
/** An idle keep-alive connection is closed after this long (Node's default, stated so it stays so). */
const KEEP_ALIVE_MS = 5_000;
/** Refused connections and requests are logged at most this often (a flood must not flood the log). */
const REFUSAL_LOG_MS = 60_000;

/** Runs a log call at most once per REFUSAL_LOG_MS, telling it how many events it stands for. */
class Throttle {
  private count = 0;
  private last = Number.NEGATIVE_INFINITY;

  run(log: (count: number) => void): void {
    this.count++;
    if (Date.now() - this.last < REFUSAL_LOG_MS) return;
    this.last = Date.now();
    log(this.count);
    this.count = 0;
  }
}

/** What the API needs from the daemon (the Daemon class, structurally). */
export interface ApiDaemon extends EventEmitter {
  status(): SourceStatus[];
  fullSync(sourceName: string, reason?: string): boolean;
  resume(name: string): number;
  heldTargets(): string[];
  /** resolves with the result (the API keeps it for GET /api/audits/:id) */
  audit(sourceName: string, opts?: { checksum?: boolean }): Promise<unknown>;
  /** the incidents open now */
  incidents(): Incident[];
}

export interface ApiOptions {
  listen: string;
  tokenFile?: string;
  stateDir: string;
  log: Logger;
  /** the dashboard build served at / (default: dist/ui of the package) */
  uiDir?: string;
  /** SSE heartbeat period (default 15 s) */
  heartbeatMs?: number;
  /** api.allowed_hosts: Host names answered besides loopback and the listen address */
  allowedHosts?: readonly string[];
  /** open connections at most; more are closed at once (default 256) */
  maxConnections?: number;
  /** /api/events clients at most; more get 503 (default 64) */
  maxSseClients?: number;
  /** a request's headers must arrive within this many seconds (default 10) */
  headerTimeoutS?: number;
}

/** One entry of /api/status recentErrors: a failed transfer or an alert. */
export interface RecentError {
  at: number;
  kind: string;
  source: string;
  target?: string;
  message: string;
}

/** GET /api/status */
export interface ApiStatus {
  version: string;
  pid: number;
  startedAt: number;
  now: number;
  sources: SourceStatus[];
  /** the alert incidents open now */
  alerts: Incident[];
  recentErrors: RecentError[];
}

interface AuditJob {
  id: string;
  source: string;
  checksum: boolean;
  state: 'running' | 'done' | 'failed';
  startedAt: number;
  finishedAt: number | null;
  result?: unknown;
  error?: string;
}

export interface ApiServer {
  /** http://host:port, a connectable address (0.0.0.0 shown as 127.0.0.1) */
  url: string;
  server: Server;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A URL for a listen address that local clients can connect to. Pure. */
export function apiUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/**
 * Starts the HTTP API on `listen`. Never throws: a port in use, a bad token
 * file or any other failure is logged and the daemon runs on without its API
 * (null is returned).
 */
export async function startApi(daemon: ApiDaemon, o: ApiOptions): Promise<ApiServer | null> {
  const { log } = o;
  let addr: ReturnType<typeof parseListen>;
  try {
    addr = parseListen(o.listen);
  } catch (e) {
    log.error({ listen: o.listen }, `API not started: api.listen ${(e as Error).message}`);
    return null;
  }
  if (addr === null) return null;
  let token: string | null = null;
  if (o.tokenFile) {
    try {
      token = readApiToken(o.tokenFile);
    } catch (e) {
      log.error(
        { tokenFile: o.tokenFile },
        `API not started (the daemon runs on without it): ${(e as Error).message}`,
      );
      return null;
    }
  }
  const api = new Api(daemon, o, token);
  const headersTimeout = (o.headerTimeoutS ?? API_DEFAULTS.header_timeout_s) * 1000;
  // Every connection holds a file descriptor the daemon's rsyncs need too: a
  // client that opens many and never finishes a request must not starve them.
  // Node checks the timeouts every connectionsCheckingInterval, connections
  // or not: half the header timeout enforces it within 1.5x and wakes an idle
  // daemon every 5 s by default, not every second.
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: headersTimeout + BODY_TIMEOUT_MS,
      connectionsCheckingInterval: Math.max(250, headersTimeout / 2),
      keepAliveTimeout: KEEP_ALIVE_MS,
    },
    (req, res) => api.handle(req, res),
  );
  const maxConnections = o.maxConnections ?? API_DEFAULTS.max_connections;
  server.maxConnections = maxConnections;
  const drops = new Throttle();
  server.on('drop', () =>
    drops.run((n) =>
      log.warn(
        { dropped: n, maxConnections },
        `API: ${maxConnections} connections are open (api.max_connections); ${n} more closed at once since the last report. If these are real clients, raise api.max_connections; if not, someone is holding connections open`,
      ),
    ),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: addr.host, port: addr.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    api.close();
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'the port is in use (another syncward, or another program; `ss -ltnp` shows which)'
        : code === 'EADDRNOTAVAIL'
          ? 'no interface of this host has that address'
          : code === 'EACCES'
            ? 'this user may not bind that port'
            : (e as Error).message;
    log.error(
      { listen: o.listen, code },
      `API not started: cannot listen on ${o.listen}: ${why}; the daemon runs on without its API, /metrics and dashboard: set api.listen to a free address (or "off") and restart`,
    );
    return null;
  }
  server.on('error', (e) => log.error({ err: e.message }, `API: ${e.message}`));
  const port = (server.address() as AddressInfo).port;
  api.policy = { port, listenHost: addr.host, allowedHosts: o.allowedHosts ?? [] };
  const url = apiUrl(addr.host, port);
  const apiFile = join(o.stateDir, API_FILE);
  if (addr.port === 0) {
    try {
      writePrivateFile(apiFile, `${JSON.stringify({ url, pid: process.pid })}\n`);
    } catch (e) {
      log.warn(
        { file: apiFile },
        `API: cannot write ${apiFile} (${(e as Error).message}); \`syncward status\` will not find this daemon's port`,
      );
    }
  }
  log.info(
    { url, token: token !== null },
    `API listening on ${url} (status ${url}/api/status, events ${url}/api/events, metrics ${url}/metrics)${token ? '; a token is required' : ''}`,
  );
  return {
    url,
    server,
    async close() {
      api.close();
      if (addr.port === 0) rmSync(apiFile, { force: true });
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

class Api {
  private readonly stream: EventStream;
  private readonly metrics: Metrics;
  private readonly recentErrors: RecentError[] = [];
  private readonly audits = new Map<string, AuditJob>();
  private readonly startedAt = Date.now();
  private readonly listeners: [string, (...args: never[]) => void][] = [];
  /** set once the server listens (the port is known only then) */
  policy: HostPolicy | null = null;
  private readonly refusals = new Throttle();

  constructor(
    private readonly daemon: ApiDaemon,
    private readonly o: ApiOptions,
    private readonly token: string | null,
  ) {
    this.stream = new EventStream({
      heartbeatMs: o.heartbeatMs,
      maxClients: o.maxSseClients ?? API_DEFAULTS.max_sse_clients,
    });
    this.metrics = new Metrics(() => daemon.status());
    this.on('batch', (b: BatchEvent) => {
      this.metrics.onBatch(b);
      this.stream.publish('batch', b);
    });
    this.on('transfer', (r: TransferReport) => {
      this.metrics.onTransfer(r);
      this.stream.publish('transfer', { ...r, at: Date.now() });
      if (!transferred(r.result))
        this.remember({
          at: Date.now(),
          kind: `transfer ${r.result}`,
          source: r.source,
          target: r.target,
          message: r.message ?? `rsync exit ${r.code}`,
        });
    });
    this.on('state', (source: string, target: string, state: TargetState, reason: string) =>
      this.stream.publish('state', { source, target, state, reason, at: Date.now() }),
    );
    this.on('alert', (a: Alert) => {
      this.stream.publish('alert', a);
      this.remember({ at: a.at, kind: a.kind, source: a.source, target: a.target, message: a.message });
    });
    this.on('overflow', (source: string) => this.metrics.onOverflow(source));
    this.on('incident', (i: Incident) => this.stream.publish('incident', i));
    this.on('audit', (...args: unknown[]) => this.stream.publish('audit', payload(args)));
    this.on('canary', (...args: unknown[]) => this.stream.publish('canary', payload(args)));
  }

  private on(event: string, fn: (...args: never[]) => void): void {
    this.daemon.on(event, fn as (...args: unknown[]) => void);
    this.listeners.push([event, fn]);
  }

  private remember(e: RecentError): void {
    this.recentErrors.push(e);
    if (this.recentErrors.length > RECENT_ERRORS) this.recentErrors.shift();
  }

  close(): void {
    for (const [event, fn] of this.listeners) this.daemon.off(event, fn as (...args: unknown[]) => void);
    this.stream.close();
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.route(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) return json(res, e.status, { error: e.message, ...e.extra });
      this.o.log.error(
        { method: req.method, url: req.url, err: (e as Error).message },
        `API: ${req.method} ${req.url} failed: ${(e as Error).message}`,
      );
      if (!res.headersSent) json(res, 500, { error: `internal error: ${(e as Error).message}` });
      else res.destroy();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://api');
    if (this.policy === null) throw new HttpError(503, 'the API is starting: try again');
    const refused = refusal(requestFacts(req), this.policy);
    if (refused) {
      this.refusals.run((n) =>
        this.o.log.warn(
          {
            method: req.method,
            url: url.pathname,
            host: req.headers.host,
            origin: req.headers.origin,
            refused: n,
          },
          `API: refused ${req.method} ${url.pathname}${n > 1 ? ` and ${n - 1} more since the last report` : ''}: ${refused.reason}`,
        ),
      );
      throw new HttpError(403, refused.reason, { refused: refused.check });
    }
    if (this.token !== null && !tokenMatches(presentedToken(req.headers.authorization, url), this.token)) {
      res.setHeader('www-authenticate', 'Bearer realm="syncward"');
      throw new HttpError(
        401,
        'missing or wrong API token: send "Authorization: Bearer <token>" (or ?token=) with the token from api.token_file',
      );
    }
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const only = (allowed: 'GET' | 'POST') => {
      if (method === allowed || (allowed === 'GET' && method === 'HEAD')) return;
      res.setHeader('allow', allowed === 'GET' ? 'GET, HEAD' : 'POST');
      throw new HttpError(405, `${method} ${path} is not allowed: use ${allowed}`);
    };

    if (path === '/api/status') {
      only('GET');
      return json(res, 200, this.statusBody());
    }
    if (path === '/api/events') {
      only('GET');
      const last = req.headers['last-event-id'] ?? url.searchParams.get('lastEventId');
      const lastId = typeof last === 'string' && /^\d+$/.test(last) ? Number(last) : null;
      if (this.stream.attach(res, lastId)) return;
      res.setHeader('retry-after', '30');
      throw new HttpError(
        503,
        `${this.stream.size} event streams are open, the most api.max_sse_clients allows: close a dashboard tab or raise api.max_sse_clients`,
      );
    }
    if (path === '/metrics') {
      only('GET');
      const text = await this.metrics.render();
      res.writeHead(200, { 'content-type': this.metrics.contentType });
      res.end(text);
      return;
    }
    let m = /^\/api\/sources\/([^/]+)\/(sync|audit)$/.exec(path);
    if (m) {
      only('POST');
      const source = this.source(decode(m[1] as string));
      const body = await readJson(req);
      return m[2] === 'sync' ? this.sync(res, source) : this.audit(res, source, body, url);
    }
    m = /^\/api\/targets\/(.+)\/resume$/.exec(path);
    if (m) {
      only('POST');
      await readJson(req);
      return this.resume(res, decode(m[1] as string));
    }
    m = /^\/api\/audits\/([^/]+)$/.exec(path);
    if (m) {
      only('GET');
      const job = this.audits.get(decode(m[1] as string));
      if (!job)
        throw new HttpError(404, `no audit ${m[1]} (finished audits are kept for the last ${AUDIT_JOBS})`);
      return json(res, 200, job);
    }
    if (path.startsWith('/api/')) throw new HttpError(404, `no such endpoint: ${method} ${path}`);
    only('GET');
    const ui = this.o.uiDir ?? UI_DIR;
    if (serveStatic(ui, path, req, res)) return;
    if (path !== '/') throw new HttpError(404, `no such endpoint: ${method} ${path}`);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(
      `syncward ${VERSION}: the dashboard is not built (no ${ui}).\n\nGET  /api/status   JSON status of every source and target\nGET  /api/events   Server-Sent Events: batch, transfer, state, alert, incident, audit, canary\nGET  /metrics      Prometheus metrics\nPOST /api/sources/NAME/sync    full sync now\nPOST /api/sources/NAME/audit   audit now (202, then GET /api/audits/ID)\nPOST /api/targets/NAME/resume  lift a safety hold\n\nEvery POST needs the header "X-Syncward: 1" (a page on another site cannot send it).\n`,
    );
  }

  private statusBody(): ApiStatus {
    return {
      version: VERSION,
      pid: process.pid,
      startedAt: this.startedAt,
      now: Date.now(),
      sources: this.daemon.status(),
      alerts: this.daemon.incidents(),
      recentErrors: [...this.recentErrors].reverse(),
    };
  }

  private source(name: string): SourceStatus {
    const all = this.daemon.status();
    const s = all.find((x) => x.name === name);
    if (!s)
      throw new HttpError(
        404,
        `no source "${name}"; sources: ${all.map((x) => x.name).join(', ') || '(none)'}`,
      );
    return s;
  }

  private sync(res: ServerResponse, s: SourceStatus): void {
    if (!this.daemon.fullSync(s.name, 'requested through the API'))
      throw new HttpError(
        409,
        `source ${s.name} is ${s.state}, not watching: a full sync now could empty its targets; restore ${s.path} first`,
        { state: s.state },
      );
    this.o.log.info({ source: s.name }, `API: full sync of ${s.name} requested`);
    json(res, 202, { source: s.name, queued: true, targets: s.targets.map((t) => t.target) });
  }

  /**
   * Audits run in the background: the answer is 202 with an id at once; the
   * result comes as an 'audit' event, in /api/status (lastAudit) and at
   * GET /api/audits/:id.
   */
  private audit(res: ServerResponse, s: SourceStatus, body: unknown, url: URL): void {
    let checksum = false;
    const q = url.searchParams.get('checksum');
    if (q !== null) {
      if (!/^(true|false|1|0)$/.test(q))
        throw new HttpError(400, `checksum must be true or false, not "${q}"`);
      checksum = q === 'true' || q === '1';
    }
    if (body !== undefined) {
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new HttpError(400, 'the body must be a JSON object, e.g. {"checksum": true}');
      for (const [k, v] of Object.entries(body)) {
        if (k !== 'checksum') throw new HttpError(400, `unknown field "${k}"; the only one is "checksum"`);
        if (typeof v !== 'boolean') throw new HttpError(400, 'checksum must be true or false');
        checksum = v;
      }
    }
    const daemon = this.daemon;
    for (const j of this.audits.values())
      if (j.source === s.name && j.state === 'running')
        throw new HttpError(409, `an audit of ${s.name} is already running`, { id: j.id });
    const job: AuditJob = {
      id: randomUUID(),
      source: s.name,
      checksum,
      state: 'running',
      startedAt: Date.now(),
      finishedAt: null,
    };
    this.audits.set(job.id, job);
    while (this.audits.size > AUDIT_JOBS) {
      const oldest = [...this.audits.values()].find((j) => j.state !== 'running');
      if (!oldest) break;
      this.audits.delete(oldest.id);
    }
    this.o.log.info({ source: s.name, checksum, id: job.id }, `API: audit of ${s.name} requested`);
    daemon.audit(s.name, { checksum }).then(
      (result) => {
        job.state = 'done';
        job.result = result;
        job.finishedAt = Date.now();
      },
      (e: unknown) => {
        job.state = 'failed';
        job.error = (e as Error).message;
        job.finishedAt = Date.now();
        this.o.log.error({ source: s.name, id: job.id }, `API: audit of ${s.name} failed: ${job.error}`);
      },
    );
    json(res, 202, { id: job.id, source: s.name, checksum, status: `/api/audits/${job.id}` });
  }

  private resume(res: ServerResponse, name: string): void {
    const known = this.daemon
      .status()
      .flatMap((s) => s.targets.flatMap((t) => [t.target, `${s.name}/${t.target}`]));
    if (!known.includes(name))
      throw new HttpError(
        404,
        `no target "${name}"; targets: ${known.filter((k) => k.includes('/')).join(', ') || '(none)'}`,
      );
    const n = this.daemon.resume(name);
    this.o.log.info({ target: name, resumed: n }, `API: resume ${name}: ${n} target(s) resumed`);
    if (n > 0) return json(res, 200, { resumed: n });
    throw new HttpError(409, `${name} is not on hold or paused`, {
      resumed: 0,
      held: this.daemon.heldTargets(),
    });
  }
}

/** The headers and socket facts the browser checks read. */
function requestFacts(req: IncomingMessage): RequestFacts {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(',') : v);
  return {
    method: req.method ?? 'GET',
    host: req.headers.host,
    origin: req.headers.origin,
    intent: one(req.headers[INTENT_HEADER]),
    contentType: req.headers['content-type'],
    localAddress: req.socket.localAddress,
  };
}

/** An event's arguments as one JSON value: the object itself, or (source, target, object) merged. */
function payload(args: unknown[]): unknown {
  if (args.length === 1) return args[0];
  const out: Record<string, unknown> = {};
  const names = ['source', 'target'];
  for (const a of args) {
    if (typeof a === 'string' && names.length > 0) out[names.shift() as string] = a;
    else if (a && typeof a === 'object') Object.assign(out, a);
  }
  return out;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, `"${s}" is not a valid URL-encoded name`);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body)}\n`);
}

/** The request body as JSON; undefined when empty. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new HttpError(413, `the body is larger than ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HttpError(400, `the body is not JSON: ${(e as Error).message}`);
  }
}

/**
 * Writes a mode-600 file by creating a new one (O_EXCL: never through a
 * planted symlink or into a file someone else opened) and renaming it over
 * the old name, which replaces a symlink rather than following it.
 */
function writePrivateFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  try {
    writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
