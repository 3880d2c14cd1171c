import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HookMessage } from '../../src/hooks/index.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { rsyncdTarget } from '../helpers/targets.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** What a hook got, and for each path whether it was on the target at that moment. */
interface Seen extends HookMessage {
  onTarget: boolean[];
}

const onTargetNow = (dir: string, m: HookMessage) => m.paths.map((p) => existsSync(join(dir, p.path)));

/** A real HTTP server on 127.0.0.1 that records hook POSTs and checks the target when each arrives. */
async function hookReceiver(targetDir: string) {
  const got: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      data += d;
    });
    req.on('end', () => {
      const m = JSON.parse(data) as HookMessage;
      got.push({ ...m, onTarget: onTargetNow(targetDir, m) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/purge`,
    got,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The test's own hook program: records the JSON from stdin and which paths exist on the target right then. */
function hookProgram(dir: string, targetDir: string): { argv: string[]; seen: () => Seen[] } {
  const script = join(dir, 'hook.cjs');
  const out = join(dir, 'hook.jsonl');
  writeFileSync(
    script,
    `const fs = require('node:fs');
const path = require('node:path');
let s = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { s += d; });
process.stdin.on('end', () => {
  const m = JSON.parse(s);
  m.onTarget = m.paths.map((p) => fs.existsSync(path.join(process.argv[3], p.path)));
  fs.appendFileSync(process.argv[2], JSON.stringify(m) + '\\n');
});
`,
  );
  return {
    argv: [process.execPath, script, out, targetDir],
    seen: () =>
      existsSync(out)
        ? readFileSync(out, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as Seen)
        : [],
  };
}

const batchPaths = (ms: Seen[]) => ms.filter((m) => m.kind === 'batch').flatMap((m) => m.paths);

test('hooks get the changed paths after they reached the target: a command on stdin, a URL by POST with include patterns; hostile names intact', async () => {
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-hooks-src-');
  const work = await makeTempDir('syncward-hooks-work-');
  const state = tempStateDir();
  const targetDir = rsyncd.modulePath('m');
  const web = await hookReceiver(targetDir);
  const prog = hookProgram(work, targetDir);
  const target = rsyncdTarget(rsyncd);
  const extra = `    hooks:
      - name: purge-css
        url: ${JSON.stringify(web.url)}
        include: ["*.css", "/assets/"]
        targets: [daemon]
      - name: notify
        command: ${JSON.stringify(prog.argv)}
        timeout_s: 20`;
  const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets: [target], extra }));
  try {
    await converged(src, [target], 30_000, 'initial sync');
    // the startup full sync reached the target: both hooks hear of it
    await waitFor(
      () => web.got.some((m) => m.kind === 'full') && prog.seen().some((m) => m.kind === 'full'),
      30_000,
      'the full sync message at both hooks',
    );
    const full = prog.seen().find((m) => m.kind === 'full') as Seen;
    assert.deepEqual(full.paths, []);
    assert.equal(full.source, 'src');
    assert.equal(full.target, 'daemon');

    const hostile = [
      'new\nline.txt',
      `quo"te's.txt`,
      '$(touch pwned) `id` $HOME.txt',
      '-rf',
      '--delete',
      'sp ace & semi;colon|pipe.txt',
      'ünïcødé.txt',
    ];
    for (const name of hostile) writeFileSync(join(src, name), name);
    writeFileSync(join(src, 'site.css'), 'body{}');
    writeFileSync(join(src, 'index.html'), '<p>');
    mkdirSync(join(src, 'assets'));
    writeFileSync(join(src, 'assets', 'app.js'), '1');
    await converged(src, [target], 30_000, 'the new files reached the target');

    const wanted = [...hostile, 'site.css', 'index.html', 'assets', 'assets/app.js'];
    await waitFor(
      () => {
        const got = new Set(batchPaths(prog.seen()).map((p) => p.path));
        return wanted.every((w) => got.has(w) || (w === 'assets/app.js' && got.has('assets')));
      },
      30_000,
      'every changed path at the command hook',
    );
    const seen = prog.seen();
    const paths = new Set(batchPaths(seen).map((p) => p.path));
    for (const name of hostile) assert.ok(paths.has(name), `the hook got ${JSON.stringify(name)} intact`);
    assert.ok(
      !existsSync(join(src, 'pwned')) && !existsSync(join(work, 'pwned')),
      'no name was run by a shell',
    );
    for (const m of seen.filter((x) => x.kind === 'batch'))
      m.paths.forEach((p, i) =>
        assert.equal(m.onTarget[i], true, `${JSON.stringify(p.path)} was on the target when the hook ran`),
      );

    // the URL hook: only what its include patterns match
    await waitFor(
      () => batchPaths(web.got).some((p) => p.path === 'site.css'),
      30_000,
      'site.css at the URL hook',
    );
    await waitFor(
      () => batchPaths(web.got).some((p) => p.path === 'assets' || p.path.startsWith('assets/')),
      30_000,
      'the assets directory at the URL hook',
    );
    for (const p of batchPaths(web.got))
      assert.ok(
        p.path.endsWith('.css') || p.path === 'assets' || p.path.startsWith('assets/'),
        `the URL hook only gets paths its include patterns match, got ${JSON.stringify(p.path)}`,
      );
    for (const m of web.got.filter((x) => x.kind === 'batch'))
      assert.ok(
        m.onTarget.every((x) => x),
        'every path was on the target when the URL hook got it',
      );

    // a delete is passed with op delete, after it is gone from the target
    unlinkSync(join(src, 'site.css'));
    await waitFor(
      () => batchPaths(web.got).some((p) => p.path === 'site.css' && p.op === 'delete'),
      30_000,
      'the delete of site.css at the URL hook',
    );
    const del = web.got.find((m) => m.paths.some((p) => p.path === 'site.css' && p.op === 'delete')) as Seen;
    assert.equal(del.onTarget[del.paths.findIndex((p) => p.path === 'site.css')], false);
  } finally {
    await d.dispose();
    await web.close();
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    state.dispose();
  }
});

test('a hook that is slower than the transfers gets the waiting batches merged, no path lost', async () => {
  const src = await makeTempDir('syncward-hooks-slow-src-');
  const dst = await makeTempDir('syncward-hooks-slow-dst-');
  const state = tempStateDir();
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const got: HookMessage[] = [];
  // the first call hangs until the test lets it go; everything after it has to wait and merge
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (d: Buffer) => {
      data += d.toString('utf8');
    });
    req.on('end', () => {
      const m = JSON.parse(data) as HookMessage;
      got.push(m);
      if (got.length === 1) void gate.then(() => res.writeHead(200).end());
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const target: TargetUnderTest = { name: 'local', url: dst, dir: dst };
  const extra = `    hooks:
      - name: slow
        url: "http://127.0.0.1:${port}/"
        timeout_s: 60`;
  const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets: [target], extra }));
  try {
    await converged(src, [target], 30_000, 'initial sync');
    await waitFor(() => got.length === 1, 30_000, 'the first hook call (the startup full sync) to hang');
    const names: string[] = [];
    for (let i = 0; i < 40; i++) {
      const name = `f${i}`;
      names.push(name);
      writeFileSync(join(src, name), String(i));
      // separate writes, so several transfers reach the target while the hook hangs
      if (i % 10 === 9) await converged(src, [target], 30_000, `batch ${i}`);
    }
    await converged(src, [target], 30_000, 'all files reached the target');
    await waitFor(() => d.daemon.isIdle(), 30_000, 'the worker to have reported every transfer');
    release();
    await waitFor(
      () => {
        const paths = new Set(got.flatMap((m) => m.paths.map((p) => p.path)));
        return names.every((n) => paths.has(n));
      },
      30_000,
      'every path at the hook after it caught up',
    );
    await d.daemon.flushNotifications();
    // the transfers while it hung came as one merged message
    assert.equal(got.length, 2, `one call hung, then one merged call (got ${got.length})`);
  } finally {
    release();
    await d.dispose();
    await new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
    rmSync(src, { recursive: true, force: true });
    rmSync(dst, { recursive: true, force: true });
    state.dispose();
  }
});
