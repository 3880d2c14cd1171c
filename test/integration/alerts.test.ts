import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Incident } from '../../src/daemon/index.js';
import { postJson, runCommand } from '../../src/deliver/index.js';
import type { AlertMessage } from '../../src/monitor/index.js';
import { alertReceiver, countEvaluations } from '../helpers/alerts.js';
import { configYaml, converged, startDaemon, tempStateDir } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { rsyncdTarget } from '../helpers/targets.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** A program of the test's own: appends the JSON it reads on stdin to a file, one line per run. */
function stdinRecorder(dir: string): { argv: string[]; lines: () => AlertMessage[] } {
  const script = join(dir, 'record-alert.cjs');
  const out = join(dir, 'alerts.jsonl');
  writeFileSync(
    script,
    `const fs = require('node:fs');
let s = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { s += d; });
process.stdin.on('end', () => { fs.appendFileSync(process.argv[2], JSON.stringify(JSON.parse(s)) + '\\n'); });
`,
  );
  return {
    argv: [process.execPath, script, out],
    lines: () =>
      existsSync(out)
        ? readFileSync(out, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as AlertMessage)
        : [],
  };
}

const downOf = (ms: AlertMessage[], target: string) =>
  ms.filter((m) => m.incident.kind === 'down' && m.incident.target === target);

test('a target down longer than down_after_s fires one webhook and command alert, and one resolve when it is back; a failing webhook is retried', async () => {
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-alerts-src-');
  const work = await makeTempDir('syncward-alerts-work-');
  const state = tempStateDir();
  const good = await alertReceiver();
  // the first request fails with 500, every later one succeeds
  const flaky = await alertReceiver((n) => (n === 0 ? 500 : 200));
  const cmd = stdinRecorder(work);
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, 's3cret-token\n', { mode: 0o600 });
  const target = rsyncdTarget(rsyncd);
  const yaml = `${configYaml({ stateDir: state.dir, source: src, targets: [target] })}alerts:
  down_after_s: 1
  webhooks:
    - url: ${JSON.stringify(good.url)}
      token_file: ${JSON.stringify(tokenFile)}
    - url: ${JSON.stringify(flaky.url)}
  commands:
    - ${JSON.stringify(cmd.argv)}
`;
  const d = await startDaemon(yaml);
  const events: Incident[] = [];
  d.daemon.on('incident', (i: Incident) => events.push(i));
  try {
    writeFileSync(join(src, 'before'), 'x');
    await converged(src, [target], 30_000, 'initial sync');

    await rsyncd.stop();
    writeFileSync(join(src, 'during-outage'), 'y');
    await waitFor(
      () => downOf(good.accepted(), 'daemon').length > 0,
      30_000,
      'the down alert at the webhook',
    );
    const firing = downOf(good.accepted(), 'daemon')[0] as AlertMessage;
    assert.equal(firing.event, 'firing');
    assert.equal(firing.incident.id, 'down:src/daemon');
    assert.equal(firing.incident.severity, 'critical');
    assert.equal(firing.incident.resolvedAt, null);
    assert.match(firing.incident.message, /target src\/daemon has been down for \d+ s/);
    assert.ok(firing.host.length > 0, 'the payload names the host');
    assert.match(firing.syncward, /^\d+\.\d+\.\d+/);
    assert.equal(good.got[0]?.auth, 'Bearer s3cret-token', 'the token file is sent as a Bearer token');
    assert.deepEqual(
      d.daemon.incidents().map((i) => i.id),
      ['down:src/daemon'],
      'the daemon lists the open incident',
    );
    // stay down for a few more evaluations: a firing incident must not fire again
    const evaluations = countEvaluations(d.daemon);
    await waitFor(() => evaluations() >= 3, 30_000, 'three more evaluations with the target down');

    await rsyncd.restart();
    await waitFor(
      () =>
        downOf(good.accepted(), 'daemon').some((m) => m.event === 'resolved') &&
        downOf(flaky.accepted(), 'daemon').some((m) => m.event === 'resolved') &&
        downOf(cmd.lines(), 'daemon').some((m) => m.event === 'resolved'),
      60_000,
      'the resolve message at both webhooks and the command',
    );
    await converged(src, [target], 30_000, 'the target caught up');
    await d.daemon.flushNotifications();

    for (const [name, ms] of [
      ['webhook', good.accepted()],
      ['flaky webhook', flaky.accepted()],
      ['command', cmd.lines()],
    ] as const) {
      const down = downOf(ms, 'daemon');
      assert.deepEqual(
        down.map((m) => m.event),
        ['firing', 'resolved'],
        `${name}: one firing, then one resolve, for the down incident`,
      );
      const [f, r] = down as [AlertMessage, AlertMessage];
      assert.equal(r.incident.id, f.incident.id);
      assert.equal(r.incident.firedAt, f.incident.firedAt);
      assert.ok(r.incident.resolvedAt !== null && r.incident.resolvedAt >= f.incident.firedAt);
      assert.match(r.text, /resolved down on src\/daemon after \d+ s/);
      const ids = ms.filter((m) => m.event === 'firing').map((m) => m.incident.id);
      assert.equal(new Set(ids).size, ids.length, `${name}: no incident fired twice (${ids.join(', ')})`);
    }
    // the flaky receiver refused the first message and got it again
    assert.equal(flaky.got[0]?.status, 500);
    assert.deepEqual(flaky.got[1]?.body, flaky.got[0]?.body, 'the refused message was sent again as it was');
    assert.deepEqual(d.daemon.incidents(), [], 'nothing is open any more');
    const downEvents = events.filter((e) => e.kind === 'down');
    assert.deepEqual(
      downEvents.map((e) => e.resolvedAt === null),
      [true, false],
      "the daemon emitted 'incident' at fire and at resolve",
    );
  } finally {
    await d.dispose();
    await good.close();
    await flaky.close();
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    state.dispose();
  }
});

test('an incident firing when syncward stops does not fire again after the restart, and resolves once', async () => {
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-alerts-restart-src-');
  const state = tempStateDir();
  const hook = await alertReceiver();
  const target = rsyncdTarget(rsyncd);
  const yaml = `${configYaml({ stateDir: state.dir, source: src, targets: [target] })}alerts:
  down_after_s: 1
  webhooks:
    - url: ${JSON.stringify(hook.url)}
`;
  let d = await startDaemon(yaml);
  try {
    await converged(src, [target], 30_000, 'initial sync');
    await rsyncd.stop();
    writeFileSync(join(src, 'during-outage'), 'y');
    await waitFor(() => downOf(hook.accepted(), 'daemon').length === 1, 30_000, 'the down alert');
    await d.daemon.flushNotifications();
    await d.dispose();

    // the same state dir, the target still down
    d = await startDaemon(yaml);
    await waitFor(
      () => d.daemon.incidents().some((i) => i.id === 'down:src/daemon'),
      10_000,
      'the restarted daemon to list the open incident',
    );
    await waitFor(
      () => d.daemon.status()[0]?.targets[0]?.state === 'down',
      30_000,
      'the target to be down again after the restart',
    );
    // down_after_s passes and the monitor evaluates the down target again
    const evaluations = countEvaluations(d.daemon);
    const downSince = d.daemon.status()[0]?.targets[0]?.stateSince ?? Date.now();
    await waitFor(
      () => evaluations() >= 2 && Date.now() - downSince > 2000,
      30_000,
      'two evaluations with the target down past down_after_s',
    );
    const before = evaluations();
    await waitFor(() => evaluations() > before, 30_000, 'one more evaluation');
    assert.deepEqual(
      downOf(hook.accepted(), 'daemon').map((m) => m.event),
      ['firing'],
      'no second firing after the restart',
    );

    await rsyncd.restart();
    await waitFor(
      () => downOf(hook.accepted(), 'daemon').some((m) => m.event === 'resolved'),
      90_000,
      'the resolve after the restart',
    );
    await d.daemon.flushNotifications();
    const down = downOf(hook.accepted(), 'daemon');
    assert.deepEqual(
      down.map((m) => m.event),
      ['firing', 'resolved'],
    );
    assert.equal(down[1]?.incident.firedAt, down[0]?.incident.firedAt, 'the same incident resolved');
  } finally {
    await d.dispose();
    await hook.close();
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    state.dispose();
  }
});

test('delivery edges: a hanging command is killed, an exit code and stderr are reported, a silent webhook times out', async () => {
  const node = process.execPath;
  await assert.rejects(
    runCommand([node, '-e', 'setTimeout(() => {}, 60_000)'], { x: 1 }, { timeoutMs: 300 }),
    /killed after 0.3 s/,
  );
  await assert.rejects(
    runCommand(
      [node, '-e', 'process.stderr.write("no route to pager\\n"); process.exit(3)'],
      {},
      { timeoutMs: 10_000 },
    ),
    /exit 3; stderr: no route to pager/,
  );
  await assert.rejects(runCommand(['/nonexistent/alert-program'], {}, { timeoutMs: 1000 }), /cannot run/);
  // a program that never reads its stdin is fine when it exits 0
  await runCommand([node, '-e', 'process.exit(0)'], { big: 'x'.repeat(1 << 20) }, { timeoutMs: 10_000 });

  const server: Server = createServer(() => {
    // never answers
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    await assert.rejects(
      postJson(`http://127.0.0.1:${port}/`, {}, { timeoutMs: 300 }),
      /no answer within 0.3 s/,
    );
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
  const closed = await freePort();
  await assert.rejects(postJson(`http://127.0.0.1:${closed}/`, {}, { timeoutMs: 5000 }), /ECONNREFUSED/);
});
