import type { BytePath } from '../util/bytes.js';

/**
 * Filter rules that leave paths out of a transfer: the paths that keep
 * failing (unreadable, too long for rsync), so that their error does not
 * stop the rest. Used by transfers and by audits alike.
 */

/**
 * rsync discards a filter pattern of MAXPATHLEN (4,096) bytes or more
 * ("discarding over-long filter"): stay well below.
 */
export const PATTERN_MAX = 4000;

const WILD = /[*?[\\]/;

/**
 * An rsync filter rule that leaves out exactly `path` (and, for a directory,
 * what is beneath it), anchored at the transfer root.
 *
 * Why leave it out: one failing path in a listing makes rsync skip every
 * deletion of the run ("IO error encountered -- skipping file deletion").
 * An excluded path is neither sent nor deleted on the target (no
 * --delete-excluded), so leaving out more than needed never destroys.
 *
 * rsync honours backslash escapes only in a pattern that has a wildcard, and
 * argv cannot carry non-UTF-8 bytes: a byte >= 0x80 or a control character
 * becomes '?' (any one byte but '/'). A pattern too long for rsync keeps its
 * first and last components and matches each one in between with '*': the
 * same depth, the same ends.
 */
export function excludeRule(path: BytePath): string {
  const parts = path.split('/');
  const literal = (s: string) => s.replace(/[*?[\\]/g, '\\$&');
  const safe = (s: string) => literal(s).replace(/[\x00-\x1f\x7f-\xff]/g, '?');
  let wild = parts.some((s) => WILD.test(s) || /[\x00-\x1f\x7f-\xff]/.test(s));
  const out = parts.map((s) => (wild ? safe(s) : s));
  const size = () => out.reduce((n, s) => n + s.length + 1, 0);
  // replace components from the middle outwards until it fits
  for (let k = 0; size() > PATTERN_MAX && k < parts.length - 2; k++) {
    if (!wild) {
      for (let i = 0; i < out.length; i++) out[i] = safe(parts[i] as string);
      wild = true;
    }
    const mid = Math.floor((parts.length - 1) / 2);
    const i = k % 2 === 0 ? mid - Math.floor(k / 2) : mid + Math.ceil(k / 2);
    if (i > 0 && i < parts.length - 1) out[i] = '*';
  }
  return `--filter=- /${out.join('/')}`;
}

/**
 * rsync cannot hold a path of MAXPATHLEN - 1 (4,095) bytes or more: it fails
 * while listing the directory above it ("filename overflows max-path len"),
 * before any filter rule is consulted.
 */
export const RSYNC_PATH_MAX = 4094;

/**
 * What must be left out so that `path` cannot fail a listing: the path
 * itself, or for a path too long for rsync, the deepest directory above it
 * that rsync can hold (its listing is what fails).
 */
export function exclusionFor(path: BytePath): BytePath {
  let p = path;
  while (p.length >= RSYNC_PATH_MAX) {
    const i = p.lastIndexOf('/');
    if (i < 0) return '';
    p = p.slice(0, i);
  }
  return p;
}

/** Rules leaving out every path in `paths` but those listed in the call itself. */
export function excludeArgs(paths: Iterable<BytePath>, listed: ReadonlySet<BytePath> = new Set()): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    if (listed.has(p)) continue;
    const x = exclusionFor(p);
    if (x !== '') out.add(excludeRule(x));
  }
  return [...out];
}
