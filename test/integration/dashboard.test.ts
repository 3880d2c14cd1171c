import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { rm, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { basename, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type Browser, chromium, type Page, type Route } from 'playwright-core';
import { answeredView } from '../../src/relay/index.js';
import { configYaml, startDaemon, tempStateDir } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { type RsyncDaemon, startRsyncDaemon } from '../helpers/rsyncd.js';
import { sampleCanary, sampleTarget } from '../helpers/status-sample.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** Debian's chromium, installed by scripts/setup.sh. */
const CHROMIUM = '/usr/bin/chromium';
const ROOT = new URL('../../../', import.meta.url).pathname;
/**
 * Where the screenshot goes: a temp file, unless SYNCWARD_SCREENSHOT names one
 * (`SYNCWARD_SCREENSHOT=$PWD/docs/dashboard.png node scripts/run-tests.mjs dashboard`
 * regenerates the image in docs/operations.md on purpose); a test run writes nothing into the checkout.
 */
const SCREENSHOT = process.env.SYNCWARD_SCREENSHOT;
/** Long enough for a retry after backoff on a loaded 2-core machine; a condition, not a timing claim. */
const WAIT = 60_000;

function requireBrowserAndBuild(): void {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the dashboard test drives Debian's chromium; run \`bash scripts/setup.sh\` (it installs it with apt)`,
    );
  if (!existsSync(join(ROOT, 'dist', 'ui', 'index.html')))
    throw new Error('dist/ui/index.html is missing: run `npm run build:ui` (npm test does it first)');
}

function launch(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** Console errors and uncaught exceptions of a page, collected for the end of the test. */
function collectErrors(page: Page, allow: RegExp[] = []): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !allow.some((re) => re.test(m.text())))
      errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}

/** The address a daemon listening on port 0 wrote to state_dir/api.json. */
async function apiUrl(stateDir: string): Promise<string> {
  const file = join(stateDir, 'api.json');
  await waitFor(() => existsSync(file), 10_000, `${file} (the API's address)`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { url: string }).url;
}

const cell = (key: string, state?: string) =>
  `.cell[data-target="${key}"]${state ? `[data-state="${state}"]` : ''}`;

/**
 * A daemon (in this process) mirroring a new source, filled by `fill`, to a
 * local target whose lines `targetExtra` extends; dispose() stops it and
 * removes its directories.
 */
async function localDaemon(fill: (source: string) => Promise<void>, targetExtra = '') {
  const source = await makeTempDir('syncward-dash-one-src-');
  const local = await makeTempDir('syncward-dash-one-local-');
  const state = tempStateDir();
  await fill(source);
  const yaml = configYaml({
    stateDir: state.dir,
    source,
    targets: [{ name: 'local', url: local, dir: local }],
    api: { listen: '127.0.0.1:0' },
  }).replace('        timeout_s: 20\n', `        timeout_s: 20\n${targetExtra}`);
  const d = await startDaemon(yaml);
  return {
    daemon: d.daemon,
    url: await apiUrl(state.dir),
    async dispose() {
      await d.dispose();
      state.dispose();
      await rm(source, { recursive: true, force: true });
      await rm(local, { recursive: true, force: true });
    },
  };
}

/**
 * A relay's API as far as the upstream reads it: GET /api/status answers
 * `body()` (a real HTTP server on loopback, standing in for the relay's
 * syncward in a display test). stop() closes it and its connections.
 */
async function cannedRelay(body: () => unknown, port = 0): Promise<{ port: number; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    res.writeHead(req.url === '/api/status' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/api/status' ? body() : { error: 'not found' }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A cell's or row's background colour as the page draws it. */
const background = (page: Page, selector: string) =>
  page.$eval(selector, (e) => getComputedStyle(e).backgroundColor);

describe('dashboard in a real browser against a running daemon', () => {
  let shared: Browser | null = null;
  // checked inside each test, so a missing chromium fails the tests themselves
  const theBrowser = async (): Promise<Browser> => {
    requireBrowserAndBuild();
    shared ??= await launch();
    return shared;
  };
  after(async () => {
    await shared?.close();
  });

  test('shows both targets, a target going down and coming back, an audit’s drift list, full sync and resume', async () => {
    const browser = await theBrowser();
    const rsyncd: RsyncDaemon = await startRsyncDaemon({ modules: ['t1'] });
    const source = await makeTempDir('syncward-dash-src-');
    const local = await makeTempDir('syncward-dash-local-');
    const state = tempStateDir();
    await writeFile(join(source, 'index.html'), '<h1>hello</h1>\n');
    await writeFile(join(source, 'keep.txt'), 'kept\n');
    const yaml = `${configYaml({
      stateDir: state.dir,
      source,
      targets: [
        {
          name: 't1',
          url: rsyncd.url('t1'),
          dir: rsyncd.modulePath('t1'),
          passwordFile: rsyncd.passwordFile,
        },
        { name: 'local', url: local, dir: local },
      ],
      api: { listen: '127.0.0.1:0' },
      extra: '    max_delete: 1',
    })}alerts:\n  down_after_s: 1\n`;
    const d = await startDaemon(yaml);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(WAIT);
    const errors = collectErrors(page);
    try {
      const url = await apiUrl(state.dir);
      await page.goto(url);
      await page.waitForSelector(cell('src/t1', 'idle'), { timeout: WAIT });
      await page.waitForSelector(cell('src/local', 'idle'), { timeout: WAIT });
      await page.waitForSelector('#link[data-state="live"]', { timeout: WAIT });

      // a change flows: its transfer shows in the panel of the selected target (t1, the first)
      await page.click(cell('src/t1'));
      await writeFile(join(source, 'news.html'), '<p>fresh</p>\n');
      await page.waitForSelector('#detail[data-target="src/t1"] #transfers tr[data-result="ok"]', {
        timeout: WAIT,
      });
      assert.match((await page.textContent('#transfers tbody')) ?? '', /news\.html/);

      // the target's rsync daemon stops: a change cannot reach it, its cell turns down
      await rsyncd.stop();
      await writeFile(join(source, 'during-outage.txt'), 'written while t1 was down\n');
      await page.waitForSelector(cell('src/t1', 'down'), { timeout: WAIT });
      await page.waitForSelector('#alerts li[data-kind="down"]', { timeout: WAIT });
      assert.equal(await page.getAttribute(cell('src/local'), 'data-state'), 'idle');

      // it comes back: the change arrives and the cell is in sync again
      await rsyncd.restart();
      await page.waitForSelector(cell('src/t1', 'idle'), { timeout: WAIT });
      await waitFor(
        () => existsSync(join(rsyncd.modulePath('t1'), 'during-outage.txt')),
        WAIT,
        'the change made during the outage on t1',
      );

      // drift planted on the local target by hand; Audit lists it
      await writeFile(join(local, 'planted.txt'), 'nobody sent me\n');
      await unlink(join(local, 'keep.txt'));
      await page.click(cell('src/local'));
      await page.waitForSelector('#detail[data-target="src/local"]');
      await page.click('#detail [data-action="audit"]');
      await page.waitForSelector('#action-result[data-action="audit"][data-ok="true"]', { timeout: WAIT });
      await page.waitForSelector('#drift li[data-kind="extra"][data-path="planted.txt"]', { timeout: WAIT });
      await page.waitForSelector('#drift li[data-kind="missing"][data-path="keep.txt"]', { timeout: WAIT });
      assert.equal(await page.getAttribute('#audit .counts li[data-kind="extra"]', 'data-count'), '1');
      assert.equal(await page.getAttribute('#audit .counts li[data-kind="missing"]', 'data-count'), '1');
      // the grid shows it too, not only the detail panel
      await page.waitForSelector('.cell[data-target="src/local"][data-drift="true"] [data-field="drift"]', {
        timeout: WAIT,
      });
      assert.match((await page.textContent(`${cell('src/local')} [data-field="drift"]`)) ?? '', /^2 drift/);
      assert.equal(await page.getAttribute(cell('src/t1'), 'data-drift'), 'false');

      const shot = SCREENSHOT ?? join(source, '..', `${basename(source)}-dashboard.png`);
      try {
        await page.screenshot({ path: shot, fullPage: true });
        assert.ok(statSync(shot).size > 0, `a screenshot at ${shot}`);
      } finally {
        if (!SCREENSHOT) await rm(shot, { force: true });
      }

      // Full sync repairs the local target
      await page.click('#detail [data-action="sync"]');
      await page.waitForSelector('#action-result[data-action="sync"][data-ok="true"]', { timeout: WAIT });
      await page.waitForSelector(
        '#detail[data-target="src/local"] #transfers tr[data-kind="full"][data-result="ok"]',
        {
          timeout: WAIT,
        },
      );
      await waitFor(
        () => existsSync(join(local, 'keep.txt')) && !existsSync(join(local, 'planted.txt')),
        WAIT,
        'the full sync to repair the local target',
      );

      // more deletes than max_delete: both targets held; Resume on t1 lets its deletes go, local stays held
      await unlink(join(source, 'index.html'));
      await unlink(join(source, 'news.html'));
      await page.waitForSelector(cell('src/t1', 'held'), { timeout: WAIT });
      await page.waitForSelector(cell('src/local', 'held'), { timeout: WAIT });
      await page.click(cell('src/t1'));
      await page.click('#detail[data-target="src/t1"] [data-action="resume"]');
      await page.waitForSelector('#action-result[data-action="resume"][data-ok="true"]', { timeout: WAIT });
      await page.waitForSelector(cell('src/t1', 'idle'), { timeout: WAIT });
      await waitFor(
        () => !existsSync(join(rsyncd.modulePath('t1'), 'index.html')),
        WAIT,
        'the held deletes to reach t1 after Resume',
      );
      assert.equal(await page.getAttribute(cell('src/local'), 'data-state'), 'held');
      assert.ok(existsSync(join(local, 'index.html')), 'local is still held: nothing deleted there');

      assert.deepEqual(
        errors.filter((e) => !/no answer in 10 s/.test(e)),
        [],
        'the page logged errors',
      );
    } finally {
      await page.close();
      await d.dispose();
      await rsyncd.dispose();
      state.dispose();
      await rm(source, { recursive: true, force: true });
      await rm(local, { recursive: true, force: true });
    }
  });

  test('the page follows a daemon restart by itself, without reloading', async () => {
    const browser = await theBrowser();
    const source = await makeTempDir('syncward-dash-src-');
    const local = await makeTempDir('syncward-dash-local-');
    const state = tempStateDir();
    // a fixed port, so the restarted daemon is where the page looks for it
    const port = await freePort();
    const yaml = configYaml({
      stateDir: state.dir,
      source,
      targets: [{ name: 'local', url: local, dir: local }],
      api: { listen: `127.0.0.1:${port}` },
    });
    let d: Awaited<ReturnType<typeof startDaemon>> | null = await startDaemon(yaml);
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT);
    // while the daemon is away its requests fail, which chromium logs: refused, or reset when one was in flight
    const errors = collectErrors(page, [/ERR_CONNECTION_(REFUSED|RESET)/]);
    try {
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForSelector(cell('src/local', 'idle'), { timeout: WAIT });
      await page.waitForSelector('#link[data-state="live"]', { timeout: WAIT });
      await page.evaluate(() => {
        (window as unknown as { sameDocument: boolean }).sameDocument = true;
      });

      await d.dispose();
      d = null;
      await page.waitForSelector('#link:not([data-state="live"])', { timeout: WAIT });
      await page.waitForSelector('#status-error', { timeout: WAIT });

      d = await startDaemon(yaml);
      await page.waitForSelector('#link[data-state="live"]', { timeout: WAIT });
      await page.waitForSelector('#status-error', { state: 'detached', timeout: WAIT });
      await writeFile(join(source, 'after-restart.txt'), 'x\n');
      await page.waitForSelector('#transfers td.paths:has-text("after-restart.txt")', { timeout: WAIT });
      assert.equal(
        await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument),
        true,
        'the page was not reloaded',
      );
      assert.deepEqual(errors, [], 'the page logged errors');
    } finally {
      await page.close();
      await d?.dispose();
      state.dispose();
      await rm(source, { recursive: true, force: true });
      await rm(local, { recursive: true, force: true });
    }
  });

  test('with api.token_file set: opened as /?token= it works live (canary lag charted); a new token is asked for once', async () => {
    const browser = await theBrowser();
    const source = await makeTempDir('syncward-dash-src-');
    const local = await makeTempDir('syncward-dash-local-');
    const state = tempStateDir();
    const token = randomBytes(18).toString('base64url');
    const tokenFile = join(state.dir, 'api.token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    // a fixed port: the daemon is restarted with a new token below
    const port = await freePort();
    const yaml = configYaml({
      stateDir: state.dir,
      source,
      targets: [{ name: 'local', url: local, dir: local }],
      api: { listen: `127.0.0.1:${port}`, tokenFile },
      extra: '    canary: { interval_s: 1 }',
    });
    let d: Awaited<ReturnType<typeof startDaemon>> | null = await startDaemon(yaml);
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT);
    const errors = collectErrors(page);
    try {
      const url = `http://127.0.0.1:${port}`;
      // without the token nothing of the daemon's state is shown
      const stranger = await browser.newPage();
      try {
        await stranger.goto(url);
        await stranger.waitForLoadState('networkidle');
        assert.equal(await stranger.$(cell('src/local')), null);
      } finally {
        await stranger.close();
      }

      await page.goto(`${url}/?token=${encodeURIComponent(token)}`);
      await page.waitForSelector(cell('src/local', 'idle'), { timeout: WAIT });
      await page.waitForSelector('#link[data-state="live"]', { timeout: WAIT });
      assert.equal(await page.$('#token-form'), null);

      // live with the token: a change shows as a transfer (the event stream took ?token=)
      await writeFile(join(source, 'after-token.txt'), 'x\n');
      await page.waitForSelector('#detail[data-target="src/local"] #transfers tr[data-result="ok"]', {
        timeout: WAIT,
      });

      // the source has a canary: its end-to-end lag is shown and charted
      await page.waitForSelector('#detail dt:has-text("canary lag") + dd:not(:has-text("—"))', {
        timeout: WAIT,
      });
      await page.waitForSelector('#lag-chart .u-legend :text("canary lag")', { timeout: WAIT });

      // a reload keeps working
      await page.reload();
      await page.waitForSelector(cell('src/local', 'idle'), { timeout: WAIT });
      assert.equal(await page.$('#token-form'), null);
      assert.deepEqual(errors, [], 'the page logged errors');

      // the token is changed and the daemon restarted: the open page asks for the new one
      await d.dispose();
      d = null;
      const rotated = randomBytes(18).toString('base64url');
      await writeFile(tokenFile, `${rotated}\n`, { mode: 0o600 });
      d = await startDaemon(yaml);
      await page.waitForSelector('#token-form:has-text("not accepted")', { timeout: WAIT });
      assert.equal(await page.$(cell('src/local')), null, 'nothing is shown without an accepted token');
      await page.fill('#token-input', token);
      await page.click('#token-form button[type="submit"]');
      await page.waitForSelector('#token-form:has-text("not accepted")', { timeout: WAIT });
      await page.fill('#token-input', rotated);
      await page.click('#token-form button[type="submit"]');
      await page.waitForSelector(cell('src/local', 'idle'), { timeout: WAIT });
      await page.waitForSelector('#link[data-state="live"]', { timeout: WAIT });
      assert.equal(await page.$('#token-form'), null);
      await writeFile(join(source, 'after-new-token.txt'), 'x\n');
      await page.waitForSelector('#transfers td.paths:has-text("after-new-token.txt")', { timeout: WAIT });
      // what chromium logs while the daemon was away and before the new token was given
      const unexpected = errors.filter((e) => !/ERR_CONNECTION_(REFUSED|RESET)|status of 401/.test(e));
      assert.deepEqual(unexpected, [], 'the page logged errors');
    } finally {
      await page.close();
      await d?.dispose();
      state.dispose();
      await rm(source, { recursive: true, force: true });
      await rm(local, { recursive: true, force: true });
    }
  });

  test('a status request never answered does not leave the page on "connecting"; loaded 10 times in a row, it shows the targets and a live stream every time', async () => {
    const browser = await theBrowser();
    const d = await localDaemon((source) => writeFile(join(source, 'index.html'), '<h1>hello</h1>\n'));
    const page = await browser.newPage();
    const errors = collectErrors(page);
    try {
      const url = d.url;
      // the first status request is never answered (as on a connection lost on the way): the page
      // must not wait for it forever on "connecting"; it asks again and opens the stream
      let held: Route | null = null;
      await page.route('**/api/status', (route) => {
        if (held === null) held = route;
        else void route.continue();
      });
      await page.goto(url);
      await page.waitForSelector(cell('src/local'), { timeout: WAIT });
      await page.waitForSelector('#link[data-state="live"]', { timeout: WAIT });
      assert.ok(held, 'the first status request was held');
      await page.unroute('**/api/status');
      const stuck: string[] = [];
      for (let i = 0; i < 10; i++) {
        // a reload, as an operator presses F5: the old page's stream and requests are cut mid-way
        await page.reload();
        try {
          await page.waitForSelector(cell('src/local'), { timeout: 15_000 });
          await page.waitForSelector('#link[data-state="live"]', { timeout: 15_000 });
        } catch {
          stuck.push(
            `load ${i + 1}: link ${await page.getAttribute('#link', 'data-state').catch(() => '?')}, ${(await page.textContent('body'))?.slice(0, 200)}`,
          );
        }
      }
      assert.deepEqual(stuck, [], 'every load shows the targets and goes live');
      assert.deepEqual(
        errors.filter((e) => !/no answer in 10 s/.test(e)),
        [],
        'the page logged errors',
      );
    } finally {
      await page.close();
      await d.dispose();
    }
  });

  test("a relay target's own targets are rows beneath it, coloured by state with their lag, nested tiers indented; unknown and grey with the relay's error while it cannot be read", async () => {
    const browser = await theBrowser();
    // the relay's own status: r1a in sync (canary 412 ms from the first source), r1b on hold, r1c a relay itself
    const relayStatus = () => {
      const now = Date.now();
      const deeper = answeredView(
        'http://127.0.0.1:9',
        'src',
        [sampleTarget(now, { target: 'x', canary: sampleCanary(now, 1_500) })],
        now,
      );
      return {
        sources: [
          {
            name: 'src',
            targets: [
              sampleTarget(now, { target: 'r1a', canary: sampleCanary(now, 412) }),
              sampleTarget(now, {
                target: 'r1b',
                state: 'held',
                pending: 1200,
                holdReason: '1200 deletes > max_delete 1000',
              }),
              sampleTarget(now, { target: 'r1c', relay: deeper }),
            ],
          },
        ],
      };
    };
    let relay = await cannedRelay(relayStatus);
    const d = await localDaemon(
      (source) => writeFile(join(source, 'index.html'), '<h1>hello</h1>\n'),
      `        relay: { api: "http://127.0.0.1:${relay.port}", poll_s: 1 }\n`,
    );
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(WAIT);
    const errors = collectErrors(page);
    const leaf = (path: string, state?: string) =>
      `.tier[data-relay="src/local"] .leaf[data-leaf="${path}"]${state ? `[data-state="${state}"]` : ''}`;
    try {
      await page.goto(d.url);
      await page.waitForSelector(cell('src/local', 'idle'));
      await page.waitForSelector('.tier[data-relay="src/local"][data-state="ok"]');
      await page.waitForSelector(leaf('r1a', 'idle'));
      assert.match(
        (await page.textContent(leaf('r1a'))) ?? '',
        /└ r1a\s*in sync\s*0 pending\s*lag 412 ms \(canary\)/,
      );
      assert.match(
        (await page.textContent(leaf('r1b', 'held'))) ?? '',
        /1200 pending.*on hold: 1200 deletes > max_delete 1000/,
      );
      assert.match(
        (await page.textContent(leaf('r1c/x', 'idle'))) ?? '',
        /└ x\s*in sync.*lag 1 s \(canary\)/,
      );
      // where a row's name starts on the screen
      const indent = (path: string) =>
        page.$eval(`${leaf(path)} .lname`, (e) => {
          const r = document.createRange();
          r.selectNodeContents(e);
          return r.getBoundingClientRect().left;
        });
      assert.ok((await indent('r1c/x')) > (await indent('r1c')), 'a deeper tier is indented further');
      // the same colours as the cells of this daemon's own targets
      assert.equal(await background(page, leaf('r1a')), await background(page, cell('src/local', 'idle')));
      assert.equal(await background(page, leaf('r1b')), 'rgb(233, 216, 253)', 'on hold: purple');
      assert.match((await page.textContent('#detail #relay-state')) ?? '', /read (just now|\d+ s ago)/);

      // the relay's API goes away: its whole subtree turns unknown, grey, and the page says why
      await relay.stop();
      await page.waitForSelector('.tier[data-relay="src/local"][data-state="unreachable"]');
      for (const path of ['r1a', 'r1b', 'r1c', 'r1c/x']) await page.waitForSelector(leaf(path, 'unknown'));
      assert.equal(await background(page, leaf('r1a')), 'rgb(237, 242, 247)', 'unknown: grey');
      assert.equal(
        await background(page, leaf('r1b')),
        'rgb(237, 242, 247)',
        'a hold not known now is no hold shown',
      );
      assert.match(
        (await page.textContent('.tier[data-relay="src/local"] .relay-state')) ?? '',
        /cannot be read for .*ECONNREFUSED.*its targets are unknown/,
      );
      assert.match((await page.textContent(leaf('r1a'))) ?? '', /unknown\s*— pending\s*lag —/);
      assert.equal(
        await page.getAttribute(cell('src/local'), 'data-state'),
        'idle',
        'the relay target itself is fine',
      );

      // it answers again (same port): the leaves are back with their states
      relay = await cannedRelay(relayStatus, relay.port);
      await page.waitForSelector(leaf('r1a', 'idle'));
      await page.waitForSelector(leaf('r1b', 'held'));
      await page.waitForSelector('.tier[data-relay="src/local"][data-state="ok"]');
      assert.deepEqual(errors, [], 'the page logged errors');
    } finally {
      await page.close();
      await d.dispose();
      await relay.stop();
    }
  });

  test('shows a full sync in progress (percent on the cell, growing figures in the panel), then a pause and its resume', async () => {
    const browser = await theBrowser();
    // 16 MiB at --bwlimit=1000 (KiB/s): a startup full sync of about 16 s
    const d = await localDaemon(async (source) => {
      for (let i = 0; i < 64; i++) await writeFile(join(source, `f${i}.bin`), randomBytes(256 * 1024));
    }, '        rsync_args: ["--bwlimit=1000"]\n');
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT);
    const errors = collectErrors(page);
    try {
      await page.goto(d.url);
      await page.waitForSelector('#detail[data-target="src/local"] #progress');
      const bytesShown = async () => Number((await page.getAttribute('#progress', 'data-bytes')) ?? 'NaN');
      const first = await bytesShown();
      assert.match((await page.textContent(cell('src/local'))) ?? '', /full sync \d+%/);
      assert.match((await page.textContent('#progress')) ?? '', /Full sync (starting|\d+%)/);
      // the next status poll brings larger figures
      await page.waitForFunction(
        (n) => Number(document.querySelector('#progress')?.getAttribute('data-bytes')) > n,
        first,
      );
      assert.match(
        (await page.textContent('#progress')) ?? '',
        /Full sync \d+%: \d+\/\d+\+? files checked, \d+ sent, [\d.]+ (B|KiB|MiB) at [\d.]+ (B|KiB|MiB)\/s/,
      );
      // done: the figures go, the cell is in sync
      await page.waitForSelector(cell('src/local', 'idle'));
      await page.waitForSelector('#progress', { state: 'detached' });

      assert.equal(d.daemon.pause('local')?.paused[0], 'src/local');
      await page.waitForSelector(cell('src/local', 'paused'));
      await page.waitForSelector('#paused');
      assert.match((await page.textContent(cell('src/local'))) ?? '', /paused/);
      await page.click('#detail button[data-action="resume"]:not([disabled])');
      await page.waitForSelector(cell('src/local', 'idle'));
      assert.equal(d.daemon.pausedTargets().length, 0);
      assert.deepEqual(errors, [], 'the page logged errors');
    } finally {
      await page.close();
      await d.dispose();
    }
  });
});
