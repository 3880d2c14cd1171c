import { lstat, mkdtemp, readdir, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under the OS temp dir; the caller removes it. */
export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Polls `cond` every 20 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface CompareOptions {
  /** compare uid/gid too */
  owner?: boolean;
  /** compare the mtime of directories too (rsync sets it, but any later write inside changes it) */
  dirMtime?: boolean;
  /** report files that are hard links in one tree and not in the other */
  hardLinks?: boolean;
  /** relative paths left out of the comparison (e.g. a canary file rewritten every second) */
  ignore?: readonly string[];
  /**
   * everything rsync -aH preserves: mtimes of files and directories to the
   * nanosecond, the root's own mode, owner and mtime, and hard-link groups
   * (which names share an inode), not just link counts
   */
  exact?: boolean;
}

type Stats = Awaited<ReturnType<typeof lstat>>;

/**
 * Every difference between two trees as a human line ("missing in b: x/y",
 * "content differs: f"). Names are read as Buffers so non-UTF-8 names
 * compare byte for byte; they are shown as UTF-8 (invalid bytes as U+FFFD).
 */
export async function compareTrees(a: string, b: string, o: CompareOptions = {}): Promise<string[]> {
  const diffs: string[] = [];
  const groups = o.exact ? { a: new Map<bigint, string[]>(), b: new Map<bigint, string[]>() } : undefined;
  if (o.exact) await compareEntry(Buffer.from(a), Buffer.from(b), '.', diffs, o);
  await compareDir(Buffer.from(a), Buffer.from(b), '', diffs, o, groups);
  if (groups) {
    // a name whose other links are outside the tree is no group (a git clone links objects to the original)
    const lines = (m: Map<bigint, string[]>) =>
      new Set([...m.values()].filter((g) => g.length > 1).map((g) => g.sort().join(' = ')));
    const [ga, gb] = [lines(groups.a), lines(groups.b)];
    for (const g of ga) if (!gb.has(g)) diffs.push(`hard-link group missing in b: ${g}`);
    for (const g of gb) if (!ga.has(g)) diffs.push(`hard-link group extra in b: ${g}`);
  }
  return diffs;
}

/** Mode, owner (when asked) and mtime in nanoseconds of one pair of entries, for the exact comparison. */
async function compareEntry(pa: Buffer, pb: Buffer, label: string, diffs: string[], o: CompareOptions) {
  const [sa, sb] = await Promise.all([lstat(pa, { bigint: true }), lstat(pb, { bigint: true })]);
  if ((sa.mode & 0o7777n) !== (sb.mode & 0o7777n))
    diffs.push(
      `mode differs: ${label} (${(sa.mode & 0o7777n).toString(8)} vs ${(sb.mode & 0o7777n).toString(8)})`,
    );
  if (o.owner && (sa.uid !== sb.uid || sa.gid !== sb.gid))
    diffs.push(`owner differs: ${label} (${sa.uid}:${sa.gid} vs ${sb.uid}:${sb.gid})`);
  if (sa.mtimeNs !== sb.mtimeNs) diffs.push(`mtime differs: ${label} (${sa.mtimeNs} vs ${sb.mtimeNs} ns)`);
}

/** Adds a file with more than one link to its inode's group of names. */
async function noteLink(p: Buffer, rel: string, groups: Map<bigint, string[]>) {
  const st = await lstat(p, { bigint: true });
  if (st.isFile() && st.nlink > 1n) groups.set(st.ino, [...(groups.get(st.ino) ?? []), rel]);
}

function kind(s: Stats): string {
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'directory';
  if (s.isSymbolicLink()) return 'symlink';
  if (s.isFIFO()) return 'fifo';
  if (s.isSocket()) return 'socket';
  return 'device';
}

function child(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, Buffer.from('/'), name]);
}

async function names(dir: Buffer): Promise<Map<string, Buffer>> {
  const list = await readdir(dir, { encoding: 'buffer' });
  return new Map(list.map((n) => [n.toString('latin1'), n]));
}

async function compareDir(
  a: Buffer,
  b: Buffer,
  rel: string,
  diffs: string[],
  o: CompareOptions,
  groups?: { a: Map<bigint, string[]>; b: Map<bigint, string[]> },
): Promise<void> {
  const [na, nb] = await Promise.all([names(a), names(b)]);
  const show = (k: string) => Buffer.from(rel ? `${rel}/${k}` : k, 'latin1').toString('utf8');
  const ignored = (k: string) => o.ignore?.includes(show(k)) ?? false;
  for (const k of nb.keys()) if (!na.has(k) && !ignored(k)) diffs.push(`extra in b: ${show(k)}`);
  for (const [k, name] of [...na].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    if (ignored(k)) continue;
    const other = nb.get(k);
    if (!other) {
      diffs.push(`missing in b: ${show(k)}`);
      continue;
    }
    const pa = child(a, name);
    const pb = child(b, other);
    const childRel = rel ? `${rel}/${k}` : k;
    const [sa, sb] = await Promise.all([lstat(pa), lstat(pb)]);
    const label = show(k);
    if (groups) await Promise.all([noteLink(pa, label, groups.a), noteLink(pb, label, groups.b)]);
    if (kind(sa) !== kind(sb)) {
      diffs.push(`type differs: ${label} (${kind(sa)} vs ${kind(sb)})`);
      continue;
    }
    if ((sa.mode & 0o7777) !== (sb.mode & 0o7777) && !sa.isSymbolicLink()) {
      diffs.push(
        `mode differs: ${label} (${(sa.mode & 0o7777).toString(8)} vs ${(sb.mode & 0o7777).toString(8)})`,
      );
    }
    if (o.owner && (sa.uid !== sb.uid || sa.gid !== sb.gid)) {
      diffs.push(`owner differs: ${label} (${sa.uid}:${sa.gid} vs ${sb.uid}:${sb.gid})`);
    }
    if (sa.isFile()) {
      if (sa.size !== sb.size || !(await readFile(pa)).equals(await readFile(pb)))
        diffs.push(`content differs: ${label}`);
      // rsync may keep only whole seconds, depending on the filesystems
      if (o.exact) {
        const [na, nb] = await Promise.all([lstat(pa, { bigint: true }), lstat(pb, { bigint: true })]);
        if (na.mtimeNs !== nb.mtimeNs)
          diffs.push(
            `mtime differs: ${label} (${na.mtimeNs} vs ${nb.mtimeNs} ns; ctime ${na.ctimeNs} vs ${nb.ctimeNs})`,
          );
      } else if (Math.floor(sa.mtimeMs / 1000) !== Math.floor(sb.mtimeMs / 1000))
        diffs.push(`mtime differs: ${label}`);
      if (o.hardLinks && sa.nlink > 1 !== sb.nlink > 1)
        diffs.push(`hard link count differs: ${label} (${sa.nlink} vs ${sb.nlink})`);
    } else if (sa.isSymbolicLink()) {
      const [ta, tb] = await Promise.all([
        readlink(pa, { encoding: 'buffer' }),
        readlink(pb, { encoding: 'buffer' }),
      ]);
      if (!ta.equals(tb))
        diffs.push(`symlink target differs: ${label} (${ta.toString()} vs ${tb.toString()})`);
    } else if (sa.isDirectory()) {
      if (o.exact) {
        const [na, nb] = await Promise.all([lstat(pa, { bigint: true }), lstat(pb, { bigint: true })]);
        if (na.mtimeNs !== nb.mtimeNs)
          diffs.push(
            `mtime differs: ${label}/ (${na.mtimeNs} vs ${nb.mtimeNs} ns; ctime ${na.ctimeNs} vs ${nb.ctimeNs})`,
          );
      } else if (o.dirMtime && Math.floor(sa.mtimeMs / 1000) !== Math.floor(sb.mtimeMs / 1000))
        diffs.push(`mtime differs: ${label}/`);
      await compareDir(pa, pb, childRel, diffs, o, groups);
    }
  }
}
