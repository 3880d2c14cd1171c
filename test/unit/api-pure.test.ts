import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  apiUrl,
  contentType,
  presentedToken,
  sseFrame,
  staticPath,
  tokenMatches,
} from '../../src/api/index.js';

describe('API pure helpers', () => {
  test('static paths never leave the dashboard directory', () => {
    const root = '/opt/syncward/dist/ui';
    assert.equal(staticPath(root, '/'), root);
    assert.equal(staticPath(root, '/index.html'), `${root}/index.html`);
    assert.equal(staticPath(root, '/assets/app.js'), `${root}/assets/app.js`);
    assert.equal(staticPath(root, '/a%20b.css'), `${root}/a b.css`);
    for (const evil of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/assets/../../x',
      '/%2e%2e%2f%2e%2e%2fetc/passwd',
    ])
      assert.equal(staticPath(root, evil), null, evil);
    assert.equal(staticPath(root, '/a%00b'), null, 'NUL');
    assert.equal(staticPath(root, '/%E0%A4%A'), null, 'bad escape');
    assert.equal(staticPath(root, '/..%5c..%5cx'), null, 'backslash');
  });

  test('content types by extension', () => {
    assert.equal(contentType('/x/index.html'), 'text/html; charset=utf-8');
    assert.equal(contentType('/x/app.JS'), 'text/javascript; charset=utf-8');
    assert.equal(contentType('/x/a.css'), 'text/css; charset=utf-8');
    assert.equal(contentType('/x/logo.svg'), 'image/svg+xml');
    assert.equal(contentType('/x/blob'), 'application/octet-stream');
  });

  test('the token comes from a Bearer header or ?token=, and must match exactly', () => {
    const u = (q: string) => new URL(`http://h/api/status${q}`);
    assert.equal(presentedToken('Bearer s3cret', u('')), 's3cret');
    assert.equal(presentedToken('bearer s3cret', u('')), 's3cret');
    assert.equal(presentedToken(undefined, u('?token=abc')), 'abc');
    assert.equal(presentedToken('Basic dXNlcjpwYXNz', u('')), null);
    assert.equal(presentedToken(undefined, u('')), null);
    assert.equal(tokenMatches('s3cret', 's3cret'), true);
    assert.equal(tokenMatches('s3cre', 's3cret'), false);
    assert.equal(tokenMatches('s3cret ', 's3cret'), false);
    assert.equal(tokenMatches('', 's3cret'), false);
    assert.equal(tokenMatches(null, 's3cret'), false);
  });

  test('an SSE frame has an id, an event name and one line of JSON data', () => {
    assert.equal(sseFrame(7, 'batch', { path: 'a\nb' }), 'id: 7\nevent: batch\ndata: {"path":"a\\nb"}\n\n');
  });

  test('a local URL for the listen address', () => {
    assert.equal(apiUrl('127.0.0.1', 8730), 'http://127.0.0.1:8730');
    assert.equal(apiUrl('0.0.0.0', 80), 'http://127.0.0.1:80');
    assert.equal(apiUrl('::', 80), 'http://[::1]:80');
    assert.equal(apiUrl('::1', 9), 'http://[::1]:9');
  });
});
