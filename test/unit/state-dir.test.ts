import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { prepareStateDir, StateDirError, stateDirProblem } from '../../src/journal/index.js';

const uid = process.geteuid?.() ?? 0;

function temp(): { dir: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'syncward-sdu-'));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a state_dir of this user, mode 700, under root-owned or sticky directories is trusted, existing or not', () => {
  const t = temp();
  try {
    assert.equal(stateDirProblem(t.dir, uid), null);
    assert.equal(stateDirProblem(join(t.dir, 'not', 'yet'), uid), null);
  } finally {
    t.dispose();
  }
});

test('a directory above state_dir that its group can write (not sticky) is refused, naming it and the chmod', () => {
  const t = temp();
  try {
    const shared = join(t.dir, 'shared');
    mkdirSync(join(shared, 'state'), { recursive: true, mode: 0o700 });
    chmodSync(shared, 0o775);
    assert.match(
      stateDirProblem(join(shared, 'state'), uid) ?? '',
      new RegExp(
        `^${shared}, above state_dir .* is writable by its group \\(mode 775\\).*chmod go-w ${shared}`,
      ),
    );
    // the same directory sticky (like /tmp): others cannot rename what is ours
    chmodSync(shared, 0o1777);
    assert.equal(stateDirProblem(join(shared, 'state'), uid), null);
  } finally {
    t.dispose();
  }
});

test('a directory above state_dir owned by another user is refused, sticky or not', {
  skip: uid !== 0 && 'needs root to chown',
}, () => {
  const t = temp();
  try {
    const theirs = join(t.dir, 'home-of-nobody');
    mkdirSync(join(theirs, 'state'), { recursive: true, mode: 0o700 });
    chownSync(theirs, 65534, 65534);
    chmodSync(theirs, 0o1755);
    assert.match(
      stateDirProblem(join(theirs, 'state'), uid) ?? '',
      /home-of-nobody, above state_dir .* belongs to uid 65534/,
    );
  } finally {
    t.dispose();
  }
});

test('prepareStateDir creates state_dir and ssh/ mode 700 whatever the umask, and throws an unsafe StateDirError for a loose one', () => {
  const t = temp();
  const umask = process.umask(0o277);
  try {
    const dir = join(t.dir, 'new');
    prepareStateDir(dir);
    assert.equal((statSync(dir).mode & 0o777).toString(8), '700');
    assert.equal((statSync(join(dir, 'ssh')).mode & 0o777).toString(8), '700');
    chmodSync(dir, 0o707);
    assert.throws(
      () => prepareStateDir(dir),
      (e: Error) =>
        e instanceof StateDirError &&
        e.kind === 'unsafe' &&
        /writable by others \(mode 707\)/.test(e.message),
    );
  } finally {
    process.umask(umask);
    t.dispose();
  }
});
