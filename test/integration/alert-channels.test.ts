import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AlertsConfig, EmailConfig, WebhookConfig } from '../../src/config/index.js';
import { Sink } from '../../src/deliver/index.js';
import { type AlertChannel, type AlertMessage, alertChannels } from '../../src/monitor/index.js';
import { silentLogger } from '../../src/util/log.js';
import { downAlert } from '../helpers/alert-sample.js';
import { type ChatService, chatReceiver } from '../helpers/chat-receiver.js';
import { selfSignedCert, startSmtpd } from '../helpers/smtpd.js';
import { makeTempDir } from '../helpers/tree.js';

const message = downAlert(Date.now());

const rules = {
  downAfterS: 60,
  misconfiguredAfterS: 0,
  lagAboveS: 300,
  watchUsageAbove: 0.9,
  unwatchedAfterS: 30,
};

function channelOf(o: { webhooks?: WebhookConfig[]; email?: EmailConfig }): AlertChannel {
  const alerts: AlertsConfig = { ...rules, webhooks: o.webhooks ?? [], commands: [], email: o.email };
  const [c] = alertChannels(alerts, 5000);
  assert.ok(c);
  return c;
}

test('each chat format reaches a receiver that checks the body and the signature as its service documents them', async () => {
  const dir = await makeTempDir('syncward-chat-');
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, 'SEC0123456789abcdef\n', { mode: 0o600 });
  const cases: [ChatService, boolean][] = [
    ['dingtalk', true],
    ['dingtalk', false],
    ['wecom', false],
    ['feishu', true],
    ['feishu', false],
    ['slack', false],
  ];
  try {
    for (const [service, signed] of cases) {
      const rx = await chatReceiver(service, { secret: signed ? 'SEC0123456789abcdef' : undefined });
      try {
        const channel = channelOf({
          webhooks: [{ url: rx.url, format: service, secretFile: signed ? secretFile : undefined }],
        });
        assert.ok(
          !channel.name.includes('test-'),
          `the channel's name hides the robot's key: ${channel.name}`,
        );
        await channel.send(message);
        assert.equal(rx.got.length, 1);
        assert.equal(rx.got[0]?.refused, null, `${service}${signed ? ' signed' : ''}: ${rx.got[0]?.refused}`);
        const shown = rx.shown()[0] ?? '';
        assert.match(
          shown,
          /syncward FIRING critical: down on 网站\/主站 \(mirror-1\)/,
          `${service}: ${shown}`,
        );
        assert.match(shown, /connection refused/, `${service} shows the message`);
      } finally {
        await rx.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a chat service's errcode answer is a failed delivery with its message, retried like any failure", async () => {
  const dir = await makeTempDir('syncward-chat-refused-');
  const wrongSecret = join(dir, 'wrong');
  writeFileSync(wrongSecret, 'not-the-secret\n', { mode: 0o600 });
  const ding = await chatReceiver('dingtalk', { secret: 'the-secret' });
  const feishu = await chatReceiver('feishu', { secret: 'the-secret' });
  const wecom = await chatReceiver('wecom', { refuseFirst: 1 });
  try {
    await assert.rejects(
      channelOf({ webhooks: [{ url: ding.url, format: 'dingtalk', secretFile: wrongSecret }] }).send(message),
      /dingtalk refused the message: errcode 310000: sign not match/,
    );
    await assert.rejects(
      channelOf({ webhooks: [{ url: feishu.url, format: 'feishu' }] }).send(message),
      /feishu refused the message: code 19021: sign match fail/,
      'a Feishu bot with signing on refuses an unsigned message',
    );
    await assert.rejects(
      channelOf({ webhooks: [{ url: ding.url, format: 'dingtalk', secretFile: join(dir, 'missing') }] }).send(
        message,
      ),
      /secret_file .*missing does not exist/,
    );
    // the first answer is errcode 93000, the retry is taken
    const channel = channelOf({ webhooks: [{ url: wecom.url, format: 'wecom' }] });
    const sink = new Sink<AlertMessage>({
      name: channel.name,
      log: silentLogger(),
      retry: { tries: 3, baseMs: 1, maxMs: 2 },
      send: channel.send,
    });
    sink.push(message);
    await sink.idle();
    assert.deepEqual(
      wecom.got.map((g) => g.refused),
      ['too many requests, slow down', null],
    );
    assert.deepEqual(sink.counts, { delivered: 1, givenUp: 0, dropped: 0 });
  } finally {
    await Promise.all([ding.close(), feishu.close(), wecom.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('alert mail reaches a real SMTP receiver with its headers, a UTF-8 subject and body, after AUTH', async () => {
  const dir = await makeTempDir('syncward-smtp-');
  const passFile = join(dir, 'smtp.pass');
  writeFileSync(passFile, 'pa55 word\n', { mode: 0o600 });
  const smtpd = await startSmtpd({
    auth: { user: 'syncward', pass: 'pa55 word' },
    refuse: ['nobody@example.com'],
  });
  try {
    const email: EmailConfig = {
      host: smtpd.host,
      port: smtpd.port,
      from: 'syncward@example.com',
      to: ['ops@example.com', '值班@example.com'],
      tls: 'auto',
      username: 'syncward',
      passwordFile: passFile,
    };
    await channelOf({ email }).send(message);
    assert.equal(smtpd.mails.length, 1);
    const mail = smtpd.mails[0];
    assert.ok(mail);
    assert.equal(mail.user, 'syncward', 'logged in');
    assert.equal(mail.from, 'syncward@example.com');
    assert.deepEqual(mail.to, ['ops@example.com', '值班@example.com']);
    assert.equal(mail.headers.from, 'syncward@example.com');
    assert.equal(mail.headers.to, 'ops@example.com, 值班@example.com');
    assert.equal(mail.subject, 'syncward FIRING critical: down on 网站/主站 (mirror-1)');
    assert.match(mail.headers.subject ?? '', /^=\?UTF-8\?B\?/, 'the subject travels RFC 2047 encoded');
    assert.ok(Math.abs(Date.parse(mail.headers.date ?? '') - Date.now()) < 3_600_000, mail.headers.date);
    assert.match(mail.headers['message-id'] ?? '', /^<[0-9a-f-]{36}@[^>]+>$/);
    assert.equal(mail.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(mail.text, /\r\nwhere: 网站\/主站\r\n/);
    assert.match(mail.text, /\r\nmessage: target 网站\/主站 has been down for 61 s: connection refused/);

    await assert.rejects(
      channelOf({ email: { ...email, passwordFile: undefined, username: undefined } }).send(message),
      /SMTP MAIL FROM: 530 5\.7\.0 Authentication required/,
    );
    await assert.rejects(
      channelOf({ email: { ...email, to: ['nobody@example.com'] } }).send(message),
      /SMTP RCPT TO nobody@example.com: 550 .*Recipient address rejected/,
    );
    await assert.rejects(
      channelOf({ email: { ...email, tls: 'starttls' } }).send(message),
      /does not offer STARTTLS/,
    );
    assert.equal(smtpd.mails.length, 1, 'nothing else was accepted');
  } finally {
    await smtpd.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('alert mail upgrades to TLS with STARTTLS and checks the certificate against ca_file', async () => {
  const dir = await makeTempDir('syncward-smtp-tls-');
  const cert = selfSignedCert();
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, cert.cert);
  const smtpd = await startSmtpd({ tls: cert });
  try {
    const email: EmailConfig = {
      host: smtpd.host,
      port: smtpd.port,
      from: 'syncward@example.com',
      to: ['ops@example.com'],
      tls: 'starttls',
      caFile,
    };
    await channelOf({ email }).send(message);
    assert.equal(smtpd.mails[0]?.tls, true, 'the mail went after STARTTLS');
    await assert.rejects(
      channelOf({ email: { ...email, caFile: undefined } }).send(message),
      /self[- ]signed certificate/,
      'a certificate no CA vouches for is refused',
    );
    assert.equal(smtpd.mails.length, 1);
  } finally {
    await smtpd.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
