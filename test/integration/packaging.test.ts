import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { makeTempDir } from '../helpers/tree.js';

const root = new URL('../../../', import.meta.url).pathname;
const unitFile = join(root, 'packaging', 'syncward.service');
const unit = readFileSync(unitFile, 'utf8');

/** Every `Key=value` of the unit, in order (comments skipped). */
function settings(text: string): [string, string][] {
  return text
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 1)];
    });
}

const get = (key: string) =>
  settings(unit)
    .filter(([k]) => k === key)
    .map(([, v]) => v);

test('the unit restarts on failure, reloads with SIGHUP, raises the fd limit and sandboxes', () => {
  assert.deepEqual(get('Restart'), ['on-failure']);
  assert.deepEqual(get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
  assert.deepEqual(get('LimitNOFILE'), ['65536']);
  assert.deepEqual(get('ProtectSystem'), ['strict']);
  assert.deepEqual(get('ProtectHome'), ['read-only']);
  assert.deepEqual(get('NoNewPrivileges'), ['true']);
  assert.deepEqual(get('PrivateTmp'), ['true']);
  // V8 needs writable code pages
  assert.deepEqual(get('MemoryDenyWriteExecute'), []);
});

test('the unit can write the default state_dir, and starts node with the flags bin/syncward uses', () => {
  const defaultStateDir = parseConfig(
    'sources: [{name: s, path: /s, targets: [{name: t, url: /t}]}]',
  ).stateDir;
  assert.ok(get('ReadWritePaths').includes(defaultStateDir), `ReadWritePaths lacks ${defaultStateDir}`);
  assert.deepEqual(get('StateDirectory'), [defaultStateDir.replace('/var/lib/', '')]);
  const shebang = readFileSync(join(root, 'bin', 'syncward'), 'utf8').split('\n')[0] ?? '';
  const flags = shebang.split(' ').filter((w) => w.startsWith('--'));
  assert.ok(flags.length > 0, shebang);
  const [exec] = get('ExecStart');
  for (const f of flags) assert.ok(exec?.includes(` ${f} `), `ExecStart lacks ${f}: ${exec}`);
  assert.match(exec ?? '', / start -c \/etc\/syncward\/syncward\.yaml$/);
});

test('systemd-analyze verify accepts the unit without a complaint', async (t) => {
  if (spawnSync('systemd-analyze', ['--version']).error) {
    t.skip('systemd-analyze is not installed (no systemd on this machine): the unit was not verified');
    return;
  }
  // verify reads the file where it lies; a copy keeps the checkout out of its messages
  const dir = await makeTempDir('syncward-unit-');
  try {
    const copy = join(dir, 'syncward.service');
    copyFileSync(unitFile, copy);
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8', timeout: 60_000 });
    // it exits 0 even for unknown keys and bad values, which it only logs
    const complaints = r.stderr.split('\n').filter((l) => l.includes('syncward.service'));
    assert.deepEqual(complaints, []);
    assert.equal(r.status, 0, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
