import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AlertsConfig, EmailConfig, WebhookConfig } from '../../src/config/index.js';
import { Sink } from '../../src/deliver/index.js';
import { type AlertChannel, type AlertMessage, alertChannels } from '../../src/monitor/index.js';
import { silentLogger } from '../../src/util/log.js';
import { downAlert } from '../helpers/alert-sample.js';
import { countEvaluations } from '../helpers/alerts.js';
import { type ChatService, chatReceiver } from '../helpers/chat-receiver.js';
import { configYaml, converged, startDaemon, tempStateDir } from '../helpers/daemon.js';
import { startRsyncDaemon } from '../helpers/rsyncd.js';
import { selfSignedCert, startSmtpd } from '../helpers/smtpd.js';
import { rsyncdTarget } from '../helpers/targets.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

const message = downAlert(Date.now());

const rules = {
  downAfterS: 60,
  misconfiguredAfterS: 0,
  lagAboveS: 300,
  watchUsageAbove: 0.9,
  unwatchedAfterS: 30,
  remindEveryS: 3600,
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
    assert.match(mail.text, /^syncward FIRING critical: down on 网站\/主站 \(mirror-1\)\r\n/);
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

    const loginOnly = await startSmtpd({
      auth: { user: 'syncward', pass: 'pa55 word' },
      mechanisms: 'LOGIN',
    });
    try {
      await channelOf({ email: { ...email, port: loginOnly.port } }).send(message);
      assert.equal(loginOnly.mails[0]?.user, 'syncward', 'logged in with AUTH LOGIN');
    } finally {
      await loginOnly.close();
    }
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

    const smtps = await startSmtpd({ tls: cert, implicit: true });
    try {
      await channelOf({ email: { ...email, port: smtps.port, tls: 'implicit' } }).send(message);
      assert.equal(smtps.mails[0]?.tls, true, 'the mail went over implicit TLS');
    } finally {
      await smtps.close();
    }
  } finally {
    await smtpd.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a mail server that never answers is given up after the timeout', async () => {
  const silent = createServer(() => {
    // accepts, never greets
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const { port } = silent.address() as AddressInfo;
  try {
    const alerts: AlertsConfig = {
      ...rules,
      webhooks: [],
      commands: [],
      email: { host: '127.0.0.1', port, from: 'a@example.com', to: ['b@example.com'], tls: 'auto' },
    };
    const [mail] = alertChannels(alerts, 300);
    await assert.rejects(
      mail?.send(message) ?? Promise.resolve(),
      /127\.0\.0\.1:\d+: no answer within 0\.3 s/,
    );
  } finally {
    await new Promise<void>((r) => silent.close(() => r()));
  }
});

test("a running daemon's target going down, then up, reaches a signed chat robot and the mail receiver once firing and once resolved", async () => {
  const rsyncd = await startRsyncDaemon({ modules: ['m'] });
  const src = await makeTempDir('syncward-chat-e2e-src-');
  const work = await makeTempDir('syncward-chat-e2e-work-');
  const state = tempStateDir();
  const secretFile = join(work, 'feishu.secret');
  writeFileSync(secretFile, 'feishu-e2e-secret\n', { mode: 0o600 });
  const feishu = await chatReceiver('feishu', { secret: 'feishu-e2e-secret' });
  const smtpd = await startSmtpd();
  const target = rsyncdTarget(rsyncd);
  const yaml = `${configYaml({ stateDir: state.dir, source: src, targets: [target] })}alerts:
  down_after_s: 1
  webhooks:
    - url: ${JSON.stringify(feishu.url)}
      format: feishu
      secret_file: ${JSON.stringify(secretFile)}
  email:
    smtp: ${smtpd.address}
    from: syncward@example.com
    to: [ops@example.com]
`;
  const d = await startDaemon(yaml);
  // what each receiver got about the down incident, as "FIRING" / "RESOLVED"
  const chat = () =>
    feishu
      .shown()
      .filter((t) => / down on src\/daemon /.test(t))
      .map((t) => (/syncward FIRING/.test(t) ? 'FIRING' : 'RESOLVED'));
  const mail = () =>
    smtpd.mails
      .filter((m) => / down on src\/daemon /.test(m.subject))
      .map((m) => (/syncward FIRING/.test(m.subject) ? 'FIRING' : 'RESOLVED'));
  try {
    writeFileSync(join(src, 'before'), 'x');
    await converged(src, [target], 30_000, 'initial sync');

    await rsyncd.stop();
    writeFileSync(join(src, 'during-outage'), 'y');
    await waitFor(
      () => chat().length > 0 && mail().length > 0,
      30_000,
      'the down alert in the chat and the mail',
    );
    // stay down for a few more evaluations: a firing incident must not be sent again
    const evaluations = countEvaluations(d.daemon);
    await waitFor(() => evaluations() >= 3, 30_000, 'three more evaluations with the target down');

    await rsyncd.restart();
    await waitFor(
      () => chat().includes('RESOLVED') && mail().includes('RESOLVED'),
      60_000,
      'the resolve in the chat and the mail',
    );
    await converged(src, [target], 30_000, 'the target caught up');
    await d.daemon.flushNotifications();
    assert.deepEqual(chat(), ['FIRING', 'RESOLVED'], 'the chat: one firing, then one resolve');
    assert.deepEqual(mail(), ['FIRING', 'RESOLVED'], 'the mail: one firing, then one resolve');
    assert.deepEqual(
      feishu.got.map((g) => g.refused),
      feishu.got.map(() => null),
      'every message was signed as Feishu checks it',
    );
    const [firing, resolved] = smtpd.mails.filter((m) => / down on src\/daemon /.test(m.subject));
    assert.match(firing?.text ?? '', /\r\nmessage: target src\/daemon has been down for \d+ s/);
    assert.match(resolved?.text ?? '', /\r\nsummary: resolved down on src\/daemon after \d+ s/);
  } finally {
    await d.dispose();
    await Promise.all([feishu.close(), smtpd.close()]);
    await rsyncd.dispose();
    rmSync(src, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    state.dispose();
  }
});
