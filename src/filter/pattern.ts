import { type BytePath, fromText } from '../util/bytes.js';

/**
 * One rsync include/exclude pattern, compiled to a RegExp over byte strings.
 *
 * This follows rsync's own matcher (exclude.c `rule_matches` and
 * wildmatch.c), not the man page's prose, where the two differ:
 * - a pattern without '/' and without '**' is matched against the last path
 *   component only; any other pattern against the path;
 * - a leading '/' anchors at the transfer root; an unanchored pattern with a
 *   '/' (and no '**') matches the last N components, N = its slash count + 1,
 *   counting a '/' inside '[...]' too (a path with fewer components never
 *   matches); an unanchored pattern with an infix/trailing '**' may start
 *   after any '/';
 * - a leading '**' may also match at the very start: rsync prefixes the path
 *   with '/' for it, so '**\/tmp/' matches a top-level 'tmp' too; an infix
 *   '/**\/' needs at least one '/' of its own ('a/**\/b' does not match 'a/b');
 * - one trailing '/' means directories only; a trailing '/***' also matches
 *   the directory itself;
 * - '*' and '?' and '[...]' never match '/', '**' (or more stars) does;
 * - wildcards are byte-wise: '?' is one byte, not one UTF-8 character;
 * - backslash escapes only when the pattern has a wildcard ('*', '?', '[').
 */
export interface CompiledPattern {
  /** the pattern as written */
  readonly text: string;
  readonly include: boolean;
  /** only the last component is matched */
  readonly nameOnly: boolean;
  matches(path: BytePath, isDir: boolean): boolean;
}

/** A pattern rsync would read differently from how we would, or that can never match. */
export class PatternSyntaxError extends Error {
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`invalid pattern ${JSON.stringify(pattern)}: ${reason}`);
    this.name = 'PatternSyntaxError';
  }
}

export function compilePattern(text: string, include: boolean): CompiledPattern {
  const fail = (why: string): never => {
    throw new PatternSyntaxError(text, why);
  };
  if (text === '') fail('it is empty');
  if (text.includes('\0')) fail('it contains a NUL byte');
  // rsync's --include/--exclude (and filter files) read a leading "+ " or
  // "- " as a rule prefix and a lone "!" as "clear the list"
  // (XFLG_OLD_PREFIXES). We pass rules as --filter, which would take them
  // literally, but whoever wrote them almost surely meant the rsync reading:
  // refuse rather than guess.
  if (text.startsWith('+ ') || text.startsWith('- ')) {
    fail(
      `rsync reads a leading "${text.slice(0, 2)}" as a rule prefix; list the pattern without it under include/exclude (match a literal "${text[0]}" with "[${text[0]}]")`,
    );
  }
  if (text === '!') fail('rsync reads a lone "!" as "clear the list"');

  let p = fromText(text);
  let dirOnly = false;
  if (p.length > 1 && p.endsWith('/')) {
    p = p.slice(0, -1);
    dirOnly = true;
  }
  const anchored = p.startsWith('/');
  const body = anchored ? p.slice(1) : p;
  if (body === '') fail('a bare "/" matches nothing (the transfer root itself is never matched)');

  const firstWild = p.search(/[*?[]/);
  const wild = firstWild >= 0;
  const wild2 = wild && p.indexOf('**', firstWild) >= 0;
  const wild2Prefix = wild2 && p.startsWith('**');
  const wild3Suffix = wild2 && p.endsWith('***');
  let slashCount = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 0x2f) slashCount++;

  const nameOnly = slashCount === 0 && !wild2;
  const re = wild ? translateWild(body, fail) : escapeLiteral(body);
  // Where the match may start (wildmatch_array's `where`): an unanchored
  // pattern with slashes but no '**' against exactly the last slashCount + 1
  // components (rsync counts every '/' in the pattern, even one inside a
  // class that can never match it: '[!/]a' matches nothing); one with an
  // infix or trailing '**' from the start or after any '/'; anything else
  // from the start only.
  const trailing = !anchored && !nameOnly && !wild2 ? slashCount + 1 : 0;
  const anyStart = !anchored && wild2 && !wild2Prefix;
  const regex = new RegExp(anyStart ? `^(?:[\\s\\S]*/)?(?:${re})$` : `^(?:${re})$`);

  return {
    text,
    include,
    nameOnly,
    matches(path: BytePath, isDir: boolean): boolean {
      if (dirOnly && !isDir) return false;
      if (path === '') return false;
      let subject: string;
      if (nameOnly) {
        subject = path.slice(path.lastIndexOf('/') + 1);
      } else if (trailing > 0) {
        const start = trailingStart(path, trailing);
        if (start < 0) return false;
        subject = start === 0 ? path : path.slice(start);
      } else {
        subject = path;
        if (wild2Prefix && !anchored) subject = `/${subject}`;
        if (wild3Suffix && isDir) subject = `${subject}/`;
      }
      return regex.test(subject);
    },
  };
}

/**
 * Where the last `n` components of `path` begin, or -1 if it has fewer
 * (rsync's trailing_N_elements).
 */
function trailingStart(path: BytePath, n: number): number {
  let left = n;
  for (let i = path.length - 1; i >= 0; i--) {
    if (path.charCodeAt(i) === 0x2f && --left === 0) return i + 1;
  }
  return left === 1 ? 0 : -1;
}

function hex(code: number): string {
  return `\\x${code.toString(16).padStart(2, '0')}`;
}

function escapeLiteral(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += isWordByte(c) ? s[i] : hex(c);
  }
  return out;
}

function isWordByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

/** wildmatch syntax -> RegExp source, over byte strings (one char per byte). */
function translateWild(p: string, fail: (why: string) => never): string {
  let out = '';
  let i = 0;
  while (i < p.length) {
    const ch = p[i] as string;
    if (ch === '\\') {
      if (i + 1 >= p.length) fail('it ends with a lone backslash');
      out += escapeLiteral(p[i + 1] as string);
      i += 2;
    } else if (ch === '*') {
      let j = i;
      while (p[j] === '*') j++;
      out += j - i >= 2 ? '[\\s\\S]*' : '[^/]*';
      i = j;
    } else if (ch === '?') {
      out += '[^/]';
      i++;
    } else if (ch === '[') {
      const { set, end } = parseClass(p, i, fail);
      out += classSource(set);
      i = end;
    } else {
      out += escapeLiteral(ch);
      i++;
    }
  }
  return out;
}

const POSIX_CLASSES: Record<string, (c: number) => boolean> = {
  alnum: (c) => isDigit(c) || isAlpha(c),
  alpha: (c) => isAlpha(c),
  blank: (c) => c === 0x20 || c === 0x09,
  cntrl: (c) => c < 0x20 || c === 0x7f,
  digit: (c) => isDigit(c),
  graph: (c) => c > 0x20 && c < 0x7f,
  lower: (c) => c >= 0x61 && c <= 0x7a,
  print: (c) => c >= 0x20 && c < 0x7f,
  punct: (c) => c > 0x20 && c < 0x7f && !isDigit(c) && !isAlpha(c),
  space: (c) => c === 0x20 || (c >= 0x09 && c <= 0x0d),
  upper: (c) => c >= 0x41 && c <= 0x5a,
  xdigit: (c) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66),
};

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * A '[...]' class starting at p[start], read the way wildmatch.c reads it:
 * '!' or '^' negates, a ']' right after the opening (or the negation) is
 * literal, 'a-z' ranges compare bytes, backslash escapes, '[:name:]' are
 * C-locale classes. Returns the 256-entry membership and the index after ']'.
 */
function parseClass(p: string, start: number, fail: (why: string) => never): { set: boolean[]; end: number } {
  const set = new Array<boolean>(256).fill(false);
  let i = start + 1;
  let negated = false;
  if (p[i] === '!' || p[i] === '^') {
    negated = true;
    i++;
  }
  let prev = -1; // the previous literal byte, for ranges; -1 after a range or class
  let first = true;
  for (;;) {
    if (i >= p.length) fail(`"[" at byte ${start + 1} has no closing "]"`);
    const c = p.charCodeAt(i);
    if (c === 0x5d && !first) {
      i++;
      break;
    }
    first = false;
    if (c === 0x5c) {
      if (i + 1 >= p.length) fail(`"[" at byte ${start + 1} has no closing "]"`);
      const lit = p.charCodeAt(i + 1);
      set[lit] = true;
      prev = lit;
      i += 2;
    } else if (c === 0x2d && prev >= 0 && i + 1 < p.length && p[i + 1] !== ']') {
      let hiAt = i + 1;
      if (p[hiAt] === '\\') {
        hiAt++;
        if (hiAt >= p.length) fail(`"[" at byte ${start + 1} has no closing "]"`);
      }
      const hi = p.charCodeAt(hiAt);
      for (let b = prev; b <= hi; b++) set[b] = true;
      prev = -1;
      i = hiAt + 1;
    } else if (c === 0x5b && p[i + 1] === ':') {
      const close = p.indexOf(']', i + 2);
      if (close < 0) fail(`"[" at byte ${start + 1} has no closing "]"`);
      if (close - (i + 2) < 1 || p[close - 1] !== ':') {
        // no ":]": an ordinary '[' in the set
        set[c] = true;
        prev = c;
        i++;
        continue;
      }
      const name = p.slice(i + 2, close - 1);
      const test = POSIX_CLASSES[name];
      if (!test) fail(`unknown character class "[:${name}:]"`);
      for (let b = 0; b < 256; b++) if ((test as (c: number) => boolean)(b)) set[b] = true;
      prev = -1;
      i = close + 1;
    } else {
      set[c] = true;
      prev = c;
      i++;
    }
  }
  if (negated) for (let b = 0; b < 256; b++) set[b] = !set[b];
  set[0x2f] = false; // a class never matches '/'
  return { set, end: i };
}

function classSource(set: boolean[]): string {
  let out = '';
  for (let b = 0; b < 256; b++) {
    if (!set[b]) continue;
    let e = b;
    while (e + 1 < 256 && set[e + 1]) e++;
    out += e === b ? hex(b) : `${hex(b)}-${hex(e)}`;
    b = e;
  }
  // an empty class can never match: rsync would match nothing either
  return out === '' ? '(?!)' : `[${out}]`;
}
