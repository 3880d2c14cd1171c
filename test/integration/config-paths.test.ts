import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWatching, msg, runSyncward, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, tempStateDir } from '../helpers/daemon.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

/** Every path under `dir`, sorted: what must not change when a command is refused. */
function listing(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

/** dir/src (with files) and a sibling dir/other: the parent of a source is what a careless target names. */
async function parentAndSource(): Promise<{ top: string; src: string; cfg: string; before: string[] }> {
  // real: the messages show real paths, and the temp dir may sit behind a symlink
  const top = realpathSync(await makeTempDir('syncward-paths-'));
  const src = join(top, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'keep'), 'keep\n');
  writeFileSync(join(src, 'sub', 'deep'), 'deep\n');
  mkdirSync(join(top, 'other'));
  writeFileSync(join(top, 'other', 'beside'), 'beside the source\n');
  const cfg = join(await makeTempDir('syncward-paths-cfg-'), 'syncward.yaml');
  return { top, src, cfg, before: listing(top) };
}

test('check, sync, audit and start refuse a local target that is the parent of its source, and the source and its siblings stay', async () => {
  const { top, src, cfg, before } = await parentAndSource();
  const state = tempStateDir();
  try {
    writeFileSync(
      cfg,
      configYaml({ stateDir: state.dir, source: src, targets: [{ name: 'up', url: top, dir: top }] }),
    );
    const why = new RegExp(`"src/up" ${top} contains the source "src" ${src}.*outside every source`);
    for (const args of [['check'], ['sync'], ['audit'], ['start']]) {
      const r = runSyncward([...args, '-c', cfg], 20_000);
      assert.equal(r.code, 2, `syncward ${args[0]} exits 2 (invalid config): ${r.out}${r.err}`);
      assert.match(`${r.out}${r.err}`, why, `syncward ${args[0]} says why`);
      assert.deepEqual(listing(top), before, `nothing under ${top} changed after syncward ${args[0]}`);
    }
    assert.equal(readFileSync(join(top, 'other', 'beside'), 'utf8'), 'beside the source\n');
  } finally {
    rmSync(top, { recursive: true, force: true });
    rmSync(join(cfg, '..'), { recursive: true, force: true });
    state.dispose();
  }
});

test('sync refuses a target whose path is a symlink into the source, and nests nothing', async () => {
  const { top, src, cfg } = await parentAndSource();
  const state = tempStateDir();
  const link = join(top, 'mirror');
  symlinkSync(join(src, 'sub'), link);
  const before = listing(top);
  try {
    writeFileSync(
      cfg,
      configYaml({ stateDir: state.dir, source: src, targets: [{ name: 'ln', url: link, dir: link }] }),
    );
    const r = runSyncward(['sync', '-c', cfg], 20_000);
    assert.equal(r.code, 2, `${r.out}${r.err}`);
    assert.ok(r.err.includes(`${link} (real path ${join(src, 'sub')}) lies inside the source "src"`), r.err);
    assert.deepEqual(listing(top), before, 'no copy of the source nested inside it');
  } finally {
    rmSync(top, { recursive: true, force: true });
    rmSync(join(cfg, '..'), { recursive: true, force: true });
    state.dispose();
  }
});

test('a SIGHUP whose edit makes the target the source parent keeps the running config, logs why, and keeps mirroring', async () => {
  const { top, src, cfg } = await parentAndSource();
  const dst = await makeTempDir('syncward-paths-dst-');
  const state = tempStateDir();
  writeFileSync(
    cfg,
    configYaml({ stateDir: state.dir, source: src, targets: [{ name: 't', url: dst, dir: dst }] }),
  );
  const d = spawnSyncward(['start', '-c', cfg]);
  try {
    await d.waitForLine(isWatching, 20_000, 'watching');
    await waitFor(() => existsSync(join(dst, 'sub', 'deep')), 20_000, 'the startup sync');
    writeFileSync(
      cfg,
      configYaml({ stateDir: state.dir, source: src, targets: [{ name: 't', url: top, dir: top }] }),
    );
    const mark = d.lines.length;
    d.child.kill('SIGHUP');
    const refused = await d.waitForLine(
      (l) => /SIGHUP: .* is not valid, keeping the running config/.test(msg(l)),
      20_000,
      'the reload refused',
      mark,
    );
    assert.match(msg(refused), new RegExp(`${top} contains the source "src" ${src}`));
    // still the old target, still live
    writeFileSync(join(src, 'after-hup'), 'after\n');
    await waitFor(() => existsSync(join(dst, 'after-hup')), 20_000, 'a change after the refused reload');
    assert.equal(readFileSync(join(top, 'other', 'beside'), 'utf8'), 'beside the source\n');
    assert.equal(readFileSync(join(src, 'keep'), 'utf8'), 'keep\n');
    await d.stop();
    assert.equal((await d.exited).code, 0, d.stderr());
  } finally {
    await d.stop();
    for (const p of [top, dst, join(cfg, '..')]) rmSync(p, { recursive: true, force: true });
    state.dispose();
  }
});
