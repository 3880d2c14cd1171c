import { hostname } from 'node:os';
import type { Config } from '../config/index.js';
import { type AlertMessage, alertChannels } from '../monitor/index.js';
import { VERSION } from '../util/version.js';
import { EXIT } from './exit.js';

export interface ChannelResult {
  channel: string;
  ok: boolean;
  error?: string;
}

/** The test alert: a warning firing now, on syncward itself, that says what it is. */
export function testAlert(now: number, host = hostname()): AlertMessage {
  const message = `a test alert sent by \`syncward alert-test\` on ${host}: if you read this, syncward's alerts reach you here`;
  return {
    event: 'firing',
    text: `[warning] test: ${message}`,
    incident: {
      id: 'test:*',
      kind: 'test',
      severity: 'warning',
      source: '*',
      message,
      firedAt: now,
      resolvedAt: null,
    },
    host,
    syncward: VERSION,
  };
}

/**
 * `syncward alert-test -c FILE`: sends one test alert through every
 * configured webhook, alert command and mail server, once each and all at
 * once (no daemon needed, no retries: a failure shows now), and reports
 * each. Exit 0 when all took it, 1 when any failed, 2 when none is configured.
 */
export async function runAlertTest(
  config: Config,
  o: { json?: boolean },
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const channels = alertChannels(config.alerts);
  if (channels.length === 0) {
    const why = `${config.file ?? 'the config'} has no alert channel: add alerts.webhooks, alerts.commands or alerts.email (docs/alerts.md)`;
    if (o.json) out.write(`${JSON.stringify({ channels: [], error: why }, null, 2)}\n`);
    else out.write(`${why}\n`);
    return EXIT.usage;
  }
  const alert = testAlert(Date.now());
  const results: ChannelResult[] = await Promise.all(
    channels.map((c) =>
      c.send(alert).then(
        () => ({ channel: c.name, ok: true }),
        (e: Error) => ({ channel: c.name, ok: false, error: e.message }),
      ),
    ),
  );
  const failed = results.filter((r) => !r.ok).length;
  if (o.json) out.write(`${JSON.stringify({ channels: results }, null, 2)}\n`);
  else {
    for (const r of results)
      out.write(r.ok ? `ok      ${r.channel}\n` : `FAILED  ${r.channel}: ${r.error}\n`);
    out.write(
      failed === 0
        ? `the test alert went through all ${results.length} channel(s)\n`
        : `${failed} of ${results.length} channel(s) failed: fix them, then run syncward alert-test again\n`,
    );
  }
  return failed === 0 ? EXIT.ok : EXIT.failure;
}
