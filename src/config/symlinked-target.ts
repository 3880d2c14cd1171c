import { lstatSync, readlinkSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { shellWord } from '../util/shell.js';

/** A symlink on the way to a local target that rsync 3.5.0 and newer will not follow. */
export interface UntrustedLink {
  /** the symlink, as a path through the links before it */
  link: string;
  /** what it points to */
  to: string;
  /** its owner (lstat) */
  uid: number;
}

/**
 * The first symlink on the way to local target `path` owned by neither root
 * nor `euid`, or null. rsync 3.5.0 (a local receiver) refuses to follow such
 * a link anywhere in the destination path: "refusing to follow a symlink
 * owned by an untrusted user", exit 3, on every transfer. What counts is the
 * link's own owner, not its directory's. Components that do not exist yet end
 * the walk (rsync creates them: --mkpath).
 */
export function untrustedTargetLink(path: string, euid: number): UntrustedLink | null {
  const parts = resolve(path).split('/').filter(Boolean);
  let at = '/';
  // a loop of links ends here rather than spinning (rsync stops at 40 as well)
  for (let hops = 0; parts.length > 0 && hops < 1000; hops++) {
    const next = join(at, parts.shift() as string);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(next);
    } catch {
      return null;
    }
    if (!st.isSymbolicLink()) {
      at = next;
      continue;
    }
    const to = readlinkSync(next);
    if (st.uid !== 0 && st.uid !== euid) return { link: next, to, uid: st.uid };
    // follow it: the rest of the path is looked up from where it points
    const target = isAbsolute(to) ? resolve(to) : resolve(at, to);
    parts.unshift(...target.split('/').filter(Boolean));
    at = '/';
  }
  return null;
}

/** What to tell the operator about such a link: what rsync does with it, and the two ways out. */
export function untrustedLinkProblem(
  path: string,
  l: UntrustedLink,
  euid: number,
): { message: string; fix: string[] } {
  return {
    message: `${l.link} (a symlink to ${l.to}, on the way to ${path}) belongs to uid ${l.uid}, neither root nor uid ${euid} that runs syncward: rsync 3.5.0 and newer refuse to follow it ("refusing to follow a symlink owned by an untrusted user", exit 3), so every transfer to this target fails`,
    fix: [
      `set the target's url to the real directory (\`readlink -f ${shellWord(path)}\` prints it)`,
      `or, if uid ${l.uid} is trusted: \`chown -h ${euid} ${shellWord(l.link)}\``,
    ],
  };
}
