import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bin } from '../helpers/cli-daemon.js';
import { configYaml, converged, startDaemon } from '../helpers/daemon.js';
import { rsyncdAndLocalTargets } from '../helpers/targets.js';
import { waitFor } from '../helpers/tree.js';

/** The root's mtime (ns) and mode on the source and on each target, as "ns mode" strings. */
function rootAttrs(dirs: string[]): string[] {
  return dirs.map((d) => {
    const st = statSync(d, { bigint: true });
    return `${st.mtimeNs} ${(Number(st.mode) & 0o7777).toString(8)}`;
  });
}

async function rootMatches(src: string, dirs: string[], what: string): Promise<void> {
  await waitFor(
    () => rootAttrs(dirs).every((a) => a === rootAttrs([src])[0]),
    15_000,
    `${what}: the target roots' mtime and mode equal the source root's`,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; source ${rootAttrs([src])[0]}, targets ${rootAttrs(dirs).join(', ')}`);
  });
}

test("the source root's own mtime and mode reach every target after entries are created, renamed and deleted in it", async () => {
  const env = await rsyncdAndLocalTargets('syncward-rootattrs');
  const { src, targets } = env;
  const d = await startDaemon(configYaml({ stateDir: env.state.dir, source: src, targets }));
  try {
    const dirs = targets.map((t) => t.dir);
    await converged(src, targets);
    // each step changes the root's mtime on the source (to the nanosecond);
    // the target applies it later, so only an explicit call makes them equal
    writeFileSync(join(src, 'created'), 'x\n');
    await rootMatches(src, dirs, 'a file created in the root');
    mkdirSync(join(src, 'newdir/deep'), { recursive: true });
    writeFileSync(join(src, 'newdir/deep/f'), 'f\n');
    await rootMatches(src, dirs, 'a tree created in the root (a batch with -r)');
    renameSync(join(src, 'created'), join(src, 'renamed'));
    await rootMatches(src, dirs, 'a rename in the root');
    rmSync(join(src, 'renamed'));
    await rootMatches(src, dirs, 'a delete in the root');
    chmodSync(src, 0o750);
    utimesSync(src, new Date('2021-02-03T04:05:06Z'), new Date('2021-02-03T04:05:06Z'));
    await rootMatches(src, dirs, "the root's own mode and times set by hand");
    await converged(src, targets);
  } finally {
    await d.dispose();
    await env.dispose();
  }
});

test('audit reports a target root whose mtime differs (and only that), as metadata drift with exit 1', async () => {
  const env = await rsyncdAndLocalTargets('syncward-rootaudit');
  const { src, local, targets } = env;
  try {
    mkdirSync(join(src, 'sub'));
    writeFileSync(join(src, 'sub/f'), 'f\n');
    const config = join(env.state.dir, 'syncward.yaml');
    writeFileSync(config, configYaml({ stateDir: env.state.dir, source: src, targets }));
    const syncward = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) =>
        execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (e, out) =>
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out }),
        ),
      );
    assert.equal((await syncward(['sync', '-c', config])).code, 0);
    assert.equal((await syncward(['audit', '-c', config])).code, 0, 'in sync after the sync');
    // the local target's root gets another time; nothing else differs
    utimesSync(local, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    const r = await syncward(['audit', '-c', config, '--json', '--target', 'local']);
    assert.equal(r.code, 1, `audit exit 1 for a drifted root: ${r.out}`);
    const report = JSON.parse(r.out) as {
      results: { target: string; entries: { kind: string; path: string; detail: string }[] }[];
    };
    assert.deepEqual(
      report.results.flatMap((t) => t.entries.map((e) => [t.target, e.kind, e.path, e.detail])),
      [['local', 'metadata', '.', 'mtime']],
    );
    // a subdirectory whose mtime alone differs is drift too
    assert.equal((await syncward(['sync', '-c', config])).code, 0);
    utimesSync(join(local, 'sub'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    const sub = await syncward(['audit', '-c', config, '--json', '--target', 'local']);
    assert.equal(sub.code, 1, sub.out);
    assert.match(sub.out, /"path": "sub",\s*"detail": "mtime"/);
  } finally {
    await env.dispose();
  }
});
