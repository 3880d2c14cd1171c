import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { describeFetchError, httpGet } from '../../src/util/http-get.js';

test('a GET whose connection breaks before the answer is tried once more; a refused one fails with its cause', async () => {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    // the first connection is reset, as a keep-alive one closed just as it was reused
    if (requests === 1) req.socket.resetAndDestroy();
    else res.end('second');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    assert.equal(await (await httpGet(url)).text(), 'second');
    assert.equal(requests, 2);
  } finally {
    await new Promise((r) => server.close(r));
  }
  // nothing listens there now
  const err = await httpGet(url).then(
    () => null,
    (e: unknown) => e,
  );
  assert.match(describeFetchError(err), /^ECONNREFUSED/);
});

test('a GET reset twice fails: one retry, not a loop', async () => {
  let requests = 0;
  const server = createServer((req) => {
    requests++;
    req.socket.resetAndDestroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    await assert.rejects(httpGet(url), (e: unknown) =>
      /ECONNRESET|UND_ERR_SOCKET/.test(describeFetchError(e)),
    );
    assert.equal(requests, 2);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
