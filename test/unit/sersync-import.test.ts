import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { checkEnvironment, parseConfig } from '../../src/config/index.js';
import {
  analyzeParams,
  type ImportWarning,
  importSersync,
  importSersyncFiles,
  minutesToCron,
  regexToPattern,
  SersyncImportError,
} from '../../src/migrate/sersync/index.js';

// sersync 2.5.4's default confxml.xml shape
const FIXTURE = readFileSync(
  new URL('../../../test/fixtures/sersync-confxml.xml', import.meta.url),
  'latin1',
);
const fixtureLines = FIXTURE.split('\n');

/** 1-based line of the first fixture line containing `needle` */
function lineOf(needle: string, text = FIXTURE): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `fixture has no line with ${needle}`);
  return i + 1;
}

function warningAbout(warnings: ImportWarning[], re: RegExp): ImportWarning {
  const w = warnings.find((x) => re.test(x.message));
  assert.ok(w, `no warning matching ${re}; got:\n${warnings.map((x) => x.message).join('\n')}`);
  return w;
}

interface Imported {
  state_dir: string;
  sources: {
    name: string;
    path: string;
    delete: boolean;
    exclude?: string[];
    include?: string[];
    full_sync?: string;
    hooks?: { name: string; url?: string; command?: string[]; include?: string[]; targets?: string[] }[];
    targets: {
      name: string;
      url: string;
      password_file?: string;
      timeout_s?: number;
      rsync_args?: string[];
    }[];
  }[];
}

function run(xml: string) {
  const r = importSersync(xml, { file: 'confxml.xml' });
  return { ...r, config: parse(r.yaml) as Imported };
}

/** the fixture with one substring replaced (the replacement must happen) */
function variant(from: string, to: string): string {
  assert.ok(FIXTURE.includes(from), `fixture lacks ${from}`);
  return FIXTURE.replace(from, to);
}

test('the watch dir becomes the source and each remote an rsync:// target with the auth user, module and password file', () => {
  const { config } = run(FIXTURE);
  assert.equal(config.state_dir, '/var/lib/syncward');
  const s = config.sources[0];
  assert.ok(s);
  assert.equal(s.path, '/home/www.zhang.com');
  assert.equal(s.name, 'www.zhang.com');
  assert.deepEqual(
    s.targets.map((t) => [t.name, t.url, t.password_file]),
    [
      [
        '192.168.4.100',
        'rsync://home_www.zhang.com_user@192.168.4.100/home_www.zhang.com',
        '/etc/passwd.txt',
      ],
      [
        '192.168.4.205',
        'rsync://home_www.zhang.com_user@192.168.4.205/home_www.zhang.com',
        '/etc/passwd.txt',
      ],
    ],
  );
});

test('the YAML starts with a header naming the sersync file and passes parseConfig', () => {
  const { yaml, warnings } = importSersync(FIXTURE, { file: '/opt/sersync/confxml.xml' });
  assert.match(
    yaml.split('\n')[0] ?? '',
    /^# syncward config imported from the sersync config \/opt\/sersync\/confxml\.xml/,
  );
  // the warnings are in the file too, for whoever reads it later
  for (const w of warnings) assert.ok(yaml.includes(w.message), `header lacks: ${w.message}`);
  const c = parseConfig(yaml, 'imported.yaml');
  assert.equal(c.stateDir, '/var/lib/syncward');
  assert.equal(c.sources[0]?.targets.length, 2);
  assert.equal(c.sources[0]?.targets[0]?.passwordFile, '/etc/passwd.txt');
  assert.equal(c.sources[0]?.fullSync, '0 */10 * * *');
});

test('with the watch dir and the password file present, the imported config passes the environment check too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-sersync-'));
  try {
    const src = join(dir, 'www');
    mkdirSync(src);
    const pass = join(dir, 'rsync.pass');
    writeFileSync(pass, 'secret\n');
    chmodSync(pass, 0o600);
    const xml = FIXTURE.replace('/home/www.zhang.com', src).replace('/etc/passwd.txt', pass);
    const { yaml } = importSersync(xml, { stateDir: join(dir, 'state') });
    const c = parseConfig(yaml, join(dir, 'syncward.yaml'));
    assert.deepEqual(checkEnvironment(c), []);
    assert.equal(c.stateDir, join(dir, 'state'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('commonParams -artuz: -a -r -t implied, -z carried into rsync_args, -u dropped with a warning on its line', () => {
  const { config, yaml, warnings } = run(FIXTURE);
  for (const t of config.sources[0]?.targets ?? []) assert.deepEqual(t.rsync_args, ['-z']);
  assert.match(yaml, /commonParams "-artuz" \(line \d+\): -a -r -t implied/);
  const w = warningAbout(warnings, /-u is dropped/);
  assert.equal(w.line, lineOf('commonParams'));
});

test('commonParams: long options, excludes, and options that conflict with mirroring', () => {
  const a = analyzeParams(
    '-avzP --bwlimit=500 --delete --exclude=*.tmp --size-only --port=2873 --timeout 60 --frobnicate',
  );
  assert.deepEqual(a.implied, ['-a']);
  assert.deepEqual(a.carry, ['-z', '--bwlimit=500', '--frobnicate']);
  assert.deepEqual(a.exclude, ['*.tmp']);
  assert.equal(a.port, 2873);
  assert.equal(a.timeout, 60);
  assert.ok(a.dropped.includes('-v') && a.dropped.includes('-P') && a.dropped.includes('--delete'));
  assert.ok(a.warnings.some((w) => /--size-only is dropped/.test(w)));
  assert.ok(a.warnings.some((w) => /--frobnicate is not an option syncward knows/.test(w)));
  // -v says nothing worth a warning
  assert.ok(!a.warnings.some((w) => /-v /.test(w)));
  const e = analyzeParams('-az -e ssh');
  assert.deepEqual(e.carry, ['-z']);
  assert.ok(e.warnings.some((w) => /-e is dropped: set ssh in the target URL/.test(w)));
});

test('timeout becomes timeout_s; a custom port goes into the URL', () => {
  const { config } = run(
    variant('<userDefinedPort start="false" port="874"/>', '<userDefinedPort start="true" port="874"/>'),
  );
  for (const t of config.sources[0]?.targets ?? []) {
    assert.equal(t.timeout_s, 100);
    assert.match(t.url, /^rsync:\/\/home_www\.zhang\.com_user@192\.168\.4\.\d+:874\/home_www\.zhang\.com$/);
  }
  const off = run(variant('<timeout start="true" time="100"/>', '<timeout start="false" time="100"/>'));
  assert.equal(off.config.sources[0]?.targets[0]?.timeout_s, undefined);
  assert.match(off.yaml, /sersync had no rsync timeout/);
});

test('auth off: no user in the URL and no password file', () => {
  const { config } = run(variant('<auth start="true"', '<auth start="false"'));
  const t = config.sources[0]?.targets[0];
  assert.equal(t?.url, 'rsync://192.168.4.100/home_www.zhang.com');
  assert.equal(t?.password_file, undefined);
});

test('ssh on: ssh:// URLs with an absolute path, a warning that sersync meant a path under the home directory', () => {
  const { config, warnings, yaml } = run(variant('<ssh start="false"/>', '<ssh start="true"/>'));
  const t = config.sources[0]?.targets[0];
  assert.equal(t?.url, 'ssh://home_www.zhang.com_user@192.168.4.100/home_www.zhang.com');
  assert.equal(t?.password_file, undefined);
  const w = warningAbout(warnings, /relative to the remote user's home.*absolute/);
  assert.equal(w.line, lineOf('192.168.4.100'));
  warningAbout(warnings, /password file does not apply over ssh/);
  parseConfig(yaml);
});

test('failLog maps to nothing, with a note that syncward retries by itself', () => {
  const { yaml, warnings } = run(FIXTURE);
  const w = warningAbout(
    warnings,
    /failLog .* not needed: syncward keeps every failed change in its journal and retries/,
  );
  assert.equal(w.line, lineOf('<failLog'));
  assert.ok(
    !/rsync_fail_log\.sh/.test(
      yaml
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n'),
    ),
  );
});

test('crontab schedule in minutes becomes full_sync; sersync having turned it off (filter on, no crontabfilter) is said', () => {
  const { config, warnings } = run(FIXTURE);
  assert.equal(config.sources[0]?.full_sync, '0 */10 * * *');
  const w = warningAbout(warnings, /sersync silently turned this crontab off/);
  assert.equal(w.line, lineOf('<crontab'));
  warningAbout(warnings, /every 600 minutes has no exact cron expression/);
  const off = run(variant('<crontab start="true"', '<crontab start="false"'));
  assert.equal(off.config.sources[0]?.full_sync, undefined);
  const cf = run(variant('<crontabfilter start="false">', '<crontabfilter start="true">'));
  warningAbout(
    cf.warnings,
    /crontabfilter patterns "\*\.php", "info\/\*" applied to sersync's full sync only/,
  );
});

test('minutes to cron: exact where the interval divides an hour or a day, else the nearest, flagged', () => {
  assert.deepEqual(minutesToCron(60), { expr: '0 * * * *', minutes: 60, exact: true, note: undefined });
  assert.equal(minutesToCron(1).expr, '* * * * *');
  assert.equal(minutesToCron(15).expr, '*/15 * * * *');
  assert.equal(minutesToCron(120).expr, '0 */2 * * *');
  assert.equal(minutesToCron(1440).expr, '0 0 * * *');
  assert.equal(minutesToCron(10080).expr, '0 0 * * 0');
  const ten = minutesToCron(600);
  assert.equal(ten.expr, '0 */10 * * *');
  assert.equal(ten.exact, false);
  assert.match(ten.note ?? '', /20:00 and then at 00:00, 4 h later/);
  const odd = minutesToCron(45);
  assert.equal(odd.exact, false);
  assert.equal(odd.expr, '0 * * * *');
  assert.equal(minutesToCron(100).expr, '0 */2 * * *');
  assert.equal(minutesToCron(7).expr, '*/6 * * * *');
  assert.equal(minutesToCron(3000).expr, '0 0 * * *');
});

test('filter regexes become rsync patterns; the ones that do not convert are warned about with their line', () => {
  const { config } = run(FIXTURE);
  assert.deepEqual(config.sources[0]?.exclude, ['*.svn', '*.gz', '/info/', '/static/']);
  const xml = variant(
    '<exclude expression="^static/*"></exclude>',
    '<exclude expression="^static/*"></exclude>\n        <exclude expression="(.*)/cache/[0-9]+"></exclude>',
  );
  const r = run(xml);
  assert.deepEqual(r.config.sources[0]?.exclude, ['*.svn', '*.gz', '/info/', '/static/']);
  const w = warningAbout(
    r.warnings,
    /filter regex "\(\.\*\)\/cache\/\[0-9\]\+" has no faithful rsync pattern/,
  );
  assert.equal(w.line, lineOf('cache/[0-9]', xml));
  // a filter that is off imports nothing
  const off = run(variant('<filter start="true">', '<filter start="false">'));
  assert.equal(off.config.sources[0]?.exclude, undefined);
});

test('regex to rsync pattern: only shapes that mean the same', () => {
  const cases: [string, string | null][] = [
    ['(.*)\\.svn', '*.svn'],
    ['.*\\.gz$', '*.gz'],
    ['^.*~', '*~'],
    ['(.+)\\.tmp', '?*.tmp'],
    ['^info/*', '/info/'],
    ['static/.*', '/static/'],
    ['^a/b/', '/a/b/'],
    ['^robots\\.txt$', '/robots.txt'],
    ['(.*)\\.(gz|zip)', null],
    ['.*/\\.git', null],
    ['(.*).gz', null],
    ['\\d+\\.log', null],
    ['[abc]\\.txt', null],
    ['', null],
  ];
  for (const [re, want] of cases) assert.equal(regexToPattern(re), want, re);
});

test('inotify switches: delete off maps to delete: false; the others are mapped or warned', () => {
  const { config, warnings } = run(FIXTURE);
  assert.equal(config.sources[0]?.delete, true);
  // attrib="false" in the fixture: chmod/chown now propagate
  assert.equal(warningAbout(warnings, /attrib is off in sersync/).line, lineOf('<attrib'));
  const xml = FIXTURE.replace('<delete start="true"/>', '<delete start="false"/>')
    .replace('<createFolder start="true"/>', '<createFolder start="false"/>')
    .replace('<createFile start="false"/>', '<createFile start="true"/>')
    .replace('<closeWrite start="true"/>', '<closeWrite start="false"/>')
    .replace('<moveFrom start="true"/>', '<moveFrom start="false"/>')
    .replace('<moveTo start="true"/>', '<moveTo start="false"/>')
    .replace('<attrib start="false"/>', '<attrib start="true"/>')
    .replace('<modify start="false"/>', '<modify start="true"/>');
  const r = run(xml);
  assert.equal(r.config.sources[0]?.delete, false);
  assert.equal(warningAbout(r.warnings, /createFolder start="false"/).line, lineOf('<createFolder'));
  assert.equal(warningAbout(r.warnings, /createFile start="true"/).line, lineOf('<createFile'));
  assert.equal(warningAbout(r.warnings, /closeWrite start="false"/).line, lineOf('<closeWrite'));
  assert.equal(warningAbout(r.warnings, /moveFrom start="false"/).line, lineOf('<moveFrom'));
  assert.equal(warningAbout(r.warnings, /moveTo start="false"/).line, lineOf('<moveTo'));
  assert.equal(warningAbout(r.warnings, /modify start="true"/).line, lineOf('<modify'));
  assert.ok(!r.warnings.some((w) => /attrib is off/.test(w.message)));
});

test('a disabled command plugin is written as a commented-out hook, and the YAML still parses', () => {
  const { config, yaml, warnings } = run(FIXTURE);
  assert.equal(config.sources[0]?.hooks, undefined);
  assert.match(yaml, /# hooks:\n\s+# {3}- name: command\n/);
  const w = warningAbout(warnings, /command plugin is not enabled/);
  assert.equal(w.line, lineOf('<plugin name="command">'));
  parseConfig(yaml);
});

test('an enabled command plugin becomes a hook with an argv list, its include filter converted; a shell prefix stays commented out', () => {
  const enabled = variant('<plugin start="false" name="command"/>', '<plugin start="true" name="command"/>')
    .replace('prefix="/bin/sh" suffix=""', 'prefix="/usr/local/bin/purge --zone www" suffix="--quiet"')
    .replace('<filter start="false">\n            <include', '<filter start="true">\n            <include');
  const { config, warnings, yaml } = run(enabled);
  const hook = config.sources[0]?.hooks?.[0];
  assert.deepEqual(hook, {
    name: 'command',
    command: ['/usr/local/bin/purge', '--zone', 'www', '--quiet'],
    include: ['*.php', '*.sh'],
    targets: ['192.168.4.100'],
  });
  warningAbout(warnings, /argv list \(no shell\).*JSON on stdin/);
  const c = parseConfig(yaml);
  assert.deepEqual(c.sources[0]?.hooks[0]?.command, ['/usr/local/bin/purge', '--zone', 'www', '--quiet']);

  const shell = run(
    variant('<plugin start="false" name="command"/>', '<plugin start="true" name="command"/>'),
  );
  assert.equal(shell.config.sources[0]?.hooks, undefined);
  warningAbout(shell.warnings, /prefix \/bin\/sh is a shell: it would execute that JSON/);
  assert.match(shell.yaml, /# hooks:/);
});

test('an http plugin becomes a url hook; socket and refreshCDN plugins are warned about, socket pointing to /api/events', () => {
  const xml = variant(
    '<plugin name="socket">',
    '<plugin name="http">\n        <localpath watch="/home/www.zhang.com">\n            <deshost url="hooks.example.com/sersync" port="80"/>\n        </localpath>\n    </plugin>\n    <plugin name="socket">',
  );
  const { config, warnings, yaml } = run(xml);
  assert.deepEqual(config.sources[0]?.hooks, [
    { name: 'http', url: 'http://hooks.example.com/sersync', targets: ['192.168.4.100'] },
  ]);
  assert.equal(
    warningAbout(warnings, /http plugin: sersync POSTed form fields/).line,
    lineOf('<plugin name="http">', xml),
  );
  assert.equal(
    warningAbout(warnings, /socket plugin .*\/api\/events/).line,
    lineOf('<plugin name="socket">', xml),
  );
  assert.equal(
    warningAbout(warnings, /refreshCDN plugin has no equivalent/).line,
    lineOf('<plugin name="refreshCDN">', xml),
  );
  parseConfig(yaml);
});

test('behaviours that change are always warned about: dotfiles now sync, exit 23 is no longer success', () => {
  const { warnings } = run(FIXTURE);
  warningAbout(warnings, /dotfiles now sync/);
  warningAbout(warnings, /exit 23 .* no longer success/);
});

test('every warning with a line points at a line of the file', () => {
  const { warnings } = run(FIXTURE);
  for (const w of warnings) if (w.line !== undefined) assert.ok(w.line >= 1 && w.line <= fixtureLines.length);
});

function importError(xml: string): SersyncImportError {
  try {
    importSersync(xml);
  } catch (e) {
    assert.ok(e instanceof SersyncImportError, `expected SersyncImportError, got ${e}`);
    return e;
  }
  assert.fail('malformed input was accepted');
}

test('malformed XML: an unclosed tag is reported with its line and column', () => {
  const xml = FIXTURE.replace('<rsync>', '<rsync>\n        <commonParams params="-artuz">');
  const e = importError(xml);
  assert.match(e.message, /not well-formed XML/);
  assert.equal(typeof e.line, 'number');
  assert.equal(typeof e.column, 'number');
  assert.ok((e.line as number) > 1);
});

test('malformed XML: text that is not XML at all, or nothing', () => {
  const e = importError('this is not a config\n');
  assert.match(e.message, /not well-formed XML/);
  assert.equal(e.line, 1);
  assert.match(importError('').message, /empty/);
  assert.match(importError('<config><a/></config>').message, /no <head> element/);
});

test('a sersync config without <localpath> or without remotes is refused with the line to fix', () => {
  const start = FIXTURE.indexOf('<localpath watch="/home/www.zhang.com">');
  const end = FIXTURE.indexOf('</localpath>', start) + '</localpath>'.length;
  const e = importError(FIXTURE.slice(0, start) + FIXTURE.slice(end));
  assert.match(e.message, /no <localpath watch="\.\.\."> inside <sersync>/);
  assert.equal(e.line, lineOf('<sersync>'));
  const noRemote = FIXTURE.replace(/\s*<remote [^>]*\/>/g, '');
  assert.match(importError(noRemote).message, /no <remote/);
  const noModule = FIXTURE.replace(
    '<remote ip="192.168.4.205" name="home_www.zhang.com"/>',
    '<remote ip="192.168.4.205"/>',
  );
  assert.equal(importError(noModule).line, lineOf('192.168.4.205'));
});

test('what syncward does not accept (here a user name with a space) is imported and warned about, not hidden', () => {
  const { warnings } = run(variant('users="home_www.zhang.com_user"', 'users="web user"'));
  const w = warningAbout(
    warnings,
    /the imported config does not validate yet, fix it by hand: sources\[0\]\.targets\[0\]\.url: /,
  );
  assert.equal(w.line, undefined);
  // the fixture itself validates: no such warning
  assert.ok(!run(FIXTURE).warnings.some((x) => /does not validate/.test(x.message)));
});

test('several confxml.xml (one per sersync process) become one config with a source each', () => {
  // its own module: two sources sending to one module would delete each other's files
  const img = FIXTURE.replace('/home/www.zhang.com"', '/srv/img/www.zhang.com"')
    .replace(/<remote ip="192\.168\.4\.205"[^>]*\/>/, '')
    .replace(
      '<remote ip="192.168.4.100" name="home_www.zhang.com"/>',
      '<remote ip="192.168.4.100" name="img"/>',
    );
  const r = importSersyncFiles([
    { xml: FIXTURE, file: 'www.xml' },
    { xml: img, file: 'img.xml' },
  ]);
  const c = parseConfig(r.yaml);
  assert.deepEqual(
    c.sources.map((s) => [s.name, s.path, s.targets.length]),
    [
      ['www.zhang.com', '/home/www.zhang.com', 2],
      ['www.zhang.com-2', '/srv/img/www.zhang.com', 1],
    ],
  );
  assert.match(r.yaml.split('\n')[0] ?? '', /from the sersync configs www\.xml, img\.xml/);
  assert.match(r.yaml, /# - img\.xml:\d+: commonParams -u is dropped/);
  const u = r.warnings.filter((w) => /-u is dropped/.test(w.message));
  assert.deepEqual(
    u.map((w) => [w.file, w.line]),
    [
      ['www.xml', lineOf('commonParams')],
      ['img.xml', lineOf('commonParams')],
    ],
  );
  // said once, not per file
  assert.equal(r.warnings.filter((w) => /dotfiles now sync/.test(w.message)).length, 1);
  // the same directory twice is a mistake to point out
  const twice = importSersyncFiles([
    { xml: FIXTURE, file: 'a.xml' },
    { xml: FIXTURE, file: 'b.xml' },
  ]);
  const w = warningAbout(twice.warnings, /\/home\/www\.zhang\.com is also watched by a\.xml/);
  assert.equal(w.file, 'b.xml');
  // and so is two sources writing one target module
  warningAbout(twice.warnings, /does not validate yet.*writes the same directory as the target/);
});

test('with several files, an error names the file it is in', () => {
  try {
    importSersyncFiles([
      { xml: FIXTURE, file: 'good.xml' },
      { xml: '<head><sersync></sersync></head>', file: 'bad.xml' },
    ]);
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof SersyncImportError);
    assert.equal(e.file, 'bad.xml');
    assert.match(e.message, /no <localpath/);
  }
});
