import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runSyncward } from '../helpers/cli-daemon.js';
import { configYaml } from '../helpers/daemon.js';
import { rsyncdAndLocalTargets } from '../helpers/targets.js';

test('sync --dry-run lists on stdout, per target, what it would send, update and delete, hostile names escaped; --json gives the list; nothing changes', async () => {
  const t = await rsyncdAndLocalTargets('syncward-dryrun');
  try {
    const cfg = join(t.state.dir, 'syncward.yaml');
    writeFileSync(cfg, configYaml({ stateDir: t.state.dir, source: t.src, targets: t.targets }));
    mkdirSync(join(t.src, 'd'));
    writeFileSync(join(t.src, 'd', 'kept'), 'same\n');
    assert.equal(runSyncward(['sync', '-c', cfg]).code, 0, 'the targets start equal to the source');
    // now the source moves on: new names (a newline, a non-UTF-8 byte, a backslash), a mode, a removal
    writeFileSync(join(t.src, 'new\nline'), 'n\n');
    writeFileSync(Buffer.from([...Buffer.from(join(t.src, 'bad')), 0x2d, 0xff]), 'b\n');
    writeFileSync(join(t.src, 'back\\x0aslash'), 's\n');
    chmodSync(join(t.src, 'd'), 0o700);
    for (const target of t.targets) writeFileSync(join(target.dir, 'only-there'), 'o\n');
    const before = t.targets.map((target) => readdirSync(target.dir).sort());

    const r = runSyncward(['sync', '-c', cfg, '--dry-run']);
    assert.equal(r.code, 0, r.err);
    for (const name of ['daemon', 'local']) {
      const block = r.out.split(/\n(?=src -> )/).find((b) => b.startsWith(`src -> ${name}:`));
      assert.ok(block, `a list for ${name} on stdout:\n${r.out}`);
      assert.match(block, /: would send 3, update 1, delete 1\n/);
      assert.match(
        block,
        /\n {2}send {4}new\\x0aline {2}\(file\)/,
        'a newline in a name cannot start a line',
      );
      assert.match(
        block,
        /\n {2}send {4}bad-\\xff {2}\(file\)/,
        'a byte that is not UTF-8 is shown as itself',
      );
      assert.match(
        block,
        /\n {2}send {4}back\\\\x0aslash {2}\(file\)/,
        'a name that looks like an escape is not one',
      );
      assert.match(block, /\n {2}update {2}d {2}\(mode\)/);
      assert.match(block, /\n {2}delete {2}only-there {2}\(entry\)/);
      assert.doesNotMatch(block, /kept/, 'unchanged files are not listed');
    }
    assert.doesNotMatch(r.err, /sent/, 'a dry run sends nothing and does not say it did');
    assert.match(r.err, /dry run .*nothing changed/);
    assert.deepEqual(
      t.targets.map((target) => readdirSync(target.dir).sort()),
      before,
      'a dry run changes no target',
    );

    const j = runSyncward(['sync', '-c', cfg, '--dry-run', '--json', '--target', 'local']);
    assert.equal(j.code, 0, j.err);
    const json = JSON.parse(j.out) as {
      dryRun: boolean;
      results: { target: string; changes: { op: string; path: string; type: string }[] }[];
    };
    assert.equal(json.dryRun, true);
    assert.deepEqual(
      json.results.map((x) => x.target),
      ['local'],
    );
    const changes = json.results[0]?.changes ?? [];
    assert.deepEqual(
      changes.filter((c) => c.op === 'delete').map((c) => c.path),
      ['only-there'],
    );
    assert.ok(changes.some((c) => c.op === 'send' && c.path === 'new\nline' && c.type === 'file'));
  } finally {
    await t.dispose();
  }
});
