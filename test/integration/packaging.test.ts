import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { STARTER_CONFIG } from '../../src/cli/init.js';
import { parseConfig } from '../../src/config/index.js';
import { makeTempDir, waitFor } from '../helpers/tree.js';

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

// ---- installing: scripts/install.sh and the .deb, each into a temporary root ----
// Both install for real, but under a root of their own (install.sh's DESTDIR,
// dpkg --root), or on this machine's paths inside a mount namespace whose
// /etc, /opt, /usr and /var/lib are overlays: the rest of the suite runs
// beside these tests on a shared machine, and the real /opt, /usr and /etc
// stay untouched. systemd cannot run here; the installed unit is checked
// with systemd-analyze verify.

const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = '/'): Ran {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs it and fails the test, with its output, unless it exits 0. */
function ok(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = run(cmd, args, env);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// an install ships the bundle (scripts/bundle.mjs): built here from dist/src as this run has it
before(() => {
  ok(process.execPath, [join(root, 'scripts', 'bundle.mjs')]);
});

/** Every path under `dir` with its type, mode and (for files) content hash: what an install left there. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const s = lstatSync(p);
      const mode = (s.mode & 0o7777).toString(8);
      if (s.isDirectory()) {
        out.push(`${p} dir ${mode}`);
        walk(p);
      } else if (s.isSymbolicLink()) out.push(`${p} -> ${readlinkSync(p)}`);
      else out.push(`${p} ${mode} ${createHash('sha1').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
}

/**
 * The installed daemon, started by `command` with a config of its own, mirrors
 * a tree to a local target: at start (rsync) and then as it changes (the
 * inotify addon), and stops cleanly on SIGTERM (the journal, better-sqlite3).
 */
async function installedDaemonMirrors(command: string): Promise<void> {
  const dir = await makeTempDir('syncward-installed-run-');
  for (const d of ['source', 'target', 'state']) mkdirSync(join(dir, d), { mode: 0o700 });
  const config = join(dir, 'syncward.yaml');
  writeFileSync(
    config,
    [
      `state_dir: ${dir}/state`,
      'api: { listen: "off" }',
      `sources: [{ name: s, path: ${dir}/source, targets: [{ name: t, url: ${dir}/target }] }]`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'source', 'before.txt'), 'there before the start\n');
  const child = spawn(command, ['start', '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const arrived = (name: string) => () => existsSync(join(dir, 'target', name)) || child.exitCode !== null;
  try {
    await waitFor(arrived('before.txt'), 60_000, 'the start-up sync');
    assert.equal(child.exitCode, null, `the installed daemon exited:\n${stderr}`);
    assert.equal(readFileSync(join(dir, 'target', 'before.txt'), 'utf8'), 'there before the start\n', stderr);
    writeFileSync(join(dir, 'source', 'after.txt'), 'written while it runs\n');
    await waitFor(arrived('after.txt'), 60_000, 'a change sent as it happens');
    assert.equal(child.exitCode, null, `the installed daemon exited:\n${stderr}`);
    assert.equal(readFileSync(join(dir, 'target', 'after.txt'), 'utf8'), 'written while it runs\n', stderr);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The installed command reads the installed starter config: its only complaints are the example paths it names. */
function checksStarterConfig(command: string, config: string): void {
  assert.equal(readFileSync(config, 'utf8'), STARTER_CONFIG);
  const r = run(command, ['check', '-c', config]);
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout + r.stderr, /source directory \/srv\/www does not exist/);
  assert.doesNotMatch(r.stdout + r.stderr, /at .*\.js:\d+/, 'no stack trace');
}

/** systemd-analyze verify has no complaint about the installed unit, whose ExecStart runs `prefix`'s command. */
function verifiesUnit(unitPath: string, prefix: string, t: { diagnostic(m: string): void }): void {
  const text = readFileSync(unitPath, 'utf8');
  assert.match(
    text,
    new RegExp(
      `^ExecStart=/usr/bin/env node --max-semi-space-size=1 --v8-pool-size=1 ${prefix}/bin/syncward start -c /etc/syncward/syncward.yaml$`,
      'm',
    ),
  );
  if (prefix !== '/opt/syncward')
    assert.ok(!text.includes('/opt/syncward'), 'every /opt/syncward became PREFIX');
  if (spawnSync('systemd-analyze', ['--version']).error) {
    t.diagnostic('systemd-analyze is not installed: the installed unit was not verified');
    return;
  }
  const r = run('systemd-analyze', ['verify', unitPath]);
  assert.deepEqual(
    r.stderr.split('\n').filter((l) => l.includes('syncward.service')),
    [],
  );
  assert.equal(r.status, 0, r.stderr);
}

test('scripts/install.sh installs a working syncward under PREFIX, again without touching the config, and uninstalls', async (t) => {
  const dest = await makeTempDir('syncward-install-');
  const prefix = '/opt/sw-test';
  const env = { DESTDIR: dest, PREFIX: prefix };
  const install = (...args: string[]) =>
    ok('bash', [join(root, 'scripts', 'install.sh'), '--no-build', ...args], env);
  try {
    const first = install();
    assert.match(first, /wrote a starter config/);
    const command = join(dest, 'usr/local/bin/syncward');
    // a relative link: node resolves it, so the program finds its dist/ and addons
    assert.equal(realpathSync(command), join(dest, prefix, 'bin/syncward'));
    assert.equal(ok(command, ['--version']).trim(), version);
    // the program as one bundle, which bin/syncward runs for want of dist/src
    assert.ok(existsSync(join(dest, prefix, 'dist/bundle/main.js')));
    assert.ok(!existsSync(join(dest, prefix, 'dist/src')), 'dist/src was installed');
    // production packages only, with their native builds
    const modules = join(dest, prefix, 'node_modules');
    assert.ok(existsSync(join(modules, 'better-sqlite3/build/Release/better_sqlite3.node')));
    for (const dev of ['typescript', '@biomejs', 'node-gyp', 'playwright-core'])
      assert.ok(!existsSync(join(modules, dev)), `${dev} (a dev dependency) was installed`);
    assert.equal(statSync(join(dest, 'var/lib/syncward')).mode & 0o777, 0o700);
    checksStarterConfig(command, join(dest, 'etc/syncward/syncward.yaml'));
    verifiesUnit(join(dest, 'etc/systemd/system/syncward.service'), prefix, t);
    await installedDaemonMirrors(command);

    // again: the same files, and the operator's config as the operator left it
    const config = join(dest, 'etc/syncward/syncward.yaml');
    writeFileSync(config, `${readFileSync(config, 'utf8')}# edited by the operator\n`);
    const before = snapshot(dest);
    const second = install();
    assert.match(second, /keeping the config/);
    assert.deepEqual(snapshot(dest), before);

    // a PREFIX it did not install is neither replaced nor removed
    const foreign = '/opt/not-ours';
    mkdirSync(join(dest, foreign), { recursive: true });
    writeFileSync(join(dest, foreign, 'keep'), 'x');
    for (const args of [[], ['--uninstall']]) {
      const r = run('bash', [join(root, 'scripts', 'install.sh'), '--no-build', ...args], {
        ...env,
        PREFIX: foreign,
      });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /was not installed by scripts\/install\.sh/);
      assert.deepEqual(readdirSync(join(dest, foreign)), ['keep']);
    }
    rmSync(join(dest, foreign), { recursive: true });
    const bad = run('bash', [join(root, 'scripts', 'install.sh'), '--purge'], env);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--purge goes with --uninstall/);

    install('--uninstall');
    for (const gone of [prefix, '/usr/local/bin/syncward', '/etc/systemd/system/syncward.service'])
      assert.ok(!existsSync(join(dest, gone)), `${gone} is still there`);
    assert.match(readFileSync(config, 'utf8'), /# edited by the operator/);
    assert.ok(existsSync(join(dest, 'var/lib/syncward')));
    install('--uninstall', '--purge');
    assert.ok(!existsSync(join(dest, 'etc/syncward')));
    assert.ok(!existsSync(join(dest, 'var/lib/syncward')));
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
});

/** The host directories install.sh writes into, each overlaid for the isolated install below. */
const LAYERS = ['/etc', '/opt', '/usr', '/var/lib'];

/**
 * Runs `script` with bash in a mount namespace of its own where each of
 * LAYERS is an overlay: reads see this machine, writes land in `scratch`
 * (one upper directory per layer, `upper/<n>`), and the machine itself is
 * never written. Calls with the same `scratch` see each other's writes.
 */
function isolated(scratch: string, script: string): Ran {
  const mounts = LAYERS.map((dir, i) => {
    for (const d of ['upper', 'work']) mkdirSync(join(scratch, d, String(i)), { recursive: true });
    return `mount -t overlay overlay -o lowerdir=${dir},upperdir=${scratch}/upper/${i},workdir=${scratch}/work/${i} ${dir}`;
  });
  return run('unshare', [
    '--mount',
    '--propagation',
    'private',
    'bash',
    '-euc',
    [...mounts, script].join('\n'),
  ]);
}

/** What the isolated script wrote under each layer: its paths, relative to this machine's root. */
function written(scratch: string): string[] {
  return LAYERS.flatMap((dir, i) =>
    snapshot(join(scratch, 'upper', String(i)))
      .map((l) => l.split(' ')[0] ?? '')
      .map((p) => join(dir, p.slice(join(scratch, 'upper', String(i)).length))),
  );
}

/**
 * A dpkg database under `dir` that knows this machine's rsync and nodejs
 * packages, so dpkg --root checks the .deb's Depends against what is really
 * installed here. Returns dpkg's extra flags: --force-depends where nodejs is
 * not a package (a Node from a tarball), said as a diagnostic.
 */
function dpkgRoot(dir: string, t: { diagnostic(m: string): void }): string[] {
  const admin = join(dir, 'var/lib/dpkg');
  for (const d of ['info', 'updates', 'triggers']) mkdirSync(join(admin, d), { recursive: true });
  writeFileSync(join(admin, 'available'), '');
  const records: string[] = [];
  const flags: string[] = [];
  for (const pkg of ['rsync', 'nodejs']) {
    const r = run('dpkg-query', ['-s', pkg]);
    if (r.status !== 0) {
      t.diagnostic(`${pkg} is not a Debian package here: installed with --force-depends`);
      flags.push('--force-depends');
      continue;
    }
    records.push(r.stdout.trim());
    writeFileSync(join(admin, 'info', `${pkg}.list`), '');
  }
  writeFileSync(join(admin, 'status'), `${records.join('\n\n')}\n`);
  return [...new Set(flags)];
}

test('npm run package:deb builds a .deb that installs a working syncward, keeps its config on reinstall, and removes and purges cleanly', async (t) => {
  const dir = await makeTempDir('syncward-deb-');
  try {
    const out = join(dir, 'out');
    mkdirSync(out);
    const built =
      ok('npm', ['run', '--silent', '--prefix', root, 'package:deb', '--', out]).trim().split('\n').at(-1) ??
      '';
    const arch = ok('dpkg', ['--print-architecture']).trim();
    const deb = join(out, `syncward_${version}_${arch}.deb`);
    assert.equal(built, deb);

    const field = (name: string) => ok('dpkg-deb', ['--field', deb, name]).trim();
    assert.equal(field('Package'), 'syncward');
    assert.equal(field('Version'), version);
    assert.equal(field('Architecture'), arch);
    const major = Number(process.versions.node.split('.')[0]);
    assert.equal(field('Depends'), `rsync, nodejs (>= ${major}), nodejs (<< ${major + 1})`);
    const info = ok('dpkg-deb', ['--info', deb]);
    for (const script of ['postinst', 'prerm', 'postrm']) assert.match(info, new RegExp(`\\b${script}\\b`));
    const contents = ok('dpkg-deb', ['--contents', deb]);
    assert.match(contents, /^-rwxr-xr-x root\/root .* \.\/opt\/syncward\/bin\/syncward$/m);
    assert.match(contents, / \.\/usr\/bin\/syncward -> \.\.\/\.\.\/opt\/syncward\/bin\/syncward$/m);
    assert.match(contents, / \.\/lib\/systemd\/system\/syncward\.service$/m);
    assert.match(contents, / \.\/opt\/syncward\/build\/Release\/syncward_inotify\.node$/m);
    assert.match(
      contents,
      / \.\/opt\/syncward\/node_modules\/better-sqlite3\/build\/Release\/better_sqlite3\.node$/m,
    );
    assert.doesNotMatch(contents, /node_modules\/typescript\//, 'dev dependencies are not shipped');
    assert.doesNotMatch(contents, / \.\/etc\//, 'the config is written by the postinst, not shipped');

    // dpkg itself, into a root of its own; the maintainer scripts run (without a chroot) with DPKG_ROOT set
    const target = join(dir, 'root');
    const flags = dpkgRoot(target, t);
    const dpkg = (...args: string[]) =>
      ok('dpkg', [`--root=${target}`, '--force-script-chrootless', '--log=/dev/null', ...flags, ...args]);
    const installed = dpkg('--install', deb);
    assert.match(installed, /wrote a starter config/);
    assert.match(
      ok('dpkg-query', [`--root=${target}`, '-W', '-f=${Status}', 'syncward']),
      /install ok installed/,
    );
    const command = join(target, 'opt/syncward/bin/syncward');
    assert.equal(realpathSync(join(target, 'usr/bin/syncward')), command);
    assert.equal(ok(join(target, 'usr/bin/syncward'), ['--version']).trim(), version);
    assert.equal(statSync(join(target, 'var/lib/syncward')).mode & 0o777, 0o700);
    const config = join(target, 'etc/syncward/syncward.yaml');
    checksStarterConfig(command, config);
    verifiesUnit(join(target, 'lib/systemd/system/syncward.service'), '/opt/syncward', t);
    await installedDaemonMirrors(command);

    writeFileSync(config, `${readFileSync(config, 'utf8')}# edited by the operator\n`);
    assert.match(dpkg('--install', deb), /keeping the config/);
    assert.match(readFileSync(config, 'utf8'), /# edited by the operator/);

    dpkg('--remove', 'syncward');
    assert.ok(!existsSync(join(target, 'opt/syncward/bin')));
    assert.ok(!existsSync(join(target, 'usr/bin/syncward')));
    assert.ok(existsSync(config), 'remove keeps the config');
    assert.ok(existsSync(join(target, 'var/lib/syncward')), 'remove keeps the journal');
    dpkg('--purge', 'syncward');
    assert.ok(!existsSync(join(target, 'etc/syncward')));
    assert.ok(!existsSync(join(target, 'var/lib/syncward')));

    // and with this machine's own dpkg and paths, its maintainer scripts as on a real host
    if (existsSync('/run/systemd/system') || run('unshare', ['--mount', 'true']).status !== 0) {
      t.diagnostic(
        'systemd runs here, or no mount namespaces: the .deb was not installed on the isolated machine',
      );
      return;
    }
    const real = isolated(
      join(dir, 'isolated'),
      [
        `dpkg --log=/dev/null ${flags.join(' ')} --install ${deb}`,
        'cd /tmp; command -v syncward; syncward --version',
        'dpkg --log=/dev/null --purge syncward',
        'for p in /opt/syncward /usr/bin/syncward /lib/systemd/system/syncward.service /etc/syncward /var/lib/syncward; do',
        '  if [ -e "$p" ]; then echo "left: $p"; fi',
        'done',
      ].join('\n'),
    );
    assert.equal(real.status, 0, `${real.stdout}\n${real.stderr}`);
    assert.match(
      real.stdout,
      /systemd is not running on this machine: the unit is installed but not enabled/,
    );
    assert.match(real.stdout, new RegExp(`^/usr/bin/syncward\n${version.replaceAll('.', '\\.')}$`, 'm'));
    assert.doesNotMatch(real.stdout, /^left: /m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("scripts/install.sh on this machine's own paths puts syncward on the PATH, says systemd is not running, and writes nothing else", async (t) => {
  if (existsSync('/run/systemd/system')) {
    // systemctl would reach the real systemd through /run: this test is for machines without it
    t.skip('systemd runs here: the isolated install would enable the unit on this machine');
    return;
  }
  if (run('unshare', ['--mount', 'true']).status !== 0) {
    t.skip('no mount namespaces here (unshare --mount fails): the isolated install was not run');
    return;
  }
  const scratch = await makeTempDir('syncward-isolated-');
  const install = `bash ${join(root, 'scripts', 'install.sh')} --no-build`;
  try {
    const r = isolated(scratch, install);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /systemd is not running on this machine: the unit is installed but not enabled/);
    const files = written(scratch).filter((p) => !p.startsWith('/opt/syncward/'));
    assert.deepEqual(files.sort(), [
      '/etc/syncward',
      '/etc/syncward/syncward.yaml',
      '/etc/systemd',
      '/etc/systemd/system',
      '/etc/systemd/system/syncward.service',
      '/opt/syncward',
      '/usr/local',
      '/usr/local/bin',
      '/usr/local/bin/syncward',
      '/var/lib/syncward',
    ]);
    const used = isolated(
      scratch,
      'cd /tmp; command -v syncward; syncward --version; syncward check -c /etc/syncward/syncward.yaml || echo "check: $?"',
    );
    assert.equal(
      used.stdout.split('\n').slice(0, 2).join('\n'),
      `/usr/local/bin/syncward\n${version}`,
      used.stderr,
    );
    assert.match(used.stdout + used.stderr, /source directory \/srv\/www does not exist/);
    assert.match(used.stdout, /^check: 1$/m);

    const removed = isolated(
      scratch,
      `${install.replace('--no-build', '--uninstall')}\nls /opt /usr/local/bin /etc/systemd/system /etc/syncward /var/lib/syncward`,
    );
    assert.equal(removed.status, 0, removed.stderr);
    assert.doesNotMatch(
      removed.stdout,
      /^syncward(\.service)?$/m,
      'the program, the command and the unit are gone',
    );
    assert.match(removed.stdout, /^syncward\.yaml$/m, 'the config stays');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
