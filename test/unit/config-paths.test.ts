import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, type ConfigProblem, configFromArgs, parseConfig } from '../../src/config/index.js';
import { realPathOf } from '../../src/config/paths.js';

/** A temp tree for one test: `dir` is its real path (tmpdir itself may be a symlink). */
function tree(): { dir: string; dispose(): void } {
  const made = mkdtempSync(join(tmpdir(), 'syncward-paths-'));
  return { dir: realPathOf(made), dispose: () => rmSync(made, { recursive: true, force: true }) };
}

function yaml(stateDir: string, sources: { name: string; path: string; targets: string[] }[]): string {
  const lines = [`state_dir: ${JSON.stringify(stateDir)}`, 'sources:'];
  for (const s of sources) {
    lines.push(`  - name: ${s.name}`, `    path: ${JSON.stringify(s.path)}`, '    targets:');
    s.targets.forEach((url, i) => {
      lines.push(`      - name: t${i + 1}`, `        url: ${JSON.stringify(url)}`);
    });
  }
  return `${lines.join('\n')}\n`;
}

function problemsOf(text: string): ConfigProblem[] {
  try {
    parseConfig(text, 'syncward.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.problems;
  }
  return [];
}

test('a local target that is the parent of its source is refused, naming both paths and what to do', () => {
  const t = tree();
  try {
    const src = join(t.dir, 'src');
    const problems = problemsOf(yaml(`${t.dir}-state`, [{ name: 'www', path: src, targets: [t.dir] }]));
    assert.equal(problems.length, 1, JSON.stringify(problems));
    const p = problems[0] as ConfigProblem;
    assert.equal(p.key, 'sources[0].targets[0].url');
    assert.ok(p.message.includes(`"www/t1" ${t.dir} contains the source "www" ${src}`), p.message);
    assert.match(p.message, /would remove the source .*point the target at a directory outside/);
  } finally {
    t.dispose();
  }
});

test('a local target equal to its source, or inside it, is refused', () => {
  const t = tree();
  try {
    const src = join(t.dir, 'src');
    const problems = problemsOf(
      yaml(`${t.dir}-state`, [{ name: 'www', path: src, targets: [src, join(src, 'deep/mirror')] }]),
    );
    const messages = problems.map((p) => p.message);
    assert.equal(
      messages.filter((m) => /"www\/t1" .* is the source "www"/.test(m)).length,
      1,
      messages.join('\n'),
    );
    assert.equal(messages.filter((m) => /"www\/t2" .* lies inside the source "www"/.test(m)).length, 1);
  } finally {
    t.dispose();
  }
});

test('a target path through a symlink into the source is refused by its real path, even before it exists', () => {
  const t = tree();
  try {
    const src = join(t.dir, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    // an existing link, a path below it that does not exist yet, and a dangling link to a future subdirectory
    symlinkSync(join(src, 'sub'), join(t.dir, 'link'));
    symlinkSync(join(src, 'later'), join(t.dir, 'dangling'));
    const targets = [join(t.dir, 'link'), join(t.dir, 'link', 'not', 'yet'), join(t.dir, 'dangling')];
    const problems = problemsOf(yaml(`${t.dir}-state`, [{ name: 'www', path: src, targets }]));
    const inside = problems.filter((p) => /lies inside the source "www"/.test(p.message));
    assert.equal(inside.length, 3, JSON.stringify(problems));
    assert.ok(
      inside[0]?.message.includes(`${join(t.dir, 'link')} (real path ${join(src, 'sub')})`),
      inside[0]?.message,
    );
    assert.ok(
      inside[1]?.message.includes(`(real path ${join(src, 'sub', 'not', 'yet')})`),
      inside[1]?.message,
    );
    assert.ok(inside[2]?.message.includes(`(real path ${join(src, 'later')})`), inside[2]?.message);
  } finally {
    t.dispose();
  }
});

test('a source given through a symlink is compared by its real path too', () => {
  const t = tree();
  try {
    mkdirSync(join(t.dir, 'data', 'www'), { recursive: true });
    symlinkSync(join(t.dir, 'data'), join(t.dir, 'alias'));
    const problems = problemsOf(
      yaml(`${t.dir}-state`, [
        { name: 'www', path: join(t.dir, 'alias', 'www'), targets: [join(t.dir, 'data')] },
      ]),
    );
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.ok(
      problems[0]?.message.includes(`(real path ${join(t.dir, 'data', 'www')})`),
      problems[0]?.message,
    );
  } finally {
    t.dispose();
  }
});

test('state_dir inside a source, or inside a local target, is refused', () => {
  const t = tree();
  try {
    const src = join(t.dir, 'src');
    const dst = join(t.dir, 'dst');
    const inSource = problemsOf(yaml(join(src, '.syncward'), [{ name: 'www', path: src, targets: [dst] }]));
    assert.equal(inSource.length, 1, JSON.stringify(inSource));
    assert.equal(inSource[0]?.key, 'state_dir');
    assert.match(
      inSource[0]?.message ?? '',
      /state_dir .* lies inside the source "www" .*move state_dir outside/,
    );
    const inTarget = problemsOf(yaml(join(dst, 'state'), [{ name: 'www', path: src, targets: [dst] }]));
    assert.equal(inTarget.length, 1, JSON.stringify(inTarget));
    assert.equal(inTarget[0]?.key, 'sources[0].targets[0].url');
    assert.match(inTarget[0]?.message ?? '', /contains state_dir .*would delete the journal/);
  } finally {
    t.dispose();
  }
});

test('a target that contains another source is refused; one inside another source (a cascade) is allowed', () => {
  const t = tree();
  try {
    const a = join(t.dir, 'a');
    const b = join(t.dir, 'b');
    const contains = problemsOf(
      yaml(`${t.dir}-state`, [
        { name: 'a', path: a, targets: [join(t.dir, 'mirror-a')] },
        { name: 'b', path: join(t.dir, 'mirror-a', 'b'), targets: [join(t.dir, 'mirror-b')] },
      ]),
    );
    assert.equal(contains.length, 1, JSON.stringify(contains));
    assert.match(contains[0]?.message ?? '', /"a\/t1" .* contains the source "b"/);
    const cascade = problemsOf(
      yaml(`${t.dir}-state`, [
        { name: 'a', path: a, targets: [join(b, 'copy-of-a')] },
        { name: 'b', path: b, targets: [join(t.dir, 'mirror-b')] },
      ]),
    );
    assert.deepEqual(cascade, []);
  } finally {
    t.dispose();
  }
});

test('two sources writing the same target are refused: local by real path, rsync:// by host, port, module and path, ssh by host, port and path', () => {
  const t = tree();
  try {
    mkdirSync(join(t.dir, 'backup'));
    symlinkSync(join(t.dir, 'backup'), join(t.dir, 'bk'));
    const same = (x: string, y: string) =>
      problemsOf(
        yaml(`${t.dir}-state`, [
          { name: 'a', path: join(t.dir, 'a'), targets: [x] },
          { name: 'b', path: join(t.dir, 'b'), targets: [y] },
        ]),
      );
    const local = same(join(t.dir, 'backup', 'www'), join(t.dir, 'bk', 'www'));
    assert.equal(local.length, 1, JSON.stringify(local));
    assert.equal(local[0]?.key, 'sources[1].targets[0].url');
    assert.match(local[0]?.message ?? '', /"b\/t1" .* writes the same directory as the target "a\/t1"/);
    assert.equal(same('rsync://u@Web1/www/x', 'rsync://v@web1:873/www/x/').length, 1);
    assert.match(
      same('rsync://web1/www', 'rsync://web1/www/sub')[0]?.message ?? '',
      /lies inside the target "a\/t1" rsync:\/\/web1\/www \(both on rsync:\/\/web1:873\/www\)/,
    );
    assert.equal(same('ssh://deploy@h/srv/www', 'ssh://root@H:22/srv/www').length, 1);
    // different daemons, modules, hosts or directories are different trees
    assert.deepEqual(same('rsync://web1/www', 'rsync://web1:8873/www'), []);
    assert.deepEqual(same('rsync://web1/www', 'rsync://web1/www2'), []);
    assert.deepEqual(same('ssh://h1/srv/www', 'ssh://h2/srv/www'), []);
    assert.deepEqual(same('ssh://h/srv/www', 'ssh://h/srv/www2'), []);
    assert.deepEqual(same(join(t.dir, 'backup', 'a'), join(t.dir, 'bk', 'b')), []);
  } finally {
    t.dispose();
  }
});

test('start --source/--target refuses a target that is the source parent, naming the flag', () => {
  const t = tree();
  try {
    assert.throws(
      () =>
        configFromArgs({ source: join(t.dir, 'src'), targets: [t.dir], stateDir: join(t.dir, '..', 'st') }),
      (e: Error) =>
        e instanceof ConfigError &&
        e.problems.some((p) => p.key === `--target ${t.dir}` && /contains the source/.test(p.message)),
    );
    assert.throws(
      () =>
        configFromArgs({
          source: join(t.dir, 'src'),
          targets: [join(t.dir, 'dst')],
          stateDir: join(t.dir, 'src', 'state'),
        }),
      (e: Error) => e instanceof ConfigError && e.problems.some((p) => p.key === '--state-dir'),
    );
  } finally {
    t.dispose();
  }
});
