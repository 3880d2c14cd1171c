import { createHmac } from 'node:crypto';
import type { Incident } from '../alerts/index.js';

/**
 * Alert bodies for the chat services operators page through, and the
 * texts of alert mail. Pure: the time and the secret are passed in, so
 * each body and signature is unit-tested against the service's documented
 * algorithm. The senders (postJson, sendMail) carry them.
 */

/** The webhook bodies syncward can send: its own JSON, or a chat service's. */
export const WEBHOOK_FORMATS = ['syncward', 'slack', 'dingtalk', 'wecom', 'feishu'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** Services whose robots can require a signature made with a secret (the others carry their key in the URL). */
export const SIGNED_FORMATS: readonly WebhookFormat[] = ['dingtalk', 'feishu'];

/** What a formatter needs of an alert (the monitor's AlertMessage has it). */
export interface AlertNote {
  event: 'firing' | 'resolved';
  /** one line: the firing summary, or "resolved <kind> on <where> after N s" */
  text: string;
  incident: Incident;
  host: string;
}

/** A chat line longer than this is cut: a page is read on a phone. */
const SUMMARY_CHARS = 280;

/** Where an incident is: source/target, the source, or syncward itself. */
function placeOf(inc: Incident): string {
  if (inc.target !== undefined) return `${inc.source}/${inc.target}`;
  return inc.source === '*' ? 'syncward' : inc.source;
}

function cut(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

/** One line naming the alert: a chat notification's preview, a mail subject. */
export function alertTitle(m: AlertNote): string {
  const inc = m.incident;
  const state = m.event === 'firing' ? `FIRING ${inc.severity}` : 'RESOLVED';
  return `syncward ${state}: ${inc.kind} on ${placeOf(inc)} (${m.host})`;
}

/**
 * The facts under the title (which names state, severity, kind, place and
 * host) as label/value pairs: the times, then what happened.
 */
export function alertFacts(m: AlertNote, max = SUMMARY_CHARS): [string, string][] {
  const inc = m.incident;
  const facts: [string, string][] = [['fired', new Date(inc.firedAt).toISOString()]];
  if (inc.resolvedAt !== null) facts.push(['resolved', new Date(inc.resolvedAt).toISOString()]);
  if (m.event === 'resolved') facts.push(['summary', cut(m.text, max)]);
  facts.push(['message', cut(inc.message, max)]);
  return facts;
}

/** The alert as plain text lines: a chat text message, a mail body. */
export function alertText(m: AlertNote, max = SUMMARY_CHARS): string {
  return [alertTitle(m), '', ...alertFacts(m, max).map(([k, v]) => `${k}: ${v}`)].join('\n');
}

function alertMarkdown(m: AlertNote): string {
  return [`**${alertTitle(m)}**`, '', ...alertFacts(m).map(([k, v]) => `- ${k}: ${v}`)].join('\n');
}

/**
 * DingTalk robot signature: HMAC-SHA256 keyed with the secret over
 * "<timestamp ms>\n<secret>", base64; it travels URL-encoded as `sign`
 * beside `timestamp` in the query (URLSearchParams encodes it).
 */
export function dingtalkSign(timestampMs: number, secret: string): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64');
}

/**
 * Feishu/Lark custom bot signature: HMAC-SHA256 keyed with
 * "<timestamp s>\n<secret>" over an empty message, base64; it travels in
 * the body as `sign` beside `timestamp` (seconds, as a string).
 */
export function feishuSign(timestampS: number, secret: string): string {
  return createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64');
}

export interface WebhookRequest {
  url: string;
  body: unknown;
}

/**
 * The URL and JSON body of one alert for a webhook of `format`. `secret`
 * signs it (DingTalk, Feishu); `now` is the signature's time.
 */
export function webhookRequest(
  format: WebhookFormat,
  url: string,
  m: AlertNote,
  o: { secret?: string; now: number },
): WebhookRequest {
  switch (format) {
    case 'syncward':
      return { url, body: m };
    case 'slack':
      // `text` is the notification's fallback; the block is what the channel shows
      return {
        url,
        body: {
          text: alertTitle(m),
          blocks: [
            {
              type: 'section',
              text: {
                type: 'mrkdwn',
                text: [`*${alertTitle(m)}*`, ...alertFacts(m).map(([k, v]) => `• ${k}: ${v}`)].join('\n'),
              },
            },
          ],
        },
      };
    case 'dingtalk': {
      let signed = url;
      if (o.secret !== undefined) {
        const u = new URL(url);
        u.searchParams.set('timestamp', String(o.now));
        u.searchParams.set('sign', dingtalkSign(o.now, o.secret));
        signed = u.toString();
      }
      return {
        url: signed,
        body: { msgtype: 'markdown', markdown: { title: alertTitle(m), text: alertMarkdown(m) } },
      };
    }
    case 'wecom':
      // the group robot's markdown knows <font color="warning|info|comment">
      return {
        url,
        body: {
          msgtype: 'markdown',
          markdown: {
            content: [
              `**<font color="${m.event === 'firing' ? 'warning' : 'info'}">${alertTitle(m)}</font>**`,
              ...alertFacts(m).map(([k, v]) => `> ${k}: ${v}`),
            ].join('\n'),
          },
        },
      };
    case 'feishu': {
      const body: Record<string, unknown> = { msg_type: 'text', content: { text: alertText(m) } };
      if (o.secret === undefined) return { url, body };
      const ts = Math.floor(o.now / 1000);
      return { url, body: { timestamp: String(ts), sign: feishuSign(ts, o.secret), ...body } };
    }
  }
}

/**
 * The service's refusal in an HTTP 200 answer, or null when it took the
 * message: DingTalk and WeCom answer {errcode, errmsg}, Feishu {code, msg}
 * (older bots {StatusCode, StatusMessage}); an answer that is not their
 * JSON is a refusal too (a proxy's page, a wrong URL).
 */
export function serviceRefusal(format: WebhookFormat, answer: string): string | null {
  if (format === 'syncward' || format === 'slack') return null;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(answer) as Record<string, unknown>;
  } catch {
    return `${format} answered something that is not its JSON: ${cut(answer.trim(), 200) || '(empty)'}`;
  }
  const [codeKey, msgKey] =
    format === 'feishu'
      ? 'code' in json
        ? ['code', 'msg']
        : ['StatusCode', 'StatusMessage']
      : ['errcode', 'errmsg'];
  const code = json[codeKey];
  if (code === 0) return null;
  if (code === undefined) return `${format} answered without ${codeKey}: ${cut(answer.trim(), 200)}`;
  return `${format} refused the message: ${codeKey} ${String(code)}: ${String(json[msgKey] ?? '')}`;
}
