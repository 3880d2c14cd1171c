import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { TargetUrl } from '../transport/index.js';

/**
 * The path rules no config may break, whatever the command (check, start,
 * sync, audit, doctor, a SIGHUP reload): each would let a sync delete or
 * recurse into what it should protect. Paths are compared as the kernel
 * resolves them, so a symlink in a target path cannot hide where it points.
 */

/** The parts of a config the rules look at. */
export interface PathsInput {
  stateDir: string;
  sources: {
    name: string;
    path: string;
    targets: { name: string; url: string; parsed: TargetUrl }[];
  }[];
}

/** A broken rule, with the config key it belongs to (as parseConfig locates keys). */
export interface PathProblem {
  key: (string | number)[];
  message: string;
}

/**
 * The real path of `p` even when it does not exist yet: the real path of its
 * longest existing ancestor with the rest appended, following a dangling
 * symlink on the way (a target made of a link to a directory not yet created
 * must still be seen for where it will write).
 */
export function realPathOf(p: string, depth = 0): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ELOOP, EACCES...: the kernel would fail the same way; compare what is written
    if ((code !== 'ENOENT' && code !== 'ENOTDIR') || depth > 40) return abs;
  }
  const parent = dirname(abs);
  if (parent === abs) return abs;
  const here = join(realPathOf(parent, depth), basename(abs));
  try {
    if (lstatSync(here).isSymbolicLink())
      return realPathOf(resolve(dirname(here), readlinkSync(here)), depth + 1);
  } catch {
    // nothing there yet
  }
  return here;
}

/** `a` and `b` are the same directory, or one lies inside the other: 'same', 'inside' (a in b), 'contains' (b in a). */
export function overlap(a: string, b: string): 'same' | 'inside' | 'contains' | null {
  if (a === b) return 'same';
  if (a.startsWith(b === '/' ? '/' : `${b}/`)) return 'inside';
  if (b.startsWith(a === '/' ? '/' : `${a}/`)) return 'contains';
  return null;
}

/** Where a target writes, as comparable strings: a host-qualified root and an absolute path under it. */
function destination(url: TargetUrl, real: (p: string) => string): { root: string; path: string } {
  switch (url.kind) {
    case 'local':
      return { root: 'this host', path: real(url.path) };
    case 'daemon':
      return {
        root: `rsync://${url.host.toLowerCase()}:${url.port ?? 873}/${url.module}`,
        path: `/${url.path ?? ''}`.replace(/\/$/, '') || '/',
      };
    case 'ssh':
      return { root: `ssh://${url.host.toLowerCase()}:${url.port ?? 22}`, path: url.path };
  }
}

/**
 * Every broken path rule of a config:
 * - a local target may not be its source, contain it or lie inside it
 *   (--delete would remove the source, or each sync would nest a copy deeper),
 *   nor be or contain any other source of the config;
 * - state_dir may not be or lie inside a source (the journal's own writes
 *   would be events, and one exclude edit away from being mirrored) nor a
 *   local target (a full sync deletes the journal, lock and control socket);
 * - no two sources may write the same target tree, or one inside the other
 *   (each sync's delete would remove what the other wrote).
 * `real` is injectable for tests; it defaults to realPathOf.
 */
export function pathProblems(c: PathsInput, real: (p: string) => string = realPathOf): PathProblem[] {
  const problems: PathProblem[] = [];
  const state = real(c.stateDir);
  const sources = c.sources.map((s) => ({ ...s, real: real(s.path) }));
  const shown = (p: string, r: string) => (p === r ? p : `${p} (real path ${r})`);
  const seen: { who: string; source: number; root: string; path: string }[] = [];
  for (const [si, s] of sources.entries()) {
    const src = `source "${s.name}" ${shown(s.path, s.real)}`;
    const o = overlap(state, s.real);
    if (o === 'same' || o === 'inside') {
      problems.push({
        key: ['state_dir'],
        message: `state_dir ${shown(c.stateDir, state)} ${o === 'same' ? 'is' : 'lies inside'} the ${src}: syncward's journal, lock and socket would be watched as source changes and could be mirrored; move state_dir outside every source (e.g. /var/lib/syncward)`,
      });
    }
    for (const [ti, t] of s.targets.entries()) {
      const key = ['sources', si, 'targets', ti, 'url'];
      const dest = destination(t.parsed, real);
      const where = t.parsed.kind === 'local' ? shown(t.url, dest.path) : t.url;
      const tgt = `the target "${s.name}/${t.name}" ${where}`;
      if (t.parsed.kind === 'local') {
        for (const [oi, other] of sources.entries()) {
          const rel = overlap(dest.path, other.real);
          if (rel === null || (rel === 'inside' && oi !== si)) continue;
          const what = oi === si ? src : `source "${other.name}" ${shown(other.path, other.real)}`;
          problems.push({
            key,
            message:
              rel === 'same'
                ? `${tgt} is the ${what}: a sync would write the tree onto itself; point the target at a directory outside every source`
                : rel === 'contains'
                  ? `${tgt} contains the ${what}: a sync with delete would remove the source and everything beside it; point the target at a directory outside every source (e.g. a sibling of the source, not its parent)`
                  : `${tgt} lies inside the ${what}: each sync would copy the tree into itself, one level deeper each time; point the target at a directory outside the source`,
          });
        }
        const st = overlap(state, dest.path);
        if (st === 'same' || st === 'inside') {
          problems.push({
            key,
            message: `${tgt} ${st === 'same' ? 'is' : 'contains'} state_dir ${shown(c.stateDir, state)}: a full sync would delete the journal, the lock and the control socket, and a second daemon could then start on the same state; move state_dir or the target so neither contains the other`,
          });
        }
      }
      for (const prev of seen) {
        // two targets of one source write the same files: pointless, not destructive
        if (prev.source === si || prev.root !== dest.root) continue;
        const rel = overlap(dest.path, prev.path);
        if (rel === null) continue;
        problems.push({
          key,
          message: `${tgt} ${rel === 'same' ? 'writes the same directory as' : rel === 'inside' ? 'lies inside' : 'contains'} ${prev.who}${dest.root === 'this host' ? '' : ` (both on ${dest.root})`}: each sync would delete or overwrite what the other wrote; give every target a directory of its own`,
        });
      }
      seen.push({ who: tgt, source: si, root: dest.root, path: dest.path });
    }
  }
  return problems;
}
