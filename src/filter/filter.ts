import { type BytePath, parentOf } from '../util/bytes.js';
import { type CompiledPattern, compilePattern, PatternSyntaxError } from './pattern.js';

export interface FilterOptions {
  /** rsync patterns, as written in the config (UTF-8 text) */
  exclude: string[];
  /** rsync patterns checked before the excludes; the first matching rule wins */
  include?: string[];
}

/** A pattern in the config that is not a valid rsync pattern (or that rsync would read differently). */
export class FilterError extends Error {
  constructor(
    /** the pattern as written */
    readonly pattern: string,
    /** 'include' or 'exclude': which list it came from */
    readonly list: 'include' | 'exclude',
    /** what is wrong with it */
    readonly reason: string,
  ) {
    super(`${list} pattern ${JSON.stringify(pattern)} is invalid: ${reason}`);
    this.name = 'FilterError';
  }
}

/**
 * The directory in a target's root where an upstream syncward's rsync writes
 * its temp files when the target is a relay (--temp-dir, transport/argv.ts).
 */
export const RELAY_INBOX = '.syncward-inbox';

/**
 * Rules every source has before its own: the relay inbox, so a relay never
 * forwards (or sees) a temp file, and no --delete or audit of an upstream
 * touches the inbox it writes through. A reserved name: a source's own
 * .syncward-inbox/ at its root is not mirrored.
 */
export const RESERVED_EXCLUDES: readonly string[] = [`/${RELAY_INBOX}/`];

// Directories seen recently and whether they (or an ancestor) are excluded.
// Events come in bursts under the same few directories; the bound keeps a
// tree walk from growing it without limit.
const DIR_CACHE_MAX = 50_000;

/**
 * rsync's include/exclude rules, compiled once, applied to event paths the
 * way rsync applies them to a transfer, so that events and transfers agree:
 * rsync checks the rules on each directory before it descends, so anything
 * beneath an excluded directory is excluded whatever the later rules say.
 * Nothing is excluded by default (dotfiles included).
 */
export class Filter {
  private readonly rules: CompiledPattern[] = [];
  private readonly dirCache = new Map<BytePath, boolean>();

  constructor(opts: FilterOptions) {
    for (const text of RESERVED_EXCLUDES) this.rules.push(compilePattern(text, false));
    for (const [list, patterns] of [
      ['include', opts.include ?? []],
      ['exclude', opts.exclude],
    ] as const) {
      for (const text of patterns) {
        try {
          this.rules.push(compilePattern(text, list === 'include'));
        } catch (e) {
          if (e instanceof PatternSyntaxError) throw new FilterError(text, list, e.reason);
          throw e;
        }
      }
    }
  }

  /** true if this relative path is excluded, or lies beneath an excluded directory. The root '' never is. */
  excludes(rel: BytePath, isDir: boolean): boolean {
    if (rel === '' || this.rules.length === 0) return false;
    const parent = parentOf(rel);
    if (parent !== '' && this.dirExcluded(parent)) return true;
    return this.excludedItself(rel, isDir);
  }

  /**
   * The same rules as rsync arguments, in order (includes first). As
   * `--filter='- PAT'` rather than `--exclude=PAT`: rsync takes the pattern
   * after the rule's one space verbatim, so a pattern that starts with "+ ",
   * "- " or is "!" cannot be read as a rule prefix or a list clear.
   */
  rsyncArgs(): string[] {
    return this.rules.map((r) => `--filter=${r.include ? '+' : '-'} ${r.text}`);
  }

  /** the rules, as written, in the order they are checked */
  get patterns(): readonly { pattern: string; include: boolean }[] {
    return this.rules.map((r) => ({ pattern: r.text, include: r.include }));
  }

  /** First matching rule wins; no match means included. */
  private excludedItself(rel: BytePath, isDir: boolean): boolean {
    for (const r of this.rules) if (r.matches(rel, isDir)) return !r.include;
    return false;
  }

  /** This directory or one of its ancestors is excluded. */
  private dirExcluded(dir: BytePath): boolean {
    const cached = this.dirCache.get(dir);
    if (cached !== undefined) return cached;
    // Walk up to the nearest cached ancestor, then decide downwards.
    const chain: BytePath[] = [dir];
    let known = false;
    for (let p = parentOf(dir); p !== ''; p = parentOf(p)) {
      const c = this.dirCache.get(p);
      if (c !== undefined) {
        known = c;
        break;
      }
      chain.push(p);
    }
    if (this.dirCache.size + chain.length > DIR_CACHE_MAX) this.dirCache.clear();
    for (let i = chain.length - 1; i >= 0; i--) {
      const d = chain[i] as BytePath;
      known = known || this.excludedItself(d, true);
      this.dirCache.set(d, known);
    }
    return known;
  }
}
