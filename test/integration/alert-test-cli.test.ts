import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chatReceiver } from '../helpers/chat-receiver.js';
import { bin } from '../helpers/cli-daemon.js';
import { startSmtpd } from '../helpers/smtpd.js';
import { makeTempDir } from '../helpers/tree.js';

/** Runs syncward without blocking this process's event loop: the receivers live here. */
function syncward(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString('utf8');
    });
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

test('alert-test sends one test alert through every channel, reports each, and exits 1 when one failed', async () => {
  const dir = await makeTempDir('syncward-alert-test-');
  const src = join(dir, 'src');
  mkdirSync(src);
  const secret = join(dir, 'ding.secret');
  writeFileSync(secret, 'SECalerttest\n', { mode: 0o600 });
  const recorded = join(dir, 'command.json');
  const ding = await chatReceiver('dingtalk', { secret: 'SECalerttest' });
  const wecom = await chatReceiver('wecom', { refuseFirst: 100 });
  const smtpd = await startSmtpd();
  const config = (webhooks: string) => `state_dir: ${join(dir, 'state')}
sources:
  - name: www
    path: ${src}
    targets:
      - name: backup
        url: ${join(dir, 'dst')}
alerts:
${webhooks}  commands:
    - ${JSON.stringify([process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(recorded)}, require('fs').readFileSync(0))`])}
  email:
    smtp: ${smtpd.address}
    from: syncward@example.com
    to: [ops@example.com]
`;
  const dingYaml = `  webhooks:\n    - url: ${JSON.stringify(ding.url)}\n      format: dingtalk\n      secret_file: ${secret}\n`;
  const wecomYaml = `    - url: ${JSON.stringify(wecom.url)}\n      format: wecom\n`;
  const file = join(dir, 'syncward.yaml');
  try {
    writeFileSync(file, config(dingYaml + wecomYaml));
    const r = await syncward(['alert-test', '-c', file]);
    assert.equal(r.code, 1, `${r.out}${r.err}`);
    const lines = r.out.trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(/\s+/)[0]),
      ['ok', 'FAILED', 'ok', 'ok', '1'],
      r.out,
    );
    assert.match(lines[0] ?? '', /^ok +alert dingtalk webhook http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(
      lines[1] ?? '',
      /wecom webhook .*: wecom refused the message: errcode 93000: too many requests/,
    );
    assert.match(lines[3] ?? '', /^ok +alert mail to ops@example\.com via 127\.0\.0\.1:\d+$/);
    assert.match(lines[4] ?? '', /^1 of 4 channel\(s\) failed/);
    assert.equal(ding.shown().length, 1);
    assert.match(ding.shown()[0] ?? '', /syncward FIRING warning: test on syncward/);
    assert.match(smtpd.mails[0]?.text ?? '', /a test alert sent by `syncward alert-test`/);
    assert.ok(existsSync(recorded), 'the alert command ran');
    assert.equal(JSON.parse(readFileSync(recorded, 'utf8')).incident.kind, 'test');

    const json = await syncward(['alert-test', '-c', file, '--json']);
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.out) as { channels: { channel: string; ok: boolean; error?: string }[] };
    assert.deepEqual(
      parsed.channels.map((c) => c.ok),
      [true, false, true, true],
    );
    assert.match(parsed.channels[1]?.error ?? '', /errcode 93000/);

    writeFileSync(file, config(dingYaml));
    const good = await syncward(['alert-test', '-c', file]);
    assert.equal(good.code, 0, good.out);
    assert.match(good.out, /the test alert went through all 3 channel\(s\)/);
    assert.equal(smtpd.mails.length, 3, 'one mail per run');

    writeFileSync(file, config('').replace(/ {2}commands:[\s\S]*$/, '  down_after_s: 60\n'));
    const none = await syncward(['alert-test', '-c', file]);
    assert.equal(none.code, 2, none.out);
    assert.match(none.out, /has no alert channel: add alerts\.webhooks, alerts\.commands or alerts\.email/);
  } finally {
    await Promise.all([ding.close(), wecom.close(), smtpd.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});
