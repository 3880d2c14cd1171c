import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AlertNote,
  alertText,
  alertTitle,
  dingtalkSign,
  dotStuff,
  encodeHeader,
  feishuSign,
  formatMail,
  serviceRefusal,
  webhookRequest,
} from '../../src/deliver/index.js';
import { downAlert } from '../helpers/alert-sample.js';

// Vectors computed apart from syncward, with Python's hmac and base64 as each
// service documents its algorithm:
//   DingTalk: base64(hmac_sha256(key=secret, msg=f"{timestamp_ms}\n{secret}")), URL-encoded in the query
//   Feishu:   base64(hmac_sha256(key=f"{timestamp_s}\n{secret}", msg=b""))
const DING = {
  ts: 1577262236757,
  secret: 'SECtest0123456789abcdef',
  sign: 'CqIxZut2D4/s1+j8CjuQx5sJNUrOjR7ytpQtuvjxEKo=',
  query: 'CqIxZut2D4%2Fs1%2Bj8CjuQx5sJNUrOjR7ytpQtuvjxEKo%3D',
};
const FEISHU = {
  ts: 1599360473,
  secret: 'demo-secret',
  sign: '3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s=',
};

const firing: AlertNote = downAlert(Date.UTC(2025, 10, 25, 10, 0, 0), 'connection refused; '.repeat(40));
const resolved: AlertNote = {
  ...firing,
  event: 'resolved',
  text: 'resolved down on 网站/主站 after 95 s',
  incident: { ...firing.incident, resolvedAt: firing.incident.firedAt + 95_000 },
};

test('the DingTalk signature matches the documented algorithm and goes URL-encoded in the query', () => {
  assert.equal(dingtalkSign(DING.ts, DING.secret), DING.sign);
  const req = webhookRequest('dingtalk', 'https://oapi.dingtalk.com/robot/send?access_token=abc', firing, {
    secret: DING.secret,
    now: DING.ts,
  });
  assert.equal(
    req.url,
    `https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=${DING.ts}&sign=${DING.query}`,
  );
  const body = req.body as { msgtype: string; markdown: { title: string; text: string } };
  assert.equal(body.msgtype, 'markdown');
  assert.equal(body.markdown.title, 'syncward FIRING critical: down on 网站/主站 (mirror-1)');
  assert.match(body.markdown.text, /^\*\*syncward FIRING critical: down on 网站\/主站 \(mirror-1\)\*\*\n/);
  assert.match(body.markdown.text, /\n- fired: 2025-11-25T10:00:00.000Z\n- message: target 网站/);
  // unsigned without a secret: the URL stays as given
  assert.equal(
    webhookRequest('dingtalk', 'https://oapi.dingtalk.com/robot/send?access_token=abc', firing, {
      now: DING.ts,
    }).url,
    'https://oapi.dingtalk.com/robot/send?access_token=abc',
  );
});

test('the Feishu signature matches the documented algorithm and goes in the body with the timestamp in seconds', () => {
  assert.equal(feishuSign(FEISHU.ts, FEISHU.secret), FEISHU.sign);
  const req = webhookRequest('feishu', 'https://open.feishu.cn/open-apis/bot/v2/hook/x', resolved, {
    secret: FEISHU.secret,
    now: FEISHU.ts * 1000 + 999,
  });
  assert.equal(req.url, 'https://open.feishu.cn/open-apis/bot/v2/hook/x');
  assert.deepEqual(Object.keys(req.body as object), ['timestamp', 'sign', 'msg_type', 'content']);
  const body = req.body as { timestamp: string; sign: string; msg_type: string; content: { text: string } };
  assert.equal(body.timestamp, String(FEISHU.ts));
  assert.equal(body.sign, FEISHU.sign);
  assert.equal(body.msg_type, 'text');
  assert.equal(body.content.text, alertText(resolved));
});

test('WeCom and Slack bodies are the documented shapes; syncward format is the message itself', () => {
  const wecom = webhookRequest('wecom', 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', firing, {
    now: 0,
  }).body as { msgtype: string; markdown: { content: string } };
  assert.equal(wecom.msgtype, 'markdown');
  assert.match(
    wecom.markdown.content,
    /^\*\*<font color="warning">syncward FIRING critical: down on 网站\/主站/,
  );
  assert.ok(Buffer.byteLength(wecom.markdown.content) <= 4096, 'WeCom takes at most 4096 bytes of markdown');

  const slack = webhookRequest('slack', 'https://hooks.slack.com/services/T/B/X', resolved, { now: 0 })
    .body as { text: string; blocks: { type: string; text: { type: string; text: string } }[] };
  assert.equal(slack.text, 'syncward RESOLVED: down on 网站/主站 (mirror-1)');
  assert.equal(slack.blocks[0]?.type, 'section');
  assert.equal(slack.blocks[0]?.text.type, 'mrkdwn');
  assert.match(slack.blocks[0]?.text.text ?? '', /• summary: resolved down on 网站\/主站 after 95 s/);

  assert.equal(webhookRequest('syncward', 'http://x/', firing, { now: 0 }).body, firing);
});

test('the alert text names state, kind, severity, place and host in its title, and is short enough for a phone', () => {
  const text = alertText(firing);
  const [title, blank, fired] = text.split('\n');
  assert.equal(title, 'syncward FIRING critical: down on 网站/主站 (mirror-1)');
  assert.equal(blank, '');
  assert.equal(fired, 'fired: 2025-11-25T10:00:00.000Z');
  const message = text.split('\n').find((l) => l.startsWith('message: ')) ?? '';
  assert.equal([...message.slice('message: '.length)].length, 280, 'a long message is cut');
  assert.ok(message.endsWith('…'));
  assert.ok(text.length < 400, `${text.length} characters`);
  assert.equal(alertTitle(resolved), 'syncward RESOLVED: down on 网站/主站 (mirror-1)');
  assert.match(alertText(resolved), /\nresolved: 2025-11-25T10:01:35.000Z\n/);
  const daemonWide: AlertNote = {
    ...firing,
    incident: { ...firing.incident, source: '*', target: undefined },
  };
  assert.match(alertTitle(daemonWide), / on syncward \(mirror-1\)$/);
});

test("a chat service's 200 answer with an error code is a refusal with the service's message", () => {
  assert.equal(serviceRefusal('dingtalk', '{"errcode":0,"errmsg":"ok"}'), null);
  assert.equal(
    serviceRefusal('dingtalk', '{"errcode":310000,"errmsg":"sign not match"}'),
    'dingtalk refused the message: errcode 310000: sign not match',
  );
  assert.equal(serviceRefusal('wecom', '{"errcode":0,"errmsg":"ok"}'), null);
  assert.match(
    serviceRefusal('wecom', '{"errcode":93000,"errmsg":"invalid webhook url"}') ?? '',
    /93000: invalid/,
  );
  assert.equal(serviceRefusal('feishu', '{"code":0,"msg":"success","data":{}}'), null);
  assert.equal(serviceRefusal('feishu', '{"StatusCode":0,"StatusMessage":"success"}'), null);
  assert.equal(
    serviceRefusal('feishu', '{"code":19021,"msg":"sign match fail"}'),
    'feishu refused the message: code 19021: sign match fail',
  );
  assert.match(serviceRefusal('wecom', '<html>proxy error</html>') ?? '', /not its JSON: <html>/);
  assert.match(serviceRefusal('dingtalk', '{"ok":true}') ?? '', /without errcode/);
  assert.equal(serviceRefusal('slack', 'ok'), null);
  assert.equal(serviceRefusal('syncward', ''), null);
});

test('a non-ASCII subject becomes RFC 2047 encoded words that decode back to it', () => {
  assert.equal(encodeHeader('plain subject'), 'plain subject');
  const subject = `syncward FIRING critical: down on 网站/主站 ${'镜像'.repeat(30)}`;
  const encoded = encodeHeader(subject);
  const lines = encoded.split('\r\n');
  assert.ok(lines.length > 1, 'folded over several lines');
  for (const l of lines) assert.ok(l.length <= 76, `line of ${l.length}`);
  const decoded = lines
    .map((l) => {
      const m = /^ ?=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=$/.exec(l);
      assert.ok(m, `an encoded word: ${l}`);
      return Buffer.from(m[1] as string, 'base64').toString('utf8');
    })
    .join('');
  assert.equal(decoded, subject, 'no character split between words');
});

test('a mail has the headers mail readers need and a UTF-8 base64 body; DATA is dot-stuffed', () => {
  const text = '.starts with a dot\n中文 survives\n';
  const mail = formatMail(
    { from: 'syncward@example.com', to: ['a@example.com', 'b@example.com'], subject: '主站 down', text },
    { at: new Date(Date.UTC(2025, 10, 25, 10, 0, 0)), messageId: '<x@mirror-1>' },
  );
  const [head, body] = mail.split('\r\n\r\n') as [string, string];
  assert.deepEqual(head.split('\r\n'), [
    'From: syncward@example.com',
    'To: a@example.com, b@example.com',
    `Subject: =?UTF-8?B?${Buffer.from('主站 down').toString('base64')}?=`,
    'Date: Tue, 25 Nov 2025 10:00:00 +0000',
    'Message-ID: <x@mirror-1>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
  ]);
  assert.equal(Buffer.from(body, 'base64').toString('utf8'), text.replace(/\n/g, '\r\n'));
  assert.equal(dotStuff('a\r\n.b\r\n..c'), 'a\r\n..b\r\n...c\r\n.\r\n');
});
