import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Config, SourceConfig } from '../../src/config/index.js';
import { isWatching, msg, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, converged, startDaemon, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir } from '../helpers/tree.js';

test('a SIGHUP after an invalid edit (YAML syntax, a pattern that does not compile, a refused rsync_args) logs why, keeps the running config, and the daemon keeps syncing', async () => {
  const src = await makeTempDir('syncward-hup-src-');
  const dst = await makeTempDir('syncward-hup-dst-');
  const dir = await makeTempDir('syncward-hup-cfg-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [{ name: 'local', url: dst, dir: dst }];
  const cfg = join(dir, 'syncward.yaml');
  const good = configYaml({ stateDir: state.dir, source: src, targets, exclude: ['*.swp'] });
  writeFileSync(cfg, good);
  writeFileSync(join(src, 'before'), 'before start\n');
  const d = spawnSyncward(['start', '-c', cfg]);
  try {
    await d.waitForLine(isWatching, 20_000, 'the daemon watching');
    await converged(src, targets, 30_000, 'initial sync');

    const edits: [string, string, RegExp][] = [
      ['YAML syntax', `${good}  - [unclosed\n`, /YAML syntax/],
      [
        'a pattern that does not compile',
        good.replace('["*.swp"]', '["*.swp", "[abc"]'),
        /exclude\[1\]: exclude pattern: invalid pattern "\[abc"/,
      ],
      [
        'a refused rsync_args',
        good.replace(
          '        timeout_s: 20',
          '        timeout_s: 20\n        rsync_args: ["--remove-source-files"]',
        ),
        /--remove-source-files is not allowed in rsync_args/,
      ],
    ];
    for (const [what, text, why] of edits) {
      const mark = d.lines.length;
      writeFileSync(cfg, text);
      process.kill(d.pid, 'SIGHUP');
      const refused = await d.waitForLine(
        (l) => /^SIGHUP: .* keeping the running config/.test(msg(l)),
        20_000,
        `the reload of ${what} refused`,
        mark,
      );
      assert.match(msg(refused), why, what);
      // the running daemon still sees and sends new files, under the config it had
      const name = `after ${what}`;
      writeFileSync(join(src, name), `${what}\n`);
      await converged(src, targets, 30_000, `a file written after the ${what} reload`);
      assert.equal(readFileSync(join(dst, name), 'utf8'), `${what}\n`);
    }
    // later SIGHUPs still work: a valid edit is applied
    const mark = d.lines.length;
    writeFileSync(cfg, good.replace('["*.swp"]', '["*.swp", "*.tmp"]'));
    process.kill(d.pid, 'SIGHUP');
    await d.waitForLine(
      (l) => /^config reloaded: 0 source\(s\) added, 1 changed/.test(msg(l)),
      20_000,
      'the valid reload',
      mark,
    );
    assert.equal(d.child.exitCode, null, 'the daemon is still running');
  } finally {
    await d.stop();
    for (const p of [src, dst, dir]) rmSync(p, { recursive: true, force: true });
    state.dispose();
  }
});

test('a reload that throws while building the new sources stops nothing: the running source keeps watching and syncing', async () => {
  const src = await makeTempDir('syncward-reload-src-');
  const dst = await makeTempDir('syncward-reload-dst-');
  const state = tempStateDir();
  const targets: TargetUnderTest[] = [{ name: 'local', url: dst, dir: dst }];
  const d = await startDaemon(configYaml({ stateDir: state.dir, source: src, targets }));
  try {
    await converged(src, targets, 30_000, 'initial sync');
    const s = d.config.sources[0] as SourceConfig;
    // validation refuses this pattern; a Config built by hand reaches reload anyway, as any bug in applying would
    const broken: Config = { ...d.config, sources: [{ ...s, exclude: ['[abc'] }] };
    await assert.rejects(d.daemon.reload(broken), /invalid: "\[" at byte 1 has no closing "\]"/);
    assert.equal(d.daemon.status()[0]?.state, 'watching');
    writeFileSync(join(src, 'after the failed reload'), 'still mirrored\n');
    await converged(src, targets, 30_000, 'a file written after the failed reload');
  } finally {
    await d.dispose();
    for (const p of [src, dst]) rmSync(p, { recursive: true, force: true });
    state.dispose();
  }
});
