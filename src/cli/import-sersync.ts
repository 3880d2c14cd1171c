import { readFileSync } from 'node:fs';
import { importSersyncFiles, type SersyncFile, SersyncImportError } from '../migrate/sersync/index.js';
import { EXIT } from './exit.js';

export interface ImportSersyncOptions {
  stateDir?: string;
}

/**
 * `syncward import-sersync FILE...`: the equivalent syncward YAML on stdout
 * (one source per confxml.xml), the warnings (each with its file and XML
 * line) on stderr. Exit 0 imported (warnings or not), 2 a file cannot be
 * read or is not a usable sersync config.
 */
export function runImportSersync(
  files: string[],
  o: ImportSersyncOptions = {},
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): number {
  const inputs: SersyncFile[] = [];
  for (const file of files) {
    try {
      inputs.push({ xml: decode(readFileSync(file)), file });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'no such file'
          : code === 'EACCES'
            ? 'permission denied'
            : code === 'EISDIR'
              ? 'it is a directory; give the confxml.xml file'
              : (e as Error).message;
      err.write(`syncward import-sersync: cannot read ${file}: ${why}\n`);
      return EXIT.usage;
    }
  }
  try {
    const r = importSersyncFiles(inputs, { stateDir: o.stateDir });
    out.write(r.yaml);
    for (const w of r.warnings)
      err.write(`warning: ${w.file ? `${w.file}:${w.line ? `${w.line}:` : ''} ` : ''}${w.message}\n`);
    err.write(
      `imported ${files.join(', ')} with ${r.warnings.length} warning(s); save the YAML, review it, then run: syncward check -c FILE\n`,
    );
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof SersyncImportError)) throw e;
    const where = [e.file ?? files[0], e.line, e.column].filter((x) => x !== undefined).join(':');
    err.write(`syncward import-sersync: ${where}: ${e.message}\n`);
    return EXIT.usage;
  }
}

/** sersync's default file declares ISO-8859-1, but many are saved as UTF-8 (Chinese comments): take UTF-8 when it is valid. */
function decode(buf: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return buf.toString('latin1');
  }
}
