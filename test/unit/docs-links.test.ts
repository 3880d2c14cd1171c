import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCS = [
  'README.md',
  'bench/README.md',
  ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`),
].filter((f) => f.endsWith('.md'));

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = `${dir}/${name}`;
    if (statSync(join(ROOT, p)).isDirectory()) {
      if (name !== 'results' && name !== 'node_modules') out.push(...filesUnder(p));
    } else if (/\.(ts|mjs|sh|md|c)$/.test(name)) out.push(p);
  }
  return out;
}

test('every link in the README and docs/ points to a file (and heading) of this repository', () => {
  const problems: string[] = [];
  for (const doc of DOCS) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)|<([a-z]+:\/\/[^>]+)>/g)) {
      const link = (m[1] ?? m[2]) as string;
      if (/^[a-z]+:/.test(link)) {
        problems.push(`${doc}: ${link} points outside the repository`);
        continue;
      }
      const [path = '', anchor] = link.split('#');
      const file = path === '' ? join(ROOT, doc) : join(ROOT, dirname(doc), path);
      if (relative(ROOT, file).startsWith('..'))
        problems.push(`${doc}: ${link} points outside the repository`);
      else if (!existsSync(file)) problems.push(`${doc}: ${link} names a file that does not exist`);
      else if (anchor !== undefined) {
        const headings = [...readFileSync(file, 'utf8').matchAll(/^#+ (.*)$/gm)].map((h) =>
          anchorOf(h[1] ?? ''),
        );
        if (!headings.includes(anchor)) problems.push(`${doc}: ${link} names a heading that does not exist`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('no doc or code comment refers to files kept outside the repository', () => {
  // split so this file does not match itself
  const outside = new RegExp(['\\.\\./shared/', 'DESIGN\\.md', 'FIELD[-]NOTES', 'STYLE\\.md'].join('|'));
  const files = [...DOCS, ...['src', 'test', 'bench', 'scripts', 'ui/src'].flatMap(filesUnder)];
  const hits = files.filter((f) => outside.test(readFileSync(join(ROOT, f), 'utf8')));
  assert.deepEqual(hits, []);
});

test("the README shows CI's test command exactly, and the demo", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8').trim().split('\n').at(-1) ?? '';
  assert.equal(ci, 'bash scripts/setup.sh --test && npm test');
  assert.ok(readme.includes(ci), 'README has the test command .ci/run runs');
  assert.ok(readme.includes('bash scripts/setup.sh && bash scripts/demo.sh'), 'README has the demo command');
  assert.ok(readme.length < 12_000, `README stays short (${readme.length} bytes): manuals go to docs/`);
});
