import { Document, isMap, isPair, isScalar, type YAMLMap } from 'yaml';
import { ConfigError, formatProblem, parseConfig } from '../../config/index.js';
import type { ImportResult, ImportWarning, Json, SersyncFile } from './parse.js';

/** Writing the imported config: the YAML document with its header of warnings and comments on the keys. */

/** What one confxml.xml became: a source, and what to say about it. */
export interface ImportedSource {
  file?: string;
  index: number;
  source: Json;
  warnings: ImportWarning[];
  comments: Comments;
  /** active hooks (already in source.hooks) */
  hooks: Json[];
  /** hooks written commented out, with the reason */
  disabledHooks: { hook: Json; why: string }[];
}

/** The YAML: header with the warnings, comments on the keys, hooks not enabled as commented-out YAML. */
export function render(
  parts: ImportedSource[],
  warnings: ImportWarning[],
  files: SersyncFile[],
  stateDir: string,
): ImportResult {
  const doc = new Document({ state_dir: stateDir, sources: parts.map((p) => p.source) });
  const names = files.map((f) => f.file ?? '(stdin)');
  doc.commentBefore = header(names, warnings);
  for (const p of parts) {
    p.comments.apply(doc);
    if (p.disabledHooks.length === 0) continue;
    const block = p.disabledHooks.map(({ hook, why }) => {
      const body = new Document(p.hooks.length > 0 ? [hook] : { hooks: [hook] }).toString().trimEnd();
      return [`Not enabled: ${why}.`, 'Uncomment and adapt to use it:', ...body.split('\n')]
        .map((l) => ` ${l}`)
        .join('\n');
    });
    const map = doc.getIn(['sources', p.index]) as YAMLMap;
    const pair = map.items.find((x) => isPair(x) && isScalar(x.key) && x.key.value === 'targets');
    if (pair && isScalar(pair.key))
      pair.key.commentBefore = [block.join('\n\n'), pair.key.commentBefore].filter(Boolean).join('\n');
  }
  // what sersync accepted and syncward does not (a user name, a module, a path): said, not hidden
  try {
    parseConfig(doc.toString());
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems)
      warnings.push({
        message: `the imported config does not validate yet, fix it by hand: ${formatProblem({ ...p, line: undefined, column: undefined })}`,
      });
    doc.commentBefore = header(names, warnings);
  }
  const yaml = doc.toString({ lineWidth: 0 });
  return { yaml: yaml.endsWith('\n') ? yaml : `${yaml}\n`, warnings };
}

export function header(files: string[], warnings: ImportWarning[]): string {
  const several = files.length > 1;
  const lines = [
    ` syncward config imported from the sersync config${several ? 's' : ''} ${files.join(', ')} by \`syncward import-sersync\`.`,
    ' Review the warnings below, then check it: syncward check -c THIS_FILE',
    ' Reference: docs/configuration.md; what changes from sersync: docs/migration.md',
    '',
    ` ${warnings.length} warning(s):`,
    ...warnings.map((w) => ` - ${where(w, several)}${w.message}`),
  ];
  return lines.join('\n');
}

/** "line 9: ", or with several files "confxml-www.xml:9: " */
export function where(w: ImportWarning, withFile: boolean): string {
  if (withFile && w.file) return `${w.file}${w.line ? `:${w.line}` : ''}: `;
  return w.line ? `line ${w.line}: ` : '';
}

/** Comments to attach to map keys once the YAML document exists. */
export class Comments {
  private readonly list: { path: (string | number)[]; key: string; text: string }[] = [];

  key(path: (string | number)[], key: string, text: string): void {
    this.list.push({ path, key, text });
  }

  apply(doc: Document): void {
    for (const { path, key, text } of this.list) {
      const node = doc.getIn(path, true);
      if (!isMap(node)) continue;
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      if (pair && isScalar(pair.key))
        pair.key.commentBefore = [pair.key.commentBefore, ...text.split('\n').map((l) => ` ${l}`)]
          .filter(Boolean)
          .join('\n');
    }
  }
}
