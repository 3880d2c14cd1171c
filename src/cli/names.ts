import type { BytePath } from '../util/bytes.js';

/**
 * A file name on one line that reads back to exactly one name: valid UTF-8
 * as it is, a backslash as \\, control characters (a newline in a name) and
 * bytes that are not UTF-8 as \xNN. '' (the root) is ".". Pure.
 */
export function printable(p: BytePath): string {
  if (p === '') return '.';
  // the byte string as UTF-8 sequences, or single bytes that start none
  const units =
    /[\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}|[\s\S]/g;
  return p.replace(units, (u) => {
    if (u === '\\') return '\\\\';
    const c = u.charCodeAt(0);
    if (u.length === 1 && (c < 0x20 || c >= 0x7f)) return `\\x${c.toString(16).padStart(2, '0')}`;
    return u.length === 1 ? u : Buffer.from(u, 'latin1').toString('utf8');
  });
}
