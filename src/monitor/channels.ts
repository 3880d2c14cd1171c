import type { AlertsConfig, EmailConfig, WebhookConfig } from '../config/index.js';
import {
  alertText,
  alertTitle,
  postJson,
  readCaFile,
  runCommand,
  sendMail,
  serviceRefusal,
  webhookRequest,
} from '../deliver/index.js';
import { readTokenFile } from '../util/token-file.js';
import type { AlertMessage } from './monitor.js';

/** A webhook, alert command or mail server: where alerts go, and how one alert is sent there (once, no retry). */
export interface AlertChannel {
  /** for logs and `alert-test`: "alert webhook https://...", "alert dingtalk webhook https://oapi.dingtalk.com", ... */
  name: string;
  send: (m: AlertMessage) => Promise<void>;
}

/** A webhook, command or mail that takes longer is abandoned. */
export const SEND_TIMEOUT_MS = 10_000;

/** Every destination configured under `alerts`, in config order: webhooks, commands, e-mail. */
export function alertChannels(alerts: AlertsConfig, timeoutMs = SEND_TIMEOUT_MS): AlertChannel[] {
  return [
    ...alerts.webhooks.map((w) => webhookChannel(w, timeoutMs)),
    ...alerts.commands.map((argv) => ({
      name: `alert command ${argv[0]}`,
      send: (m: AlertMessage) => runCommand(argv, m, { timeoutMs }),
    })),
    ...(alerts.email ? [emailChannel(alerts.email, timeoutMs)] : []),
  ];
}

function webhookChannel(w: WebhookConfig, timeoutMs: number): AlertChannel {
  // a chat robot's URL carries its key (access_token, key=, the path): logs name only its host
  const name =
    w.format === 'syncward' ? `alert webhook ${w.url}` : `alert ${w.format} webhook ${new URL(w.url).origin}`;
  return {
    name,
    send: async (m) => {
      // read at each send, so a rotated secret is picked up
      const secret = w.secretFile
        ? readTokenFile(w.secretFile, { key: 'secret_file', ownerOnly: true })
        : undefined;
      const req = webhookRequest(w.format, w.url, m, { secret, now: Date.now() });
      return postJson(req.url, req.body, {
        timeoutMs,
        tokenFile: w.tokenFile,
        refusal: (answer) => serviceRefusal(w.format, answer),
      });
    },
  };
}

function emailChannel(e: EmailConfig, timeoutMs: number): AlertChannel {
  return {
    name: `alert mail to ${e.to.join(', ')} via ${e.host}:${e.port}`,
    send: async (m) =>
      sendMail(
        {
          host: e.host,
          port: e.port,
          tls: e.tls,
          ca: e.caFile ? readCaFile(e.caFile) : undefined,
          username: e.username,
          password: e.passwordFile
            ? readTokenFile(e.passwordFile, { key: 'alerts.email.password_file', ownerOnly: true })
            : undefined,
          timeoutMs,
        },
        // mail has room for the whole message
        { from: e.from, to: e.to, subject: alertTitle(m), text: alertText(m, 4000) },
      ),
  };
}
