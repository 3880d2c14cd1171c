import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWatching, runSyncward, spawnSyncward } from '../helpers/cli-daemon.js';
import { configYaml, type TargetUnderTest, tempStateDir } from '../helpers/daemon.js';
import { startSshd } from '../helpers/sshd.js';
import { compareTrees, makeTempDir } from '../helpers/tree.js';

const mode = (p: string) => lstatSync(p).mode & 0o777;

/** A source with a file, a local target, a config file: what every case here starts from. */
async function setup(stateDir: string, targets?: (dst: string) => TargetUnderTest[]) {
  const src = await makeTempDir('syncward-sd-src-');
  const dst = await makeTempDir('syncward-sd-dst-');
  const cfgDir = await makeTempDir('syncward-sd-cfg-');
  writeFileSync(join(src, 'f'), 'f\n');
  const cfg = join(cfgDir, 'syncward.yaml');
  const t = targets ? targets(dst) : [{ name: 't', url: dst, dir: dst }];
  writeFileSync(cfg, configYaml({ stateDir, source: src, targets: t }));
  const dispose = () => {
    for (const d of [src, dst, cfgDir]) rmSync(d, { recursive: true, force: true });
  };
  return { src, dst, cfg, dispose };
}

test('a state_dir owned by another user, or writable by its group, is refused by start, sync and check, and a planted api.json symlink is not written through', async () => {
  const state = tempStateDir();
  const victim = join(state.dir, '..', `${state.dir.split('/').pop()}-victim`);
  writeFileSync(victim, 'root-only\n', { mode: 0o600 });
  const s = await setup(state.dir);
  try {
    // what an attacker who owns state_dir plants: root's api.json write would land in the victim
    symlinkSync(victim, join(state.dir, 'api.json'));
    chownSync(state.dir, 65534, 65534);
    const owned = runSyncward(['start', '-c', s.cfg], 20_000);
    assert.notEqual(owned.code, 0, `start refused: ${owned.err}`);
    assert.match(
      owned.err,
      new RegExp(`state_dir ${state.dir} belongs to uid 65534, not to uid 0 .*chown 0 ${state.dir}`),
    );
    assert.equal(readFileSync(victim, 'utf8'), 'root-only\n', 'nothing written through the planted symlink');
    const sync = runSyncward(['sync', '-c', s.cfg], 20_000);
    assert.notEqual(sync.code, 0, sync.err);
    assert.match(sync.err, /belongs to uid 65534/);
    assert.ok(!existsSync(join(s.dst, 'f')), 'sync sent nothing');
    const check = runSyncward(['check', '-c', s.cfg]);
    assert.equal(check.code, 1, check.out);
    assert.match(check.out, /state_dir: state_dir .* belongs to uid 65534/);

    chownSync(state.dir, 0, 0);
    chmodSync(state.dir, 0o770);
    const group = runSyncward(['start', '-c', s.cfg], 20_000);
    assert.notEqual(group.code, 0, group.err);
    assert.match(
      group.err,
      new RegExp(`state_dir ${state.dir} is writable by its group \\(mode 770\\).*chmod 700 ${state.dir}`),
    );
    assert.equal(readFileSync(victim, 'utf8'), 'root-only\n');
  } finally {
    s.dispose();
    rmSync(victim, { force: true });
    state.dispose();
  }
});

test('under umask 000 the journal, its WAL, the lock, the control socket and api.json are mode 600, state_dir and ssh/ 700', async () => {
  const parent = tempStateDir();
  const stateDir = join(parent.dir, 'fresh');
  const s = await setup(stateDir);
  const umask = process.umask(0);
  const d = spawnSyncward(['start', '-c', s.cfg]);
  process.umask(umask);
  try {
    await d.waitForLine(isWatching, 20_000, 'watching');
    const files = [
      'journal.db',
      'journal.db-wal',
      'journal.db-shm',
      'syncward.pid',
      'control.sock',
      'api.json',
    ];
    for (const f of files) assert.equal(mode(join(stateDir, f)).toString(8), '600', f);
    assert.equal(mode(stateDir).toString(8), '700', 'state_dir');
    assert.equal(mode(join(stateDir, 'ssh')).toString(8), '700', 'state_dir/ssh');
    await d.stop();
    assert.equal((await d.exited).code, 0, d.stderr());
  } finally {
    await d.stop();
    s.dispose();
    parent.dispose();
  }
});

test('ssh targets work with a state_dir holding a space, quotes and %, and with one too long for a socket path', async () => {
  const sshd = await startSshd();
  const parent = tempStateDir();
  const sockets: string[] = [];
  try {
    for (const stateDir of [join(parent.dir, `sync "state" it's 100%d`), join(parent.dir, 'x'.repeat(70))]) {
      const remote = await sshd.targetDir();
      const target: TargetUnderTest = {
        name: 'web',
        url: sshd.url(remote),
        dir: remote,
        identityFile: sshd.identityFile,
        sshOptions: sshd.sshOptions,
      };
      const s = await setup(stateDir, () => [target]);
      try {
        mkdirSync(join(s.src, 'sub dir'));
        writeFileSync(join(s.src, 'sub dir', 'g'), 'g\n');
        const r = runSyncward(['sync', '-c', s.cfg], 60_000);
        assert.equal(r.code, 0, `sync with state_dir ${stateDir}: ${r.err}`);
        assert.deepEqual(await compareTrees(s.src, remote), []);
        const shared = readdirSync(join(stateDir, 'ssh')).map((n) => join(stateDir, 'ssh', n));
        sockets.push(...shared);
        if (stateDir.length < 65) {
          assert.equal(shared.length, 1, 'one connection-sharing socket');
          assert.ok(lstatSync(shared[0] as string).isSocket());
        } else {
          assert.deepEqual(shared, [], 'no sharing when the socket path would be too long');
          const check = runSyncward(['check', '-c', s.cfg]);
          assert.match(check.out, /too long for ssh's connection-sharing sockets .* at most 65 bytes/);
        }
      } finally {
        s.dispose();
      }
    }
  } finally {
    // the shared connection outlives the sync by ControlPersist: end it
    for (const p of sockets)
      spawnSync('ssh', [
        '-o',
        `ControlPath=${p.replaceAll('%', '%%').replace(/[ "'\\]/g, '\\$&')}`,
        '-O',
        'exit',
        'x',
      ]);
    await sshd.dispose();
    parent.dispose();
  }
});
