import assert from 'node:assert/strict';
import { existsSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { apiUrlOf, rawRequest } from '../helpers/api.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** Debian's chromium, installed by scripts/setup.sh. */
const CHROMIUM = '/usr/bin/chromium';
const HELD = 'src/local';

/**
 * A daemon whose only target is on hold: two deletes against max_delete 1.
 * Whatever lifts the hold lets the deletes reach the target, so "keep.txt
 * still on the target" and "still held" both say nobody lifted it.
 */
async function heldDaemon() {
  const src = await makeTempDir('syncward-guard-src-');
  const dst = await makeTempDir('syncward-guard-dst-');
  const state = tempStateDir();
  for (const f of ['a.txt', 'b.txt', 'keep.txt']) writeFileSync(join(src, f), `${f}\n`);
  const targets: TargetUnderTest[] = [{ name: 'local', url: dst, dir: dst }];
  const d = await startDaemon(
    configYaml({ stateDir: state.dir, source: src, targets, extra: '    max_delete: 1' }),
  );
  await converged(src, targets);
  unlinkSync(join(src, 'a.txt'));
  unlinkSync(join(src, 'b.txt'));
  await waitFor(() => d.daemon.heldTargets().includes(HELD), 30_000, 'the target to go on hold');
  const url = apiUrlOf(state.dir);
  return {
    ...d,
    src,
    dst,
    url,
    port: Number(new URL(url).port),
    stillHeld() {
      assert.deepEqual(d.daemon.heldTargets(), [HELD], 'the hold is still on');
      assert.ok(existsSync(join(dst, 'a.txt')), 'the held delete did not run');
    },
    async dispose() {
      await d.dispose();
      for (const dir of [src, dst]) rmSync(dir, { recursive: true, force: true });
      state.dispose();
    },
  };
}

/** An HTTP server on another loopback port: the "other site" the operator happens to open. */
async function foreignSite(html: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

const RESUME = `/api/targets/${encodeURIComponent(HELD)}/resume`;

describe('the API trusts no browser', () => {
  test('foreign Host, foreign Origin and a POST without X-Syncward get 403 saying why; the hold stays until a proper request', async () => {
    const d = await heldDaemon();
    try {
      const port = d.port;
      let r = await rawRequest(d.url, 'GET', '/api/status', { headers: { host: `evil.example:${port}` } });
      assert.equal(r.status, 403, 'a DNS-rebinding read of the status');
      const body = JSON.parse(r.body) as { error: string; refused: string };
      assert.equal(body.refused, 'host');
      assert.match(body.error, /Host "evil\.example:\d+" is not a name of this API/);
      assert.doesNotMatch(r.body, /"sources"/, 'nothing of the status leaks');

      const attempts: [string, Record<string, string>, string][] = [
        ['foreign Host', { host: `evil.example:${port}`, 'x-syncward': '1' }, 'host'],
        ['no X-Syncward', { 'content-type': 'text/plain' }, 'intent'],
        ['foreign Origin', { origin: 'http://127.0.0.1:1', 'x-syncward': '1' }, 'origin'],
        ['Origin null', { origin: 'null', 'content-type': 'application/json' }, 'origin'],
      ];
      for (const [what, headers, check] of attempts) {
        r = await rawRequest(d.url, 'POST', RESUME, { headers });
        assert.equal(r.status, 403, what);
        assert.equal((JSON.parse(r.body) as { refused: string }).refused, check, what);
        d.stillHeld();
      }
      // the same request done right lifts the hold: the refusals above were not for another reason
      r = await rawRequest(d.url, 'POST', RESUME, {
        headers: { 'x-syncward': '1', origin: `http://localhost:${port}`, host: `localhost:${port}` },
      });
      assert.equal(r.status, 200, r.body);
      await converged(d.src, [{ name: 'local', url: d.dst, dir: d.dst }]);
    } finally {
      await d.dispose();
    }
  });

  describe('in a real chromium', () => {
    let browser: Browser | null = null;
    const launch = async (): Promise<Browser> => {
      if (!existsSync(CHROMIUM))
        throw new Error(`${CHROMIUM} is missing: run \`bash scripts/setup.sh\` (it installs it with apt)`);
      // --no-sandbox: CI runs as root; the resolver rule is a DNS rebinding: evil.example answers 127.0.0.1
      browser ??= await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--host-resolver-rules=MAP evil.example 127.0.0.1'],
      });
      return browser;
    };
    after(async () => {
      await browser?.close();
    });

    test('a page on another origin that fires a no-cors POST at resume leaves the hold on', async () => {
      const b = await launch();
      const d = await heldDaemon();
      // the attack from the issue, and the same with the header (which needs a preflight, refused)
      const site = await foreignSite(`<!doctype html><title>cat pictures</title><script>
        (async () => {
          const out = [];
          try {
            const r = await fetch(${JSON.stringify(d.url + RESUME)}, { method: 'POST', mode: 'no-cors' });
            out.push('no-cors answered ' + r.type);
          } catch (e) { out.push('no-cors failed: ' + e.message); }
          try {
            const r = await fetch(${JSON.stringify(d.url + RESUME)}, { method: 'POST', headers: { 'x-syncward': '1' } });
            out.push('cors ' + r.status);
          } catch (e) { out.push('cors blocked'); }
          document.body.dataset.done = out.join('; ');
        })();
      </script>`);
      const page = await b.newPage();
      try {
        await page.goto(site.url);
        await page.waitForSelector('body[data-done]', { state: 'attached', timeout: 30_000 });
        const done = await page.getAttribute('body', 'data-done');
        // an opaque answer means the request reached the API and was answered: it was considered
        assert.equal(done, 'no-cors answered opaque; cors blocked');
        d.stillHeld();
      } finally {
        await page.close();
        await new Promise((r) => site.server.close(r));
        await d.dispose();
      }
    });

    test('a page whose own name resolves to 127.0.0.1 (DNS rebinding) cannot read the status', async () => {
      const b = await launch();
      const d = await heldDaemon();
      const page = await b.newPage();
      try {
        const res = await page.goto(`http://evil.example:${d.port}/api/status`);
        assert.equal(res?.status(), 403);
        assert.match((await page.textContent('body')) ?? '', /is not a name of this API/);
        // the same browser at the real address is answered: the refusal is the Host's
        const ok = await page.goto(`${d.url}/api/status`);
        assert.equal(ok?.status(), 200);
      } finally {
        await page.close();
        await d.dispose();
      }
    });
  });
});
