import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  EVERYTHING_ALLOWED,
  type GuardCheck,
  judgeDeletes,
  NOTHING_ALLOWED,
} from '../../src/dispatch/delete-rules.js';
import { probeRoot } from '../../src/dispatch/guard.js';

function check(o: Partial<GuardCheck> = {}): GuardCheck {
  return {
    what: 'full sync',
    root: '/srv/www',
    mirrorsDeletes: true,
    rootState: { kind: 'ok' },
    allow: NOTHING_ALLOWED,
    ...o,
  };
}

test('with no limit and a healthy root a transfer goes ahead without a dry run', () => {
  assert.deepEqual(judgeDeletes(check()), { verdict: 'go' });
});

test('a source that does not mirror deletions is never held, whatever its root looks like', () => {
  assert.deepEqual(
    judgeDeletes(check({ mirrorsDeletes: false, rootState: { kind: 'missing', detail: 'does not exist' } })),
    { verdict: 'go' },
  );
  assert.deepEqual(judgeDeletes(check({ mirrorsDeletes: false, rootState: { kind: 'empty' }, counted: 9 })), {
    verdict: 'go',
  });
});

test('a missing or replaced root is refused before any dry run, and says which', () => {
  const missing = judgeDeletes(check({ rootState: { kind: 'missing', detail: 'does not exist' } }));
  assert.equal(missing.verdict, 'refuse');
  assert.equal(missing.verdict === 'refuse' && missing.rule, 'rootMissing');
  assert.match(missing.verdict === 'refuse' ? missing.reason : '', /\/srv\/www does not exist/);
  const replaced = judgeDeletes(check({ rootState: { kind: 'replaced' } }));
  assert.equal(replaced.verdict === 'refuse' && replaced.rule, 'rootReplaced');
});

test('an empty root asks for a count, then refuses any deletion at all', () => {
  const empty = check({ rootState: { kind: 'empty' } });
  assert.deepEqual(judgeDeletes(empty), { verdict: 'count' });
  assert.deepEqual(judgeDeletes({ ...empty, counted: 0 }), { verdict: 'go' }, 'an empty target stays empty');
  const v = judgeDeletes({ ...empty, counted: 1, maxDelete: 1000 });
  assert.equal(v.verdict === 'refuse' && v.rule, 'rootEmpty', 'even far under max_delete');
  assert.equal(v.verdict === 'refuse' && v.deletes, 1);
  assert.match(v.verdict === 'refuse' ? v.reason : '', /empty.*would delete 1 entries/);
});

test('an emptied root with no max_delete is held for being empty, naming no limit that is not set', () => {
  const v = judgeDeletes(check({ rootState: { kind: 'empty' }, counted: 12 }));
  assert.equal(v.verdict === 'refuse' && v.rule, 'rootEmpty');
  const reason = v.verdict === 'refuse' ? v.reason : '';
  assert.equal(
    reason,
    'the source root /srv/www is empty (a missing mount? a wrong rm -rf?) and a full sync would delete 12 entries on the target',
  );
  assert.doesNotMatch(reason, /limit|max_delete/);
});

test('max_delete refuses one past the limit, counting the deletes just before', () => {
  const limited = check({ maxDelete: 5 });
  assert.deepEqual(judgeDeletes(limited), { verdict: 'count' });
  assert.deepEqual(judgeDeletes({ ...limited, counted: 5 }), { verdict: 'go' });
  const over = judgeDeletes({ ...limited, counted: 6 });
  assert.equal(over.verdict === 'refuse' && over.rule, 'maxDelete');
  assert.equal(over.verdict === 'refuse' && over.deletes, 6);
  assert.match(
    over.verdict === 'refuse' ? over.reason : '',
    /would delete 6 entries, more than max_delete 5/,
  );
  const window = judgeDeletes({ ...limited, counted: 3, recent: 3 });
  assert.equal(window.verdict === 'refuse' && window.rule, 'maxDelete');
  assert.match(window.verdict === 'refuse' ? window.reason : '', /plus 3 deleted/);
});

test('--allow-deletes N raises max_delete to N for this run, never lowers it', () => {
  const allow = (deletes: number) => ({ deletes, emptySource: false });
  assert.deepEqual(judgeDeletes(check({ maxDelete: 5, counted: 12, allow: allow(12) })), { verdict: 'go' });
  const v = judgeDeletes(check({ maxDelete: 5, counted: 13, allow: allow(12) }));
  assert.match(v.verdict === 'refuse' ? v.reason : '', /more than the 12 allowed/);
  assert.deepEqual(judgeDeletes(check({ maxDelete: 5, counted: 5, allow: allow(2) })), { verdict: 'go' });
});

test('deletions allowed past max_delete do not lift the empty-root rule, and the reverse', () => {
  const empty = check({ rootState: { kind: 'empty' }, maxDelete: 5, counted: 10 });
  const a = judgeDeletes({ ...empty, allow: { deletes: 100, emptySource: false } });
  assert.equal(a.verdict === 'refuse' && a.rule, 'rootEmpty');
  const b = judgeDeletes({ ...empty, allow: { deletes: 0, emptySource: true } });
  assert.equal(b.verdict === 'refuse' && b.rule, 'maxDelete');
  assert.deepEqual(judgeDeletes({ ...empty, allow: { deletes: 10, emptySource: true } }), { verdict: 'go' });
});

test('a resume lets the held transfer through as it is', () => {
  for (const rootState of [
    { kind: 'ok' as const },
    { kind: 'empty' as const },
    { kind: 'replaced' as const },
    { kind: 'missing' as const, detail: 'does not exist' },
  ]) {
    const v = judgeDeletes(check({ rootState, maxDelete: 1, counted: 5000, allow: EVERYTHING_ALLOWED }));
    assert.deepEqual(v, { verdict: 'go' }, rootState.kind);
  }
});

test('probeRoot: a root is empty when it holds only what syncward ignores, replaced when its device differs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syncward-probe-'));
  try {
    const root = join(dir, 'www');
    assert.deepEqual(probeRoot(root, [], null), { kind: 'missing', detail: 'does not exist' });
    writeFileSync(root, 'a file\n');
    assert.deepEqual(probeRoot(root, [], null), { kind: 'missing', detail: 'is not a directory' });
    rmSync(root);
    mkdirSync(root);
    assert.deepEqual(probeRoot(root, [], null), { kind: 'empty' });
    writeFileSync(join(root, '.syncward-canary'), 'x\n');
    assert.deepEqual(probeRoot(root, ['.syncward-canary'], null), { kind: 'empty' });
    assert.deepEqual(probeRoot(root, [], null), { kind: 'ok' });
    const dev = statSync(root).dev;
    assert.deepEqual(probeRoot(root, [], dev), { kind: 'ok' });
    assert.deepEqual(probeRoot(root, [], dev + 1), { kind: 'replaced' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
