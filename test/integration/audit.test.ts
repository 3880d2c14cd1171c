import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bin } from '../helpers/cli-daemon.js';
import { configYaml, tempStateDir } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { rsyncdAndLocalTargets } from '../helpers/targets.js';
import { makeTempDir } from '../helpers/tree.js';

interface Entry {
  kind: string;
  path: string;
  detail: string;
}
interface Report {
  results: { target: string; ok: boolean; inSync: boolean; entries: Entry[]; error?: string }[];
}

function syncward(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out, err });
    });
  });
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (e) => (e ? reject(e) : resolve()));
  });
}

async function audit(config: string, ...flags: string[]): Promise<{ code: number | null; report: Report }> {
  const r = await syncward(['audit', '-c', config, '--json', ...flags]);
  assert.ok(r.out.startsWith('{'), `no JSON on stdout (exit ${r.code}): ${r.err}`);
  return { code: r.code, report: JSON.parse(r.out) as Report };
}

function kinds(report: Report, target: string): Record<string, string> {
  const t = report.results.find((x) => x.target === target);
  assert.ok(t, `no result for ${target}`);
  return Object.fromEntries(t.entries.map((e) => [e.path, e.kind]));
}

test('audit finds hand-made drift on a daemon and a local target, each with its kind; --checksum finds same size and mtime', async () => {
  const env = await rsyncdAndLocalTargets('syncward-audit');
  const { src, local, state, rsyncd, targets } = env;
  try {
    writeFileSync(join(src, 'keep.txt'), 'keep\n');
    writeFileSync(join(src, 'same.txt'), 'aaaa\n');
    writeFileSync(join(src, 'mode.txt'), 'mode\n');
    writeFileSync(join(src, 'with space.txt'), 'space\n');
    mkdirSync(join(src, 'sub'));
    writeFileSync(join(src, 'sub', 'deep.txt'), 'deep\n');
    const config = join(state.dir, 'syncward.yaml');
    writeFileSync(config, configYaml({ stateDir: state.dir, source: src, targets }));

    const synced = await syncward(['sync', '-c', config]);
    assert.equal(synced.code, 0, synced.err);
    const clean = await audit(config);
    assert.equal(clean.code, 0, JSON.stringify(clean.report));
    assert.ok(clean.report.results.every((r) => r.ok && r.inSync && r.entries.length === 0));

    for (const t of targets) {
      writeFileSync(join(t.dir, 'extra.txt'), 'extra\n');
      unlinkSync(join(t.dir, 'keep.txt'));
      // same size, and the mtime rsync gave it (touch -r copies nanoseconds): the quick check cannot see it
      writeFileSync(join(t.dir, 'same.txt'), 'bbbb\n');
      await run('touch', ['-r', join(src, 'same.txt'), join(t.dir, 'same.txt')]);
      chmodSync(join(t.dir, 'mode.txt'), 0o600);
    }

    const plain = await audit(config);
    assert.equal(plain.code, 1);
    for (const t of targets) {
      assert.deepEqual(kinds(plain.report, t.name), {
        'extra.txt': 'extra',
        'keep.txt': 'missing',
        'mode.txt': 'metadata',
      });
      const mode = plain.report.results
        .find((r) => r.target === t.name)
        ?.entries.find((e) => e.path === 'mode.txt');
      assert.equal(mode?.detail, 'mode');
    }

    const deep = await audit(config, '--checksum');
    assert.equal(deep.code, 1);
    for (const t of targets) {
      assert.deepEqual(kinds(deep.report, t.name), {
        'extra.txt': 'extra',
        'keep.txt': 'missing',
        'mode.txt': 'metadata',
        'same.txt': 'content',
      });
    }

    const text = await syncward(['audit', '-c', config, '--target', 'local']);
    assert.equal(text.code, 1);
    assert.match(text.out, /DRIFT src -> local .*1 missing, 1 extra, 1 metadata/);
    assert.match(text.out, /--checksum/);

    // a sync repairs everything the deep audit found
    assert.equal((await syncward(['sync', '-c', config])).code, 0);
    // same.txt still has the same size and mtime: only --checksum knows it differs, and sync does not use it
    const after = await audit(config, '--checksum');
    assert.equal(after.code, 1);
    for (const t of targets) assert.deepEqual(kinds(after.report, t.name), { 'same.txt': 'content' });

    // --repair sends exactly the drifted paths, even where size and mtime match, then audits again
    for (const t of targets) {
      writeFileSync(join(t.dir, 'extra2.txt'), 'extra\n');
      rmSync(join(t.dir, 'sub'), { recursive: true });
    }
    const repaired = await audit(config, '--checksum', '--repair');
    assert.equal(repaired.code, 0, JSON.stringify(repaired.report));
    for (const r of repaired.report.results) {
      assert.ok(r.inSync, `${r.target} in sync after --repair`);
      assert.deepEqual(
        (r as { repaired?: { paths: number } }).repaired?.paths,
        3,
        'same.txt, extra2.txt, and sub sent whole (sub/deep.txt with it)',
      );
    }
    const verified = await audit(config, '--checksum');
    assert.equal(verified.code, 0, JSON.stringify(verified.report));
  } finally {
    await env.dispose();
  }
});

test('a target that cannot be reached makes audit exit 2, and the other targets are still reported', async () => {
  const src = await makeTempDir('syncward-audit-src-');
  const local = await makeTempDir('syncward-audit-dst-');
  const state = tempStateDir();
  try {
    writeFileSync(join(src, 'a.txt'), 'a\n');
    const port = await freePort();
    const config = join(state.dir, 'syncward.yaml');
    writeFileSync(
      config,
      configYaml({
        stateDir: state.dir,
        source: src,
        targets: [
          { name: 'down', url: `rsync://nobody@127.0.0.1:${port}/m`, dir: '' },
          { name: 'local', url: local, dir: local },
        ],
      }),
    );
    const r = await audit(config);
    assert.equal(r.code, 2);
    const down = r.report.results.find((x) => x.target === 'down');
    assert.equal(down?.ok, false);
    assert.match(down?.error ?? '', /rsync exit 10/);
    assert.deepEqual(kinds(r.report, 'local'), { 'a.txt': 'missing' });

    const text = await syncward(['audit', '-c', config]);
    assert.equal(text.code, 2);
    assert.match(text.out, /FAIL {2}src -> down .*could not audit/);

    const none = await syncward(['audit', '-c', config, '--target', 'nope']);
    assert.equal(none.code, 2);
    assert.match(none.err, /no source\/target matches --target nope/);
  } finally {
    rmSync(src, { recursive: true, force: true });
    rmSync(local, { recursive: true, force: true });
    state.dispose();
  }
});
