import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Daemon } from '../../src/daemon/index.js';
import type { AlertMessage } from '../../src/monitor/index.js';
import { waitFor } from './tree.js';

export interface Received {
  body: AlertMessage;
  status: number;
  auth: string | undefined;
}

/** A real HTTP server on 127.0.0.1 that records alert POSTs; `answer` picks each response status. */
export async function alertReceiver(answer: (n: number) => number = () => 200) {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      data += d;
    });
    req.on('end', () => {
      const status = answer(got.length);
      got.push({ body: JSON.parse(data) as AlertMessage, status, auth: req.headers.authorization });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'try later');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    got,
    /** what was accepted (2xx) */
    accepted: () => got.filter((g) => g.status === 200).map((g) => g.body),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export type AlertReceiver = Awaited<ReturnType<typeof alertReceiver>>;

/** `alerts:` YAML that sends every incident to these webhook URLs. */
export function webhooksYaml(urls: string[], more: string[] = []): string {
  return `alerts:\n${more.map((l) => `  ${l}\n`).join('')}  webhooks:\n${urls.map((u) => `    - url: ${JSON.stringify(u)}\n`).join('')}`;
}

/** Waits until the receiver accepted a `event` message for incident `id`; returns it. */
export async function received(
  hook: AlertReceiver,
  id: string,
  event: 'firing' | 'resolved',
  timeoutMs = 30_000,
): Promise<AlertMessage> {
  let found: AlertMessage | undefined;
  await waitFor(
    () => {
      found = hook.accepted().find((m) => m.incident.id === id && m.event === event);
      return found !== undefined;
    },
    timeoutMs,
    `the webhook to receive ${event} ${id}; it got: ${JSON.stringify(hook.accepted().map((m) => `${m.event} ${m.incident.id}`))}`,
  );
  return found as AlertMessage;
}

/**
 * Counts the monitor's evaluations of the alert rules from now on: a
 * positive signal that the daemon looked at its state again (say, with a
 * target still down) before a test asserts that nothing fired.
 */
export function countEvaluations(daemon: Daemon): () => number {
  const internal = daemon as unknown as { monitor: { evaluateNow(now?: number): unknown } | null };
  const monitor = internal.monitor;
  assert.ok(monitor, 'the daemon has a monitor');
  const original = monitor.evaluateNow.bind(monitor);
  let n = 0;
  monitor.evaluateNow = (now?: number) => {
    n++;
    return original(now);
  };
  return () => n;
}
