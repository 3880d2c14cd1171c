import { SersyncImport } from './convert.js';
import {
  type ImportOptions,
  type ImportResult,
  lineStarts,
  parseXml,
  type SersyncFile,
  SersyncImportError,
} from './parse.js';
import { render } from './write.js';

export { analyzeParams, minutesToCron, regexToPattern } from './convert.js';
export {
  decodeXmlReferences,
  type ImportOptions,
  type ImportResult,
  type ImportWarning,
  type SersyncFile,
  SersyncImportError,
} from './parse.js';
export { where } from './write.js';

/**
 * `syncward import-sersync`: a sersync 2.5.x confxml.xml turned into
 * syncward YAML. Pure: XML text in, YAML text and warnings out. Each warning
 * names the XML line it comes from, so an operator can check it against the
 * file. What sersync did is taken from its source (FileSynchronize.cpp,
 * Inotify.cpp, CommandInterface.cpp, HttpInterface.cpp).
 */

/** Converts a sersync confxml.xml into syncward YAML. Throws SersyncImportError for input sersync could not run. */
export function importSersync(xml: string, o: ImportOptions = {}): ImportResult {
  return importSersyncFiles([{ xml, file: o.file }], o);
}

/**
 * Several confxml.xml as one config, a source each: sersync needed one
 * process (and one file) per watched directory, syncward runs them all.
 */
export function importSersyncFiles(
  files: SersyncFile[],
  o: Pick<ImportOptions, 'stateDir'> = {},
): ImportResult {
  const parts = files.map((f, i) => {
    try {
      return new SersyncImport(parseXml(f.xml), lineStarts(f.xml), i, f.file).collect();
    } catch (e) {
      if (e instanceof SersyncImportError && files.length > 1 && e.file === undefined)
        throw new SersyncImportError(e.message, e.line, e.column, f.file);
      throw e;
    }
  });
  const warnings = parts.flatMap((p) => p.warnings);
  const seen = new Map<string, number>();
  for (const [i, p] of parts.entries()) {
    const base = p.source.name as string;
    let name = base;
    for (let n = 2; seen.has(name); n++) name = `${base}-${n}`;
    seen.set(name, i);
    p.source.name = name;
    const same = parts.slice(0, i).find((q) => q.source.path === p.source.path);
    if (same)
      warnings.push({
        file: p.file,
        message: `${p.source.path} is also watched by ${same.file ?? 'another file'}: two sources would watch and send it twice; merge their targets into one source`,
      });
  }
  // behaviours that change, whatever the files say
  warnings.push(
    {
      message:
        'dotfiles now sync: sersync silently skipped every file whose name starts with "." or ends with "~" (so .htaccess never synced); to keep skipping some, list them in exclude (e.g. "*~", ".*.swp")',
    },
    {
      message:
        'rsync exit 23 (partial transfer) is no longer success: sersync counted it as done and files went missing; syncward retries the failed paths and alerts on those that keep failing',
    },
  );
  return render(parts, warnings, files, o.stateDir ?? '/var/lib/syncward');
}
