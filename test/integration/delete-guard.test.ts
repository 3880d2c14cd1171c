import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TargetStatus } from '../../src/daemon/index.js';
import { apiUrlOf } from '../helpers/api.js';
import { bin } from '../helpers/cli-daemon.js';
import { configYaml, converged, startDaemon, type TargetUnderTest } from '../helpers/daemon.js';
import { type RsyncdAndLocal, rsyncdAndLocalTargets } from '../helpers/targets.js';
import { waitFor } from '../helpers/tree.js';

// One guard for every path that can delete on a target (dispatch/guard.ts): the
// one-shot commands refuse where the daemon would hold, and say how to override.

const FILES = 10;

function syncward(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out, err });
    });
  });
}

/** Every entry under `root`, relative, sorted. */
function listing(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).sort();
}

/** FILES pages under pages/, mirrored to both targets by a first sync; returns the config file. */
async function mirrored(env: RsyncdAndLocal, maxDelete: number): Promise<string> {
  mkdirSync(join(env.src, 'pages'));
  for (let i = 0; i < FILES; i++) writeFileSync(join(env.src, 'pages', `p${i}.html`), `page ${i}\n`);
  const config = join(env.state.dir, 'syncward.yaml');
  writeFileSync(
    config,
    configYaml({
      stateDir: env.state.dir,
      source: env.src,
      targets: env.targets,
      extra: `    max_delete: ${maxDelete}`,
    }),
  );
  const first = await syncward(['sync', '-c', config]);
  assert.equal(first.code, 0, `first sync: ${first.err}`);
  await converged(env.src, env.targets, 10_000, 'the first sync');
  return config;
}

/**
 * Runs `body` on a fresh source mirrored to an rsyncd and a local target
 * (max_delete as given), with the config file and the targets' listing
 * before the test touched anything; cleans up after.
 */
async function withMirror(
  prefix: string,
  maxDelete: number,
  body: (env: RsyncdAndLocal, config: string, before: string[]) => Promise<void>,
): Promise<void> {
  const env = await rsyncdAndLocalTargets(prefix);
  try {
    const config = await mirrored(env, maxDelete);
    await body(env, config, listing(env.local));
  } finally {
    await env.dispose();
  }
}

/** The source emptied as by a mount that did not happen: the root is there, nothing in it. */
function emptySource(src: string): void {
  for (const name of readdirSync(src)) rmSync(join(src, name), { recursive: true });
}

function assertIntact(targets: TargetUnderTest[], before: string[], what: string): void {
  for (const t of targets) assert.deepEqual(listing(t.dir), before, `${what}: ${t.name} lost nothing`);
}

describe('the delete guard on syncward sync and audit --repair', () => {
  test('sync from an emptied source root refuses (exit 1, targets intact) and names --allow-empty-source; the flags let it through', () =>
    withMirror('syncward-guard-empty', 5, async (env, config, before) => {
      emptySource(env.src);

      const refused = await syncward(['sync', '-c', config]);
      assert.equal(refused.code, 1, `${refused.err}${refused.out}`);
      for (const t of env.targets)
        assert.match(
          refused.err,
          new RegExp(
            `REFUSED src -> ${t.name}: the source root .* is empty .*would delete ${FILES + 1} entries.*--allow-empty-source`,
          ),
        );
      assertIntact(env.targets, before, 'refused sync');

      // --json: the refusal is in the report and still on stderr
      const json = await syncward(['sync', '-c', config, '--json']);
      assert.equal(json.code, 1);
      const report = JSON.parse(json.out) as {
        results: { target: string; refused?: boolean; class: string }[];
      };
      assert.deepEqual(
        report.results.map((r) => [r.target, r.refused, r.class]),
        [
          ['daemon', true, 'refused'],
          ['local', true, 'refused'],
        ],
      );
      assert.match(json.err, /REFUSED/);

      // an empty source allowed, max_delete 5 still stands, and the message names the next flag
      const partly = await syncward(['sync', '-c', config, '--allow-empty-source']);
      assert.equal(partly.code, 1, partly.err);
      assert.match(
        partly.err,
        new RegExp(`would delete ${FILES + 1} entries, more than max_delete 5.*--allow-deletes ${FILES + 1}`),
      );
      assertIntact(env.targets, before, 'sync with --allow-empty-source only');

      const through = await syncward([
        'sync',
        '-c',
        config,
        '--allow-empty-source',
        '--allow-deletes',
        `${FILES + 1}`,
      ]);
      assert.equal(through.code, 0, through.err);
      for (const t of env.targets) assert.deepEqual(listing(t.dir), [], `${t.name} is emptied as asked`);
    }));

  test('sync from a source root that does not exist refuses and says so', () =>
    withMirror('syncward-guard-missing', 1000, async (env, config, before) => {
      rmSync(env.src, { recursive: true });
      const r = await syncward(['sync', '-c', config]);
      assert.equal(r.code, 1, r.err);
      assert.match(
        r.err,
        /REFUSED src -> local: the source root .* does not exist; nothing was sent\. mount or restore/,
      );
      assertIntact(env.targets, before, 'sync from a missing root');
    }));

  test('sync that would delete more than max_delete refuses; --allow-deletes N lets exactly that through', () =>
    withMirror('syncward-guard-max', 5, async (env, config, before) => {
      for (let i = 0; i < 6; i++) rmSync(join(env.src, 'pages', `p${i}.html`));

      const refused = await syncward(['sync', '-c', config]);
      assert.equal(refused.code, 1, refused.err);
      assert.match(
        refused.err,
        /REFUSED src -> daemon: a full sync would delete 6 entries, more than max_delete 5; nothing was sent\. .*--allow-deletes 6/,
      );
      assertIntact(env.targets, before, 'refused sync');

      const short = await syncward(['sync', '-c', config, '--allow-deletes', '5']);
      assert.equal(short.code, 1, 'an allowance below the count does not help');
      assertIntact(env.targets, before, 'sync with too small an allowance');

      const through = await syncward(['sync', '-c', config, '--allow-deletes', '6']);
      assert.equal(through.code, 0, through.err);
      await converged(env.src, env.targets, 10_000, 'the allowed deletions');

      const bad = await syncward(['sync', '-c', config, '--allow-deletes', 'many']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.err, /--allow-deletes.*whole number/);
    }));

  test('audit --repair from an emptied source refuses the repair (exit 1, targets intact); with the flags it repairs', () =>
    withMirror('syncward-guard-repair', 5, async (env, config, before) => {
      emptySource(env.src);

      const refused = await syncward(['audit', '-c', config, '--repair']);
      assert.equal(refused.code, 1, refused.err);
      for (const t of env.targets)
        assert.match(
          refused.out,
          new RegExp(
            `DRIFT src -> ${t.name}.*\\n\\s+repair refused: the source root .* is empty .*--allow-empty-source`,
          ),
        );
      assert.doesNotMatch(refused.out, /after repairing/);
      assertIntact(env.targets, before, 'refused repair');

      const json = await syncward(['audit', '-c', config, '--repair', '--json', '--allow-empty-source']);
      assert.equal(json.code, 1, json.err);
      const report = JSON.parse(json.out) as {
        results: { target: string; repaired?: { refused?: boolean; message?: string } }[];
      };
      for (const r of report.results) {
        assert.equal(r.repaired?.refused, true, `${r.target}: ${JSON.stringify(r.repaired)}`);
        assert.match(r.repaired?.message ?? '', /more than max_delete 5.*--allow-deletes 11/);
      }
      assert.match(json.err, /repair of src\/daemon refused/);
      assertIntact(env.targets, before, 'repair allowed an empty source but not 11 deletions');

      const through = await syncward([
        'audit',
        '-c',
        config,
        '--repair',
        '--allow-empty-source',
        '--allow-deletes',
        '11',
      ]);
      assert.equal(through.code, 0, `${through.out}${through.err}`);
      assert.match(through.out, /in sync after repairing 1 path\(s\)/);
      for (const t of env.targets) assert.deepEqual(listing(t.dir), [], `${t.name} repaired to empty`);
    }));

  test('audit --repair that would delete more than max_delete refuses', () =>
    withMirror('syncward-guard-repair-max', 5, async (env, config, before) => {
      for (let i = 0; i < 6; i++) rmSync(join(env.src, 'pages', `p${i}.html`));
      const r = await syncward(['audit', '-c', config, '--repair']);
      assert.equal(r.code, 1, r.err);
      assert.match(
        r.out,
        /repair refused: a repair would delete 6 entries, more than max_delete 5; nothing was sent\. .*--allow-deletes 6/,
      );
      assertIntact(env.targets, before, 'refused repair');
    }));
});

test('a full sync asked for through the API passes the same guard: more than max_delete holds each target', async () => {
  const env = await rsyncdAndLocalTargets('syncward-guard-api');
  try {
    writeFileSync(join(env.src, 'index.html'), 'home\n');
    const d = await startDaemon(
      configYaml({
        stateDir: env.state.dir,
        source: env.src,
        targets: env.targets,
        extra: '    max_delete: 5',
      }),
    );
    try {
      await converged(env.src, env.targets, 20_000, 'the startup sync');
      await waitFor(() => d.daemon.isIdle(), 20_000, 'the startup full sync finished');
      // written on the targets behind syncward's back: only a full sync would delete them
      for (const t of env.targets)
        for (let i = 0; i < FILES; i++) writeFileSync(join(t.dir, `extra${i}`), 'not in the source\n');
      const before = listing(env.local);
      const res = await fetch(`${apiUrlOf(env.state.dir)}/api/sources/src/sync`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(res.status, 202, await res.text());
      const held = () =>
        (d.daemon.status()[0]?.targets ?? []).filter((t: TargetStatus) => t.state === 'held');
      await waitFor(() => held().length === env.targets.length, 30_000, 'both targets held');
      for (const t of held())
        assert.match(
          t.holdReason ?? '',
          new RegExp(`full sync would delete ${FILES} entries, more than max_delete 5`),
        );
      assertIntact(env.targets, before, 'the API full sync');
    } finally {
      await d.dispose();
    }
  } finally {
    await env.dispose();
  }
});
