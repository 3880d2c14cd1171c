import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** Reading a sersync confxml.xml: well-formedness, references decoded as sersync's tinyxml did, element access with line numbers. */

export interface ImportWarning {
  /** the XML file it is about (when known and the warning is about one file) */
  file?: string;
  /** line in the XML file, when the warning is about one element */
  line?: number;
  message: string;
}

export interface ImportResult {
  yaml: string;
  warnings: ImportWarning[];
}

export interface ImportOptions {
  /** the XML file's name, for the header comment and the warnings */
  file?: string;
  /** state_dir written into the config */
  stateDir?: string;
}

/** One confxml.xml: its text and name. */
export interface SersyncFile {
  xml: string;
  file?: string;
}

/** The XML is not well-formed, or lacks what sersync itself requires. */
export class SersyncImportError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
    /** which file, when several were given */
    readonly file?: string,
  ) {
    super(message);
    this.name = 'SersyncImportError';
  }
}

export type XmlNode = Record<string, unknown>;

export const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

export type Json = Record<string, unknown>;

export function parseXml(xml: string): XmlNode {
  if (xml.trim() === '') throw new SersyncImportError('the file is empty; expected a sersync confxml.xml');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new SersyncImportError(`not well-formed XML: ${msg}`, line, col ?? undefined);
  }
  // references are decoded here, in one pass, not by the parser: its own pass
  // leaves &#x4E2D; and &#10; as they are (sersync's tinyxml decodes them)
  const decode = (_name: string, value: string) => decodeXmlReferences(value, xml);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    captureMetaData: true,
    parseAttributeValue: false,
    parseTagValue: false,
    processEntities: false,
    attributeValueProcessor: decode,
    tagValueProcessor: decode,
    isArray: (_name, _jpath, _leaf, isAttribute) => !isAttribute,
  });
  return parser.parse(xml) as XmlNode;
}

export const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * XML's five predefined entities and character references (&#10;, &#x4E2D;)
 * in one left-to-right pass, so "&amp;#10;" stays the literal text "&#10;".
 * A reference to a character XML forbids, or to an entity XML does not
 * define (&nbsp; is HTML), is an error naming its line in `xml`.
 */
export function decodeXmlReferences(value: string, xml = ''): string {
  return value.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z_][\w.-]*);/g, (ref, body: string) => {
    const fail = (why: string): never => {
      const at = xml.indexOf(ref);
      throw new SersyncImportError(`${ref} ${why}`, at < 0 ? undefined : xml.slice(0, at).split('\n').length);
    };
    if (!body.startsWith('#'))
      return (
        PREDEFINED[body] ??
        fail(
          'is not an XML entity: XML defines only &amp; &lt; &gt; &quot; &apos; (write other characters as &#N; or &#xN;, or as themselves)',
        )
      );
    const code =
      body[1] === 'x' || body[1] === 'X' ? Number.parseInt(body.slice(2), 16) : Number(body.slice(1));
    // XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
    const allowed =
      code === 0x9 ||
      code === 0xa ||
      code === 0xd ||
      (code >= 0x20 && code <= 0xd7ff) ||
      (code >= 0xe000 && code <= 0xfffd) ||
      (code >= 0x10000 && code <= 0x10ffff);
    return allowed ? String.fromCodePoint(code) : fail('is not a character XML allows');
  });
}

// ---------------------------------------------------------------- XML access

export function children(n: XmlNode | undefined, name: string): XmlNode[] {
  const v = n?.[name];
  if (!Array.isArray(v)) return [];
  // an element with neither attributes nor children parses as ""
  return v.map((x) => (typeof x === 'object' && x !== null ? (x as XmlNode) : {}));
}

export function child(n: XmlNode | undefined, name: string): XmlNode | undefined {
  return children(n, name)[0];
}

export function attr(n: XmlNode | undefined, name: string): string | undefined {
  const v = n?.[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

/** sersync compares start="true" exactly */
export function isOn(n: XmlNode): boolean {
  return attr(n, 'start') === 'true';
}

export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

export function lineAt(starts: number[], index: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] as number) <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
