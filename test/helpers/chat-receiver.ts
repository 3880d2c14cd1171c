import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP server on 127.0.0.1 that plays one chat service's robot
 * webhook: it checks the request the way the service documents it (body
 * shape, and with a secret the signature, recomputed here from the
 * documentation, not from syncward's code) and answers as the service
 * does: HTTP 200 with {errcode|code: 0} when it took the message, HTTP 200
 * with a non-zero code when it refused it (Slack: 400 invalid_payload).
 */

export type ChatService = 'dingtalk' | 'wecom' | 'feishu' | 'slack';

export interface ChatRequest {
  url: URL;
  body: Record<string, unknown>;
  /** what the robot would show: markdown text, content or text */
  shown: string;
  /** null when taken, else the service's refusal */
  refused: string | null;
}

/** Signatures older than this are refused by DingTalk and Feishu. */
const HOUR_MS = 3_600_000;

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});

/** What the service makes of a request: [what it shows, its refusal or null]. */
function judge(
  service: ChatService,
  url: URL,
  body: Record<string, unknown>,
  secret: string | undefined,
): [string, string | null] {
  const now = Date.now();
  switch (service) {
    case 'dingtalk': {
      if (secret !== undefined) {
        // timestamp (ms) and sign in the query; sign = base64(HmacSHA256(key=secret, "ts\nsecret"))
        const ts = url.searchParams.get('timestamp') ?? '';
        const want = createHmac('sha256', secret).update(`${ts}\n${secret}`).digest('base64');
        if (Math.abs(now - Number(ts)) > HOUR_MS) return ['', 'timestamp is not within one hour'];
        if (url.searchParams.get('sign') !== want) return ['', 'sign not match'];
      }
      const md = obj(body.markdown);
      if (body.msgtype === 'markdown' && str(md.title) && str(md.text)) return [md.text as string, null];
      if (body.msgtype === 'text' && str(obj(body.text).content))
        return [obj(body.text).content as string, null];
      return ['', 'missing msgtype or its content'];
    }
    case 'wecom': {
      if (!url.searchParams.get('key')) return ['', 'invalid webhook url'];
      const content = str(obj(body.markdown).content);
      if (body.msgtype !== 'markdown' || !content) return ['', 'invalid msgtype or missing content'];
      if (Buffer.byteLength(content) > 4096) return ['', 'content exceed max length'];
      return [content, null];
    }
    case 'feishu': {
      if (secret !== undefined) {
        // timestamp (s) and sign in the body; sign = base64(HmacSHA256(key="ts\nsecret", ""))
        const ts = str(body.timestamp) ?? '';
        const want = createHmac('sha256', `${ts}\n${secret}`).update('').digest('base64');
        if (Math.abs(now - Number(ts) * 1000) > HOUR_MS || body.sign !== want)
          return ['', 'sign match fail or timestamp is not within one hour from current time'];
      }
      const text = str(obj(body.content).text);
      if (body.msg_type !== 'text' || !text) return ['', 'params error, msg_type or content invalid'];
      return [text, null];
    }
    case 'slack': {
      // with blocks, the channel shows the blocks and `text` is the notification's fallback
      const text = str(body.text);
      if (!text) return ['', 'invalid_payload'];
      if (body.blocks === undefined) return [text, null];
      const blocks = Array.isArray(body.blocks) ? body.blocks.map(obj) : [];
      const shown = blocks.map((b) => (b.type === 'section' ? str(obj(b.text).text) : undefined));
      if (blocks.length === 0 || shown.some((t) => t === undefined)) return ['', 'invalid_blocks'];
      return [shown.join('\n'), null];
    }
  }
}

/** Service error codes, as the services answer them (DingTalk 310000 is its signature error). */
const refusalCode: Record<Exclude<ChatService, 'slack'>, number> = {
  dingtalk: 310000,
  wecom: 93000,
  feishu: 19021,
};

export async function chatReceiver(service: ChatService, o: { secret?: string; refuseFirst?: number } = {}) {
  const got: ChatRequest[] = [];
  let toRefuse = o.refuseFirst ?? 0;
  const server: Server = createServer((req, res) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      data += d;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      let body: Record<string, unknown> = {};
      let verdict: [string, string | null];
      try {
        body = obj(JSON.parse(data));
        verdict = judge(service, url, body, o.secret);
      } catch {
        verdict = ['', 'body is not JSON'];
      }
      if (verdict[1] === null && toRefuse > 0) {
        toRefuse--;
        verdict = [verdict[0], 'too many requests, slow down'];
      }
      got.push({ url, body, shown: verdict[0], refused: verdict[1] });
      const refused = verdict[1];
      if (service === 'slack') {
        res.writeHead(refused === null ? 200 : 400, { 'content-type': 'text/plain' }).end(refused ?? 'ok');
        return;
      }
      const code = refused === null ? 0 : refusalCode[service];
      const answer =
        service === 'feishu'
          ? { code, msg: refused ?? 'success', data: {} }
          : { errcode: code, errmsg: refused ?? 'ok' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const path = {
    dingtalk: '/robot/send?access_token=test-token',
    wecom: '/cgi-bin/webhook/send?key=test-key',
    feishu: '/open-apis/bot/v2/hook/test-hook',
    slack: '/services/T000/B000/XXXX',
  }[service];
  return {
    url: `${base}${path}`,
    got,
    /** what the robot showed in the chat */
    shown: () => got.filter((g) => g.refused === null).map((g) => g.shown),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export type ChatReceiver = Awaited<ReturnType<typeof chatReceiver>>;
