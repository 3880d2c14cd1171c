import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWatching, msg, runSyncward, type SpawnedSyncward, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** Every `syncward ...` command quoted in backticks in `text`, as argv (paths quoted the shell's way). */
function printedCommands(text: string): string[][] {
  return [...text.matchAll(/`(syncward [^`]+)`/g)].map((m) =>
    [...(m[1] as string).matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((w) =>
      w[1] !== undefined ? w[1].replaceAll("'\\''", "'") : (w[2] as string),
    ),
  );
}

/** Runs each printed command as printed and asserts commander or syncward did not refuse its usage. */
function runAsPrinted(commands: string[][], where: string): void {
  for (const argv of commands) {
    const r = runSyncward(argv.slice(1), 60_000);
    assert.doesNotMatch(
      r.err,
      /run with --help for usage|error: (required option|unknown option|missing|too many arguments)/,
      `\`${argv.join(' ')}\` (printed by ${where}) failed as printed: exit ${r.code}\n${r.err}`,
    );
    assert.notEqual(r.code, null, `\`${argv.join(' ')}\` ran to its end`);
  }
}

/** `syncward start ARGS`, once it watches its source. */
async function watching(args: string[]): Promise<SpawnedSyncward> {
  const d = spawnSyncward(args);
  await d.waitForLine(isWatching, 20_000, 'watching');
  return d;
}

test('every syncward command printed by alerts in the log, status, doctor and the API runs as printed, with a config file and without one', async () => {
  const dir = await makeTempDir('syncward-printed-');
  const states = [tempStateDir(), tempStateDir()];
  const daemons: SpawnedSyncward[] = [];
  try {
    const src = join(dir, 'src');
    const adhocSrc = join(dir, 'adhoc-src');
    mkdirSync(join(src, 'data'), { recursive: true });
    mkdirSync(adhocSrc);
    for (let i = 0; i < 5; i++) writeFileSync(join(src, 'data', `f${i}`), `${i}\n`);
    writeFileSync(join(adhocSrc, 'only'), 'only\n');
    const targets: TargetUnderTest[] = [{ name: 'one', url: join(dir, 'one'), dir: join(dir, 'one') }];
    const cfg = join(dir, 'syncward.yaml');
    writeFileSync(
      cfg,
      configYaml({
        stateDir: (states[0] as { dir: string }).dir,
        source: src,
        targets,
        extra: '    max_delete: 2',
        api: { listen: '127.0.0.1:0' },
      }),
    );
    const adhocDst = join(dir, 'adhoc-dst');
    const withConfig = await watching(['start', '-c', cfg]);
    const adhoc = await watching([
      'start',
      '--source',
      adhocSrc,
      '--target',
      adhocDst,
      '--state-dir',
      (states[1] as { dir: string }).dir,
    ]);
    daemons.push(withConfig, adhoc);
    await converged(src, targets, 30_000, 'initial sync');
    await converged(adhocSrc, [{ name: 't1', url: adhocDst, dir: adhocDst }], 30_000, 'ad-hoc initial sync');

    // a hold on each: more deletes than max_delete; a source root emptied
    rmSync(join(src, 'data'), { recursive: true });
    rmSync(join(adhocSrc, 'only'));
    const alerts: string[] = [];
    for (const d of daemons) {
      await d.waitForLine((l) => l.state === 'held', 30_000, 'held');
      const alert = await d.waitForLine((l) => /^ALERT held/.test(msg(l)), 30_000, 'the held alert');
      alerts.push(msg(alert));
    }
    const cfgStatus = runSyncward(['status', '-c', cfg]);
    const adhocStatus = runSyncward(['status', '--state-dir', (states[1] as { dir: string }).dir, '--json']);
    // the monitor's incident (what webhooks, the dashboard and /api/status carry) comes a little later
    let api = '';
    await waitFor(
      () => {
        api = runSyncward(['status', '-c', cfg, '--json']).out;
        return /held/.test(api) && /`syncward resume/.test(api);
      },
      20_000,
      'the held incident in /api/status',
    );
    const doctor = runSyncward(['doctor', '-c', cfg, '--timeout', '10'], 60_000);

    const sources: [string, string][] = [
      ['the log of the daemon with a config file', alerts[0] as string],
      ['the log of the daemon without one', alerts[1] as string],
      ['status -c', cfgStatus.out],
      ['status --state-dir', adhocStatus.out],
      ['/api/status (the dashboard)', api],
      ['doctor', doctor.out + doctor.err],
      [
        'the start line',
        daemons.map((d) => d.lines.map(msg).find((m) => /^syncward starting/.test(m))).join('\n'),
      ],
    ];
    for (const [where, text] of sources) {
      const commands = printedCommands(text);
      assert.ok(commands.length > 0, `${where} prints a command:\n${text}`);
      for (const c of commands) {
        // -c with this config's absolute path, or --state-dir with the ad-hoc daemon's
        assert.ok(
          c.includes(cfg) || c.includes((states[1] as { dir: string }).dir),
          `${where}: \`${c.join(' ')}\` names its daemon`,
        );
      }
      runAsPrinted(commands, where);
    }
    // the resumes ran: both holds are lifted and the deletes went through
    await converged(src, targets, 30_000, 'the resumed delete');
    await converged(
      adhocSrc,
      [{ name: 't1', url: adhocDst, dir: adhocDst }],
      30_000,
      'the resumed ad-hoc delete',
    );
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    rmSync(dir, { recursive: true, force: true });
    for (const s of states) s.dispose();
  }
});
