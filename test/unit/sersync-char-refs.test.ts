import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { decodeXmlReferences, importSersync, SersyncImportError } from '../../src/migrate/sersync/index.js';

const FIXTURE = readFileSync(
  new URL('../../../test/fixtures/sersync-char-refs.xml', import.meta.url),
  'utf8',
);

interface Imported {
  sources: {
    path: string;
    exclude?: string[];
    full_sync?: string;
    targets: { url: string; password_file?: string; timeout_s?: number; rsync_args?: string[] }[];
  }[];
}

test('import-sersync decodes character references and the predefined entities in paths and every attribute it reads', () => {
  const r = importSersync(FIXTURE, { file: 'confxml.xml' });
  const c = parse(r.yaml) as Imported;
  const s = c.sources[0];
  assert.ok(s);
  assert.equal(s.path, '/data/中文 & co');
  assert.deepEqual(s.exclude, ['*.缓存']);
  assert.equal(s.full_sync, '0 * * * *');
  const t = s.targets[0];
  assert.equal(t?.url, 'rsync://sync_user@192.168.4.100/www开发');
  assert.equal(t?.password_file, "/etc/rsync 'pw'.txt");
  assert.equal(t?.timeout_s, 100);
  assert.deepEqual(t?.rsync_args, ['-z', '--bwlimit=500']);
  assert.doesNotMatch(r.yaml, /&#|&amp;|&apos;/);
});

test('XML references decode in one pass: &amp;#10; is the text "&#10;", &#10; a newline', () => {
  assert.equal(decodeXmlReferences('a&amp;#10;b'), 'a&#10;b');
  assert.equal(decodeXmlReferences('a&#10;b&#x4E2D;&lt;&gt;&quot;&apos;'), 'a\nb中<>"\'');
  assert.equal(decodeXmlReferences('a & b'), 'a & b');
});

test('an entity XML does not define, or a reference to a forbidden character, is an error naming its line', () => {
  const xml = '<head>\n<sersync>\n<localpath watch="/data/&nbsp;x"/>\n</sersync>\n</head>\n';
  assert.throws(
    () => importSersync(xml),
    (e: unknown) =>
      e instanceof SersyncImportError && e.line === 3 && /&nbsp; is not an XML entity/.test(e.message),
  );
  assert.throws(() => decodeXmlReferences('&#0;'), /&#0; is not a character XML allows/);
  assert.throws(() => decodeXmlReferences('&#xD800;'), /is not a character XML allows/);
});
