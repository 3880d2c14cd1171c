import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { linkWithRtt, startTcpProxy } from '../../bench/lib/tcp-proxy.js';

/** An echo server on a random loopback port. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.pipe(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

/** Resolves once `n` bytes have come back on `s`, with them. */
function read(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    let len = 0;
    const on = (d: Buffer) => {
      got.push(d);
      len += d.length;
      if (len >= n) {
        s.off('data', on);
        resolve(Buffer.concat(got));
      }
    };
    s.on('data', on);
  });
}

test('an echo through a proxy with a 100 ms round trip takes at least 100 ms, on a new connection and on one already open', async () => {
  const echo = await echoServer();
  const proxy = await startTcpProxy(echo.port, linkWithRtt(100));
  const s = connect({ port: proxy.port, host: '127.0.0.1' });
  try {
    const t0 = performance.now();
    await once(s, 'connect');
    s.write('ping');
    assert.equal((await read(s, 4)).toString(), 'ping');
    const first = performance.now() - t0;
    // the server accepted 150 ms after connect(), and the reply took the way back
    assert.ok(
      first >= 200,
      `the first echo came back after ${first.toFixed(1)} ms, less than the handshake and one round trip`,
    );
    const t1 = performance.now();
    s.write('pong');
    assert.equal((await read(s, 4)).toString(), 'pong');
    const second = performance.now() - t1;
    assert.ok(
      second >= 100,
      `an echo came back after ${second.toFixed(1)} ms, less than the 100 ms round trip`,
    );
    assert.equal(proxy.upstreamBytes, 8);
    assert.equal(proxy.downstreamBytes, 8);
  } finally {
    s.destroy();
    await proxy.close();
    echo.server.close();
  }
});

test('a delayed proxy keeps the order of the bytes and counts them each way', async () => {
  const echo = await echoServer();
  const proxy = await startTcpProxy(echo.port, { oneWayDelayMs: 5 });
  const s = connect({ port: proxy.port, host: '127.0.0.1' });
  try {
    await once(s, 'connect');
    const sent = Buffer.concat(Array.from({ length: 2000 }, (_, i) => Buffer.from(`${i},`)));
    const back = read(s, sent.length);
    // many small writes, so the proxy reads many chunks
    for (let i = 0; i < 2000; i++) s.write(`${i},`);
    assert.ok((await back).equals(sent), 'the bytes came back in the order sent');
    assert.equal(proxy.upstreamBytes, sent.length);
    assert.equal(proxy.downstreamBytes, sent.length);
  } finally {
    s.destroy();
    await proxy.close();
    echo.server.close();
  }
});
