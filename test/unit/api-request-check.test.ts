import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type HostPolicy, parseHostHeader, type RequestFacts, refusal } from '../../src/api/index.js';

const loopback: HostPolicy = { port: 8730, listenHost: '127.0.0.1', allowedHosts: [] };

/** A same-origin GET from the dashboard at http://127.0.0.1:8730, changed by `o`. */
function req(o: Partial<RequestFacts> = {}): RequestFacts {
  return {
    method: 'GET',
    host: '127.0.0.1:8730',
    origin: undefined,
    intent: undefined,
    contentType: undefined,
    localAddress: '127.0.0.1',
    ...o,
  };
}

const check = (o: Partial<RequestFacts>, p: HostPolicy = loopback) => refusal(req(o), p)?.check ?? 'ok';

describe('which requests the API answers (Host, Origin, a header no foreign page can send)', () => {
  test('Host headers parse into a lower-case name and an optional port; malformed ones are null', () => {
    assert.deepEqual(parseHostHeader('LocalHost:8730'), { name: 'localhost', port: 8730 });
    assert.deepEqual(parseHostHeader('[::1]:8730'), { name: '::1', port: 8730 });
    assert.deepEqual(parseHostHeader('[::1]'), { name: '::1', port: null });
    assert.deepEqual(parseHostHeader('sync.example.com'), { name: 'sync.example.com', port: null });
    for (const bad of ['', 'a:b:c', 'host:99999', 'user@host:1', 'host/x', '::1:8730', 'a b'])
      assert.equal(parseHostHeader(bad), null, bad);
  });

  test('loopback names are localhost, 127.0.0.0/8 and ::1, nothing that merely looks like them', () => {
    for (const n of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]'])
      assert.equal(check({ host: `${n}:8730` }), 'ok', n);
    for (const n of ['127.0.0.1.evil.example', 'localhost.evil.example', '0.0.0.0', '10.0.0.1', '[::]'])
      assert.equal(check({ host: `${n}:8730` }), 'host', n);
  });

  test('the dashboard on loopback is answered: GETs, and POSTs that carry X-Syncward or a JSON content type', () => {
    assert.equal(check({}), 'ok');
    assert.equal(check({ host: 'localhost:8730' }), 'ok');
    assert.equal(check({ host: '127.0.0.1' }), 'ok', 'no port: a local proxy on port 80');
    assert.equal(check({ host: '[::1]:8730', localAddress: '::1' }), 'ok');
    assert.equal(check({ method: 'POST', intent: '1', origin: 'http://127.0.0.1:8730' }), 'ok');
    assert.equal(check({ method: 'POST', contentType: 'application/json; charset=utf-8' }), 'ok');
    assert.equal(check({ method: 'HEAD' }), 'ok');
  });

  test('a DNS-rebinding page (its own name as Host) is refused, whatever it asks', () => {
    const r = refusal(req({ host: 'evil.example:8730' }), loopback);
    assert.equal(r?.check, 'host');
    assert.match(r?.reason ?? '', /Host "evil.example:8730" is not a name of this API.*api\.allowed_hosts/);
    assert.equal(check({ host: 'evil.example' }), 'host');
    assert.equal(check({ host: '127.0.0.1.nip.io:8730' }), 'host');
    assert.equal(check({ host: undefined }), 'host', 'no Host at all');
    assert.equal(check({ host: 'a b' }), 'host', 'malformed');
  });

  test('a loopback name on another port is refused: that Host came through something that rewrote it', () => {
    const r = refusal(req({ host: '127.0.0.1:9999' }), loopback);
    assert.equal(r?.check, 'host');
    assert.match(r?.reason ?? '', /names port 9999, but the API listens on 8730/);
  });

  test('on a public listener: its address, the address the connection came in on, and api.allowed_hosts are answered', () => {
    const named: HostPolicy = { port: 8730, listenHost: '10.0.0.1', allowedHosts: [] };
    assert.equal(check({ host: '10.0.0.1:8730', localAddress: '10.0.0.1' }, named), 'ok');
    const wildcard: HostPolicy = { port: 8730, listenHost: '0.0.0.0', allowedHosts: ['Sync.Example.com'] };
    assert.equal(
      check({ host: '0.0.0.0:8730', localAddress: '10.0.0.1' }, wildcard),
      'host',
      'a wildcard is no name',
    );
    assert.equal(check({ host: '10.0.0.1:8730', localAddress: '::ffff:10.0.0.1' }, wildcard), 'ok');
    assert.equal(check({ host: '10.0.0.2:8730', localAddress: '10.0.0.1' }, wildcard), 'host');
    assert.equal(check({ host: 'sync.example.com', localAddress: '10.0.0.1' }, wildcard), 'ok');
    assert.equal(check({ host: 'other.example.com', localAddress: '10.0.0.1' }, wildcard), 'host');
    const v6: HostPolicy = { port: 8730, listenHost: '[fd00::1]', allowedHosts: [] };
    assert.equal(check({ host: '[fd00::1]:8730', localAddress: 'fd00::2' }, v6), 'ok');
  });

  test('a request from a page on another origin is refused by its Origin, GET or POST', () => {
    for (const origin of [
      'http://127.0.0.1:3000',
      'http://localhost:8730',
      'http://evil.example',
      'null',
      'file://',
      'garbage',
    ]) {
      assert.equal(check({ origin }), 'origin', `GET from ${origin}`);
      assert.equal(check({ method: 'POST', intent: '1', origin }), 'origin', `POST from ${origin}`);
    }
    const r = refusal(req({ method: 'POST', origin: 'http://127.0.0.1:3000' }), loopback);
    assert.match(
      r?.reason ?? '',
      /the page at http:\/\/127\.0\.0\.1:3000.*only the dashboard served by this API/,
    );
  });

  test('the same origin, spelled with default ports as browsers do, is the same', () => {
    const proxied: HostPolicy = { port: 8730, listenHost: '127.0.0.1', allowedHosts: ['sync.example.com'] };
    assert.equal(
      check(
        { host: 'sync.example.com', origin: 'https://sync.example.com', method: 'POST', intent: '1' },
        proxied,
      ),
      'ok',
    );
    assert.equal(check({ host: 'sync.example.com', origin: 'https://sync.example.com:443' }, proxied), 'ok');
    assert.equal(
      check({ host: 'sync.example.com', origin: 'https://sync.example.com:8443' }, proxied),
      'origin',
    );
    assert.equal(check({ host: 'LOCALHOST:8730', origin: 'http://localhost:8730' }), 'ok');
  });

  test('a change without X-Syncward or a JSON content type is refused: what a no-cors fetch or a form sends', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS'])
      assert.equal(check({ method }), 'intent', method);
    for (const contentType of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonp',
    ])
      assert.equal(check({ method: 'POST', contentType }), 'intent', contentType);
    assert.equal(check({ method: 'POST', intent: '' }), 'intent', 'an empty header');
    const r = refusal(req({ method: 'POST' }), loopback);
    assert.match(r?.reason ?? '', /POST needs the header "X-Syncward: 1".*curl -X POST -H 'X-Syncward: 1'/);
  });
});
