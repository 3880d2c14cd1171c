import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startApi } from '../../src/api/index.js';
import { silentLogger } from '../../src/util/log.js';
import { apiUrlOf, openEvents, rawRequest } from '../helpers/api.js';
import { isWatching, msg, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** A connection that sends the start of a request and never finishes it, and what became of it. */
interface HalfSent {
  socket: Socket;
  closed: boolean;
  received: string;
}

/** Opens a connection and sends `partial` (may be ''), resolving once connected. */
function halfSend(url: string, partial: string): Promise<HalfSent> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const h: HalfSent = { socket, closed: false, received: '' };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      h.received += d;
    });
    // a connection closed at once by the server may reset: that is the close we wait for
    socket.on('error', () => {});
    socket.on('close', () => {
      h.closed = true;
    });
    socket.once('connect', () => {
      if (partial) socket.write(partial);
      resolve(h);
    });
    socket.once('error', (e) => {
      if (!h.closed) reject(e);
    });
  });
}

const PARTIAL = 'GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';

/** An API with no daemon behind it, for the limits alone. */
const stub = Object.assign(new EventEmitter(), {
  status: () => [],
  fullSync: () => false,
  resume: () => 0,
  heldTargets: () => [],
  audit: async () => null,
  incidents: () => [],
});

describe('API connection limits', () => {
  test('more half-sent requests than api.max_connections are closed at once, and rsync still spawns under a tight file limit', async () => {
    const src = await makeTempDir('syncward-limits-src-');
    const dst = await makeTempDir('syncward-limits-dst-');
    const dir = await makeTempDir('syncward-limits-token-');
    const state = tempStateDir();
    const tokenFile = join(dir, 'api.token');
    writeFileSync(tokenFile, 'not-sent-by-anyone\n', { mode: 0o600 });
    writeFileSync(join(src, 'before.txt'), 'before\n');
    const targets: TargetUnderTest[] = [{ name: 'local', url: dst, dir: dst }];
    const cap = 40;
    const flood = 200;
    // headers would time out only after 300 s: what frees descriptors here is the cap alone
    const yaml = configYaml({
      stateDir: state.dir,
      source: src,
      targets,
      api: { listen: '127.0.0.1:0', tokenFile },
    }).replace('api:\n', `api:\n  max_connections: ${cap}\n  max_sse_clients: 8\n  header_timeout_s: 300\n`);
    const cfg = join(dir, 'syncward.yaml');
    writeFileSync(cfg, yaml);
    // 128 descriptors, hard limit too (the daemon may raise its soft limit to the hard one):
    // 200 held connections would take them all and rsync could not spawn (EMFILE)
    const d = spawnSyncward(['start', '-c', cfg], { wrap: ['prlimit', '--nofile=128:128', '--'] });
    const conns: HalfSent[] = [];
    try {
      await d.waitForLine(isWatching, 30_000, 'the source to be watched');
      await converged(src, targets);
      const url = apiUrlOf(state.dir);
      for (let i = 0; i < flood; i++) conns.push(await halfSend(url, PARTIAL));
      const closed = () => conns.filter((c) => c.closed).length;
      await waitFor(
        () => closed() === flood - cap,
        30_000,
        `${flood - cap} of ${flood} connections closed by the server (closed so far: ${closed()})`,
      );
      await d.waitForLine(
        (l) => /connections are open \(api\.max_connections\)/.test(msg(l)),
        10_000,
        'the log line about refused connections',
      );
      assert.equal(
        conns.filter((c) => !c.closed).length,
        cap,
        'the first max_connections stay open (their headers are not late yet)',
      );
      assert.ok(
        conns.every((c) => c.received === ''),
        'none of them got an answer: none sent a whole request',
      );
      const fds = readdirSync(`/proc/${d.pid}/fd`).length;
      assert.ok(fds < 128, `the daemon holds ${fds} descriptors of its 128`);
      writeFileSync(join(src, 'during-flood.txt'), 'rsync could spawn\n');
      await converged(src, targets, 30_000, 'the file written during the flood on the target');
      assert.doesNotMatch(d.stderr(), /EMFILE/);
    } finally {
      for (const c of conns) c.socket.destroy();
      await d.stop();
      for (const p of [src, dst, dir]) rmSync(p, { recursive: true, force: true });
      state.dispose();
    }
  });

  test('a connection whose request headers do not arrive within api.header_timeout_s is answered 408 and closed', async () => {
    const state = tempStateDir();
    const api = await startApi(stub, {
      listen: '127.0.0.1:0',
      stateDir: state.dir,
      log: silentLogger(),
      headerTimeoutS: 1,
    });
    assert.ok(api);
    try {
      const half = await halfSend(api.url, PARTIAL);
      const silent = await halfSend(api.url, '');
      await waitFor(() => half.closed && silent.closed, 30_000, 'both slow connections closed by the server');
      assert.match(half.received, /^HTTP\/1\.1 408 /);
      // a client that is merely slow between requests is not this: a whole request still works
      assert.equal((await rawRequest(api.url, 'GET', '/api/status')).status, 200);
    } finally {
      await api.close();
      state.dispose();
    }
  });

  test('more /api/events clients than api.max_sse_clients get 503 saying why; a closed one frees its place', async () => {
    const state = tempStateDir();
    const api = await startApi(stub, {
      listen: '127.0.0.1:0',
      stateDir: state.dir,
      log: silentLogger(),
      maxSseClients: 2,
    });
    assert.ok(api);
    const streams = [await openEvents(`${api.url}/api/events`), await openEvents(`${api.url}/api/events`)];
    try {
      const third = await openEvents(`${api.url}/api/events`).then(
        (s) => {
          streams.push(s);
          return 'opened';
        },
        (e: Error) => e.message,
      );
      assert.match(third, /answered 503/);
      const r = await rawRequest(api.url, 'GET', '/api/events');
      assert.equal(r.status, 503);
      assert.equal(r.headers['retry-after'], '30');
      assert.match(
        (JSON.parse(r.body) as { error: string }).error,
        /2 event streams are open, the most api\.max_sse_clients allows/,
      );
      assert.equal(
        (await rawRequest(api.url, 'GET', '/api/status')).status,
        200,
        'other requests still work',
      );
      streams.shift()?.close();
      await waitFor(
        async () => {
          const again = await openEvents(`${api.url}/api/events`).catch(() => null);
          if (again) streams.push(again);
          return again !== null;
        },
        30_000,
        'a new stream once one closed',
      );
    } finally {
      for (const s of streams) s.close();
      await api.close();
      state.dispose();
    }
  });
});
