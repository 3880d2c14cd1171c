import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/index.js';

const base = `
state_dir: /tmp/syncward-state
sources:
  - name: www
    path: /srv/www
    targets:
      - name: backup
        url: /backup/www
`;

function problemsOf(alerts: string): string[] {
  try {
    parseConfig(`${base}alerts:\n${alerts}`, 'syncward.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.problems.map((p) => `${p.key}: ${p.message}`);
  }
  assert.fail('config was accepted');
}

test('chat webhooks take a format and, for the services that sign, a secret file', () => {
  const c = parseConfig(`${base}alerts:
  webhooks:
    - url: https://alerts.example.com/syncward
    - url: https://oapi.dingtalk.com/robot/send?access_token=t
      format: dingtalk
      secret_file: /etc/syncward/dingtalk.secret
    - url: https://open.feishu.cn/open-apis/bot/v2/hook/h
      format: feishu
`);
  assert.deepEqual(
    c.alerts.webhooks.map((w) => [w.format, w.secretFile]),
    [
      ['syncward', undefined],
      ['dingtalk', '/etc/syncward/dingtalk.secret'],
      ['feishu', undefined],
    ],
  );
  const [wrong] = problemsOf(
    '  webhooks:\n    - url: https://hooks.slack.com/services/x\n      format: slack\n      secret_file: /s\n',
  );
  assert.match(wrong ?? '', /alerts\.webhooks\[0\]\.secret_file: .*dingtalk or feishu only/);
  const [unknown] = problemsOf('  webhooks:\n    - url: https://x.example/\n      format: teams\n');
  assert.match(unknown ?? '', /alerts\.webhooks\[0\]\.format: .*"syncward".*"feishu"/);
});

test('alerts.email names a mail server, sender and recipients; bad ones say what is wrong', () => {
  const c = parseConfig(
    `${base}alerts:
  email:
    smtp: mail.example.com:587
    from: syncward@example.com
    to: [ops@example.com, 值班@example.com]
    username: syncward
    password_file: smtp.pass
`,
    '/etc/syncward/syncward.yaml',
  );
  assert.deepEqual(c.alerts.email, {
    host: 'mail.example.com',
    port: 587,
    from: 'syncward@example.com',
    to: ['ops@example.com', '值班@example.com'],
    tls: 'auto',
    caFile: undefined,
    username: 'syncward',
    passwordFile: '/etc/syncward/smtp.pass',
  });
  assert.equal(
    parseConfig(`${base}alerts:\n  email: {smtp: "[::1]:25", from: a@b, to: [c@d]}\n`).alerts.email?.host,
    '::1',
  );
  const problems = problemsOf(
    '  email:\n    smtp: mail.example.com\n    from: Ops <ops@example.com>\n    to: []\n    username: x\n',
  );
  assert.ok(
    problems.some((p) => /email\.smtp: give host:port/.test(p)),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => /email\.from: give a bare address/.test(p)),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => /email\.to: name at least one recipient/.test(p)),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => /username and password_file go together/.test(p)),
    problems.join('\n'),
  );
  assert.ok(
    problemsOf('  email: {smtp: "m:99999", from: a@b, to: [c@d]}\n').some((p) => /email\.smtp/.test(p)),
  );
});
