import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { EventStream } from '../../src/api/events.js';
import { startApi } from '../../src/api/index.js';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { Daemon } from '../../src/daemon/index.js';
import { silentLogger } from '../../src/util/log.js';
import { apiUrlOf, openEvents, rawRequest } from '../helpers/api.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** What every state-changing request sends (a foreign page cannot without a preflight). */
const INTENT = { 'x-syncward': '1' };

/** A daemon mirroring a temp tree to a local directory (real rsync), its API on a free port. */
async function localDaemon(o: { api?: { listen: string; tokenFile?: string }; extra?: string } = {}) {
  const src = await makeTempDir('syncward-api-src-');
  const dst = await makeTempDir('syncward-api-dst-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [{ name: 'local', url: dst, dir: dst }];
  const d = await startDaemon(
    configYaml({ stateDir: state.dir, source: src, targets, api: o.api, extra: o.extra }),
  );
  await waitFor(() => d.daemon.status()[0]?.targets[0]?.state === 'idle', 20_000, 'the initial sync');
  return {
    ...d,
    src,
    dst,
    state,
    targets,
    async dispose() {
      await d.dispose();
      for (const dir of [src, dst]) rmSync(dir, { recursive: true, force: true });
      state.dispose();
    },
  };
}

describe('HTTP API', () => {
  let d: Awaited<ReturnType<typeof localDaemon>>;
  let url: string;

  before(async () => {
    d = await localDaemon();
    url = apiUrlOf(d.state.dir);
  });
  after(async () => {
    await d?.dispose();
    assert.equal(existsSync(join(d.state.dir, 'api.json')), false, 'api.json is removed on stop');
  });

  test('the SSE stream delivers a write as a batch, then its transfer, then the target going idle, in order', async () => {
    const sse = await openEvents(`${url}/api/events`);
    try {
      writeFileSync(join(d.src, 'hello.txt'), 'hello\n');
      const batch = await sse.next(
        (e) => e.event === 'batch' && JSON.stringify(e.data.sample).includes('hello.txt'),
        0,
        20_000,
        'the batch event',
      );
      const transfer = await sse.next(
        (e) => e.event === 'transfer' && e.data.kind === 'batch' && e.data.result === 'ok',
        batch + 1,
        20_000,
        'the transfer event after the batch',
      );
      const state = await sse.next(
        (e) => e.event === 'state' && e.data.target === 'local' && e.data.state === 'idle',
        transfer + 1,
        20_000,
        'the state event after the transfer',
      );
      const ids = sse.events.map((e) => e.id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
        'ids increase',
      );
      assert.equal(new Set(ids).size, ids.length, 'ids are unique');
      assert.equal(sse.events[batch]?.data.source, 'src');
      assert.equal(sse.events[transfer]?.data.target, 'local');
      assert.ok(state > transfer && transfer > batch);
      await converged(d.src, d.targets);
    } finally {
      sse.close();
    }
  });

  test('GET /api/status has version, pid, sources with their targets, alerts and recent errors', async () => {
    const res = await fetch(`${url}/api/status`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = (await res.json()) as Record<string, unknown> & {
      sources: { name: string; targets: { target: string; state: string }[] }[];
    };
    assert.equal(body.pid, process.pid);
    assert.match(String(body.version), /^\d+\.\d+\.\d+/);
    assert.equal(typeof body.startedAt, 'number');
    assert.deepEqual(
      body.sources.map((s) => [s.name, s.targets.map((t) => t.target)]),
      [['src', ['local']]],
    );
    assert.ok(Array.isArray(body.alerts));
    assert.ok(Array.isArray(body.recentErrors));
  });

  test('POST /api/sources/:name/sync queues a full sync; unknown names 404, other methods 405', async () => {
    const before = d.daemon.status()[0]?.targets[0]?.lastFullSyncAt ?? 0;
    let r = await fetch(`${url}/api/sources/src/sync`, { method: 'POST', headers: INTENT });
    assert.equal(r.status, 202);
    assert.deepEqual(await r.json(), { source: 'src', queued: true, targets: ['local'] });
    await waitFor(
      () => (d.daemon.status()[0]?.targets[0]?.lastFullSyncAt ?? 0) > before,
      20_000,
      'the requested full sync',
    );
    r = await fetch(`${url}/api/sources/nope/sync`, { method: 'POST', headers: INTENT });
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: string }).error, /no source "nope"; sources: src/);
    r = await fetch(`${url}/api/sources/src/sync`);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    assert.match(((await r.json()) as { error: string }).error, /use POST/);
    r = await fetch(`${url}/api/status`, { method: 'POST', headers: INTENT });
    assert.equal(r.status, 405);
    r = await fetch(`${url}/api/nothing-here`);
    assert.equal(r.status, 404);
  });

  test('POST /api/sources/:name/audit answers 202 with an id; the result is at /api/audits/:id; bad input is 400', async () => {
    let r = await fetch(`${url}/api/sources/src/audit`, {
      method: 'POST',
      headers: INTENT,
      body: '{"checksum": "yes"}',
    });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error: string }).error, /checksum must be true or false/);
    r = await fetch(`${url}/api/sources/src/audit`, { method: 'POST', headers: INTENT, body: '{not json' });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error: string }).error, /not JSON/);
    r = await fetch(`${url}/api/sources/src/audit`, {
      method: 'POST',
      headers: INTENT,
      body: '{"deep": true}',
    });
    assert.equal(r.status, 400);
    r = await fetch(`${url}/api/sources/src/audit?checksum=maybe`, { method: 'POST', headers: INTENT });
    assert.equal(r.status, 400);
    r = await fetch(`${url}/api/sources/nope/audit`, { method: 'POST', headers: INTENT });
    assert.equal(r.status, 404);

    writeFileSync(join(d.dst, 'planted.txt'), 'not from the source\n');
    const sse = await openEvents(`${url}/api/events`);
    try {
      r = await fetch(`${url}/api/sources/src/audit`, {
        method: 'POST',
        headers: INTENT,
        body: '{"checksum": true}',
      });
      assert.equal(r.status, 202);
      const job = (await r.json()) as { id: string; status: string; checksum: boolean };
      assert.equal(job.checksum, true);
      assert.equal(job.status, `/api/audits/${job.id}`);
      let state = '';
      let result: unknown;
      await waitFor(
        async () => {
          const j = (await (await fetch(`${url}${job.status}`)).json()) as { state: string; result: unknown };
          state = j.state;
          result = j.result;
          return state !== 'running';
        },
        30_000,
        'the audit to finish',
      );
      assert.equal(state, 'done');
      assert.match(JSON.stringify(result), /"kind":"extra","path":"planted.txt"/);
      const ev = await sse.next((e) => e.event === 'audit', 0, 10_000, 'the audit event');
      assert.deepEqual((sse.events[ev]?.data.summary as { drift: unknown }).drift, {
        missing: 0,
        extra: 1,
        content: 0,
        metadata: 0,
      });
      assert.equal((await fetch(`${url}/api/audits/no-such-id`)).status, 404);
    } finally {
      sse.close();
      rmSync(join(d.dst, 'planted.txt'));
    }
  });

  test('POST /api/targets/:name/resume: unknown target 404, a target not on hold 409', async () => {
    let r = await fetch(`${url}/api/targets/nope/resume`, { method: 'POST', headers: INTENT });
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: string }).error, /no target "nope"; targets: src\/local/);
    r = await fetch(`${url}/api/targets/src%2Flocal/resume`, { method: 'POST', headers: INTENT });
    assert.equal(r.status, 409);
    assert.deepEqual(await r.json(), { error: 'src/local is not on hold or paused', resumed: 0, held: [] });
    r = await fetch(`${url}/api/targets/local/resume`, { method: 'PUT', headers: INTENT });
    assert.equal(r.status, 405);
  });
});

describe('alerts through the API', () => {
  test('a target that goes down shows as an incident event on the stream and an open alert in /api/status', async () => {
    const src = await makeTempDir('syncward-api-src-');
    const state = tempStateDir();
    // nothing listens on this port: every transfer fails, the target is down
    const port = await freePort();
    const targets: TargetUnderTest[] = [
      { name: 'gone', url: `rsync://u@127.0.0.1:${port}/m`, dir: '/nonexistent' },
    ];
    const yaml = `alerts:\n  down_after_s: 0\n${configYaml({ stateDir: state.dir, source: src, targets })}`;
    const d = await startDaemon(yaml);
    const sse = await openEvents(`${apiUrlOf(state.dir)}/api/events`);
    try {
      const fired = await sse.next(
        (e) => e.event === 'incident' && e.data.kind === 'down' && e.data.resolvedAt === null,
        0,
        30_000,
        'the down incident',
      );
      assert.equal(sse.events[fired]?.data.target, 'gone');
      const body = (await (await fetch(`${apiUrlOf(state.dir)}/api/status`)).json()) as {
        alerts: { kind: string; target: string }[];
        recentErrors: { kind: string; target: string; message: string }[];
      };
      assert.ok(
        body.alerts.some((a) => a.kind === 'down' && a.target === 'gone'),
        JSON.stringify(body.alerts),
      );
      assert.ok(
        body.recentErrors.some((e) => e.target === 'gone' && /^transfer /.test(e.kind)),
        `the failed transfer is a recent error: ${JSON.stringify(body.recentErrors)}`,
      );
    } finally {
      sse.close();
      await d.dispose();
      rmSync(src, { recursive: true, force: true });
      state.dispose();
    }
  });
});

describe('API token', () => {
  test('listening off loopback without api.token_file is a config error', () => {
    const yaml = (api: string) =>
      `state_dir: /tmp/x\napi: ${api}\nsources:\n  - name: s\n    path: /srv/www\n    targets: [{ name: t, url: /backup/www }]\n`;
    assert.throws(
      () => parseConfig(yaml('{ listen: "0.0.0.0:8730" }')),
      (e: unknown) => e instanceof ConfigError && /api\.listen.*set api\.token_file/s.test(e.message),
    );
    assert.doesNotThrow(() =>
      parseConfig(yaml('{ listen: "0.0.0.0:8730", token_file: /etc/syncward/api.token }')),
    );
    assert.doesNotThrow(() => parseConfig(yaml('{ listen: "127.0.0.1:8730" }')));
  });

  test('with api.token_file every request needs the token: none or a wrong one is 401, the right one 200', async () => {
    const dir = await makeTempDir('syncward-api-token-');
    const tokenFile = join(dir, 'api.token');
    writeFileSync(tokenFile, 'correct-horse-battery\n', { mode: 0o600 });
    const d = await localDaemon({ api: { listen: '127.0.0.1:0', tokenFile } });
    try {
      const url = apiUrlOf(d.state.dir);
      for (const path of ['/api/status', '/metrics', '/api/events', '/']) {
        const none = await fetch(`${url}${path}`);
        assert.equal(none.status, 401, `${path} without a token`);
        assert.match(((await none.json()) as { error: string }).error, /missing or wrong API token/);
        const wrong = await fetch(`${url}${path}`, { headers: { authorization: 'Bearer correct-horse' } });
        assert.equal(wrong.status, 401, `${path} with a wrong token`);
        await wrong.body?.cancel();
      }
      const post = await fetch(`${url}/api/sources/src/sync`, { method: 'POST', headers: INTENT });
      assert.equal(post.status, 401, 'a mutation without a token');
      await post.body?.cancel();
      assert.equal(d.daemon.status()[0]?.targets[0]?.state, 'idle');
      const ok = await fetch(`${url}/api/status`, {
        headers: { authorization: 'Bearer correct-horse-battery' },
      });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      const q = await fetch(`${url}/metrics?token=correct-horse-battery`);
      assert.equal(q.status, 200, '?token= works too (EventSource cannot set headers)');
      await q.body?.cancel();
      const sse = await openEvents(`${url}/api/events?token=correct-horse-battery`);
      sse.close();
    } finally {
      await d.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a token file others can read keeps the API from starting; the daemon still syncs', async () => {
    const dir = await makeTempDir('syncward-api-token-');
    const tokenFile = join(dir, 'api.token');
    writeFileSync(tokenFile, 'secret\n');
    chmodSync(tokenFile, 0o644);
    const d = await localDaemon({ api: { listen: '127.0.0.1:0', tokenFile } });
    try {
      assert.equal(existsSync(join(d.state.dir, 'api.json')), false, 'no API, so no api.json');
      writeFileSync(join(d.src, 'still-synced'), 'x\n');
      await converged(d.src, d.targets);
    } finally {
      await d.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('API lifecycle', () => {
  test('a port in use is logged clearly and the daemon keeps syncing', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const src = await makeTempDir('syncward-api-src-');
    const dst = await makeTempDir('syncward-api-dst-');
    const state = tempStateDir();
    const lines: { msg: string; level: number }[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const targets = [{ name: 'local', url: dst, dir: dst }];
    const config = parseConfig(
      configYaml({ stateDir: state.dir, source: src, targets, api: { listen: `127.0.0.1:${port}` } }),
    );
    const daemon = new Daemon(config, log);
    try {
      await daemon.start();
      const line = lines.find((l) => /API not started/.test(l.msg));
      assert.ok(line, `an error is logged: ${lines.map((l) => l.msg).join('\n')}`);
      assert.match(line.msg, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
      assert.match(line.msg, /the daemon runs on without its API/);
      writeFileSync(join(src, 'f'), 'f\n');
      await converged(src, targets);
    } finally {
      await daemon.stop(5000);
      await new Promise((r) => blocker.close(r));
      for (const dir of [src, dst]) rmSync(dir, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('an SSE client that stops reading is dropped; a reading client still gets every event', async () => {
    const stream = new EventStream({ maxBufferedBytes: 256 * 1024 });
    const server = createHttpServer((_req, res: ServerResponse) => stream.attach(res, null));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const url = `http://127.0.0.1:${port}/`;
    // a client that sends its request and then never reads a byte
    const stalled = connect({ port, host: '127.0.0.1' });
    stalled.pause();
    stalled.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    const reader = await openEvents(url);
    await waitFor(() => stream.size === 2, 5000, 'both clients attached');
    try {
      const big = 'x'.repeat(64 * 1024);
      const n = 400;
      for (let i = 0; i < n; i++) {
        stream.publish('batch', { i, big });
        await waitFor(() => reader.events.length === i + 1, 10_000, `event ${i} at the reading client`);
      }
      assert.equal(stream.dropped, 1, 'the stalled client was dropped');
      assert.equal(stream.size, 1, 'the reading client is still attached');
      assert.deepEqual(
        reader.events.map((e) => e.data.i),
        Array.from({ length: n }, (_, i) => i),
      );
    } finally {
      reader.close();
      stalled.destroy();
      stream.close();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('SSE reconnects and heartbeats', () => {
  test('a client reconnecting with Last-Event-ID gets the events it missed, then new ones; heartbeats keep it alive', async () => {
    const stream = new EventStream({ heartbeatMs: 50 });
    const server = createHttpServer((req, res: ServerResponse) => {
      const last = req.headers['last-event-id'];
      stream.attach(res, typeof last === 'string' ? Number(last) : null);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    try {
      for (const i of [1, 2, 3]) stream.publish('state', { i });
      const fresh = await openEvents(url);
      const back = await openEvents(url, { 'last-event-id': '1' });
      try {
        await waitFor(() => back.events.length === 2, 5000, 'the two missed events');
        assert.deepEqual(
          back.events.map((e) => [e.id, e.data.i]),
          [
            [2, 2],
            [3, 3],
          ],
        );
        stream.publish('state', { i: 4 });
        await waitFor(() => back.events.length === 3 && fresh.events.length === 1, 5000, 'event 4 at both');
        assert.equal(fresh.events[0]?.id, 4, 'a new client gets no replay');
        await waitFor(() => fresh.comments.includes('heartbeat'), 5000, 'a heartbeat comment');
      } finally {
        fresh.close();
        back.close();
      }
    } finally {
      stream.close();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('dashboard hook', () => {
  const stub = Object.assign(new EventEmitter(), {
    status: () => [],
    fullSync: () => false,
    resume: () => 0,
    heldTargets: () => [],
    audit: async () => null,
    incidents: () => [],
  });
  let ui: string;
  let state: ReturnType<typeof tempStateDir>;

  before(async () => {
    ui = await makeTempDir('syncward-ui-');
    state = tempStateDir();
    mkdirSync(join(ui, 'assets'));
    writeFileSync(join(ui, 'index.html'), '<!doctype html><title>syncward</title>');
    writeFileSync(join(ui, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(ui, 'assets', 'app.css'), 'body{}');
    writeFileSync(join(state.dir, 'secret.txt'), 'outside the ui dir');
  });
  after(() => {
    rmSync(ui, { recursive: true, force: true });
    state.dispose();
  });

  test('files under dist/ui are served at / with their content types, and nothing outside it', async () => {
    const api = await startApi(stub, {
      listen: '127.0.0.1:0',
      stateDir: state.dir,
      log: silentLogger(),
      uiDir: ui,
    });
    assert.ok(api);
    try {
      const get = (path: string) => rawRequest(api.url, 'GET', path);
      let r = await get('/');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(r.body, /<title>syncward/);
      r = await get('/assets/app.js');
      assert.equal(r.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal(r.body, 'console.log(1)');
      r = await get('/assets/app.css');
      assert.equal(r.headers['content-type'], 'text/css; charset=utf-8');
      const rel = `../${state.dir.split('/').pop()}/secret.txt`;
      for (const evil of [
        `/${rel}`,
        `/assets/../../${rel}`,
        `/%2e%2e/${rel.slice(3)}`,
        '/..%2f..%2fetc%2fpasswd',
      ]) {
        r = await get(evil);
        assert.equal(r.status, 404, evil);
        assert.doesNotMatch(r.body, /outside the ui dir|root:/, evil);
      }
      assert.equal((await get('/missing.js')).status, 404);
      assert.equal((await rawRequest(api.url, 'POST', '/', { headers: INTENT })).status, 405);
      assert.equal((await get('/api/status')).status, 200, 'the API still answers beside the files');
    } finally {
      await api.close();
    }
  });

  test('without a dashboard build / points to the API', async () => {
    const api = await startApi(stub, {
      listen: '127.0.0.1:0',
      stateDir: state.dir,
      log: silentLogger(),
      uiDir: join(ui, 'not-built'),
    });
    assert.ok(api);
    try {
      const r = await rawRequest(api.url, 'GET', '/');
      assert.equal(r.status, 200);
      assert.match(r.body, /dashboard is not built[\s\S]*GET {2}\/api\/status/);
      assert.match(r.body, /Every POST needs the header "X-Syncward: 1"/);
      assert.equal((await rawRequest(api.url, 'GET', '/index.html')).status, 404);
    } finally {
      await api.close();
    }
  });
});
