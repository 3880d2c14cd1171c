import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hookMatcher, hookPayload, mergePending, toMessage } from '../../src/hooks/index.js';
import { fromText } from '../../src/util/bytes.js';

const all = { include: [], targets: [] };

test('include patterns follow rsync: by name, anchored, and everything beneath a matching directory', () => {
  const m = hookMatcher(['*.css', '/static/', 'img/*.png']);
  assert.ok(m('a/b/site.css', 'upsert'));
  assert.ok(m('static/js/app.js', 'upsert'), 'beneath /static/');
  assert.ok(m('static', 'upsertTree'), 'the directory itself');
  assert.ok(!m('static', 'upsert'), 'a file named static is not the directory');
  assert.ok(!m('x/static/app.js', 'upsert'), '/static/ is anchored at the root');
  assert.ok(m('x/img/logo.png', 'delete'));
  assert.ok(!m('x/img/sub/logo.png', 'upsert'));
  assert.ok(!m('index.html', 'upsert'));
  assert.ok(hookMatcher([])('anything', 'delete'), 'no patterns: every path');
});

test("the source's canary file never reaches a hook, with or without include patterns", () => {
  const all = hookMatcher([], '.syncward-canary');
  assert.ok(!all('.syncward-canary', 'upsert'));
  assert.ok(all('sub/.syncward-canary', 'upsert'), 'only the canary path itself');
  assert.ok(all('index.html', 'upsert'));
  const dot = hookMatcher(['.*'], 'probe/canary');
  assert.ok(!dot('probe/canary', 'upsert'));
  assert.ok(dot('.htaccess', 'upsert'));
  const batch = { kind: 'batch' as const, changes: [{ path: '.syncward-canary', op: 'upsert' as const }] };
  assert.equal(
    hookPayload({ include: [], targets: [] }, all, 's', 't', batch, 1),
    null,
    'a canary-only batch runs no hook',
  );
});

test('an invalid include pattern is refused when the hook is built', () => {
  assert.throws(() => hookMatcher(['- *.tmp']), /rule prefix/);
});

test('a batch with no matching path, or for another target, gives no message; a full sync always does', () => {
  const css = { include: ['*.css'], targets: [] };
  const m = hookMatcher(css.include);
  const batch = { kind: 'batch' as const, changes: [{ path: 'index.html', op: 'upsert' as const }] };
  assert.equal(hookPayload(css, m, 'www', 'web1', batch, 1), null);
  const only2 = { include: [], targets: ['web2'] };
  assert.equal(hookPayload(only2, hookMatcher([]), 'www', 'web1', batch, 1), null);
  assert.ok(hookPayload(only2, hookMatcher([]), 'www', 'web2', batch, 1));
  const full = hookPayload(css, m, 'www', 'web1', { kind: 'full', changes: [] }, 7);
  assert.deepEqual(full && toMessage(full), {
    source: 'www',
    target: 'web1',
    kind: 'full',
    at: 7,
    paths: [],
  });
});

test('only the matching paths are passed, with their ops', () => {
  const m = hookMatcher(['*.css']);
  const p = hookPayload(
    { include: ['*.css'], targets: [] },
    m,
    'www',
    'web1',
    {
      kind: 'batch',
      changes: [
        { path: 'a.css', op: 'upsert' },
        { path: 'a.html', op: 'upsert' },
        { path: 'old.css', op: 'delete' },
      ],
    },
    5,
  );
  assert.deepEqual(p && toMessage(p).paths, [
    { path: 'a.css', op: 'upsert' },
    { path: 'old.css', op: 'delete' },
  ]);
});

test('hostile names survive into the JSON intact; invalid UTF-8 shows as U+FFFD', () => {
  const names = ['new\nline', `quote"'s`, '$(touch x) `id`', '-rf', 'back\\slash', 'sp ace/ünï'];
  const p = hookPayload(
    all,
    hookMatcher([]),
    'www',
    'web1',
    {
      kind: 'batch',
      changes: [
        ...names.map((n) => ({ path: fromText(n), op: 'upsert' as const })),
        { path: 'bad\xff', op: 'upsert' },
      ],
    },
    1,
  );
  assert.ok(p);
  const back = JSON.parse(JSON.stringify(toMessage(p))) as { paths: { path: string }[] };
  assert.deepEqual(
    back.paths.map((x) => x.path),
    [...names, 'bad\uFFFD'],
  );
});

test('merging keeps every path once, the latest op wins, and a full sync makes the merge full', () => {
  const m = hookMatcher([]);
  const mk = (kind: 'batch' | 'full', at: number, changes: { path: string; op: 'upsert' | 'delete' }[]) =>
    hookPayload(all, m, 'www', 'web1', { kind, changes }, at) as NonNullable<ReturnType<typeof hookPayload>>;
  const a = mk('batch', 1, [
    { path: 'x', op: 'upsert' },
    { path: 'y', op: 'upsert' },
  ]);
  const b = mk('batch', 2, [
    { path: 'x', op: 'delete' },
    { path: 'z', op: 'upsert' },
  ]);
  const ab = mergePending(a, b);
  assert.ok(ab);
  assert.deepEqual(toMessage(ab), {
    source: 'www',
    target: 'web1',
    kind: 'batch',
    at: 2,
    paths: [
      { path: 'y', op: 'upsert' },
      { path: 'x', op: 'delete' },
      { path: 'z', op: 'upsert' },
    ],
  });
  const full = mergePending(ab, mk('full', 3, []));
  assert.equal(full?.kind, 'full');
  assert.equal(full?.paths.size, 3);
  const other = hookPayload(
    all,
    m,
    'www',
    'web2',
    { kind: 'batch', changes: [{ path: 'q', op: 'upsert' }] },
    4,
  );
  assert.equal(mergePending(ab, other as NonNullable<typeof other>), null, 'another target is not merged');
});
