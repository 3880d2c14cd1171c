import { lstatSync } from 'node:fs';
import type { Change } from '../change/index.js';
import { type BytePath, parentOf, toFs } from '../util/bytes.js';
import {
  backupArgs,
  type CallOptions,
  commonArgs,
  inboxArgs,
  type RsyncCall,
  type SourceSpec,
  sourcePath,
  type TargetSpec,
} from './argv.js';
import { transferred } from './exit-codes.js';
import { rsyncDestination } from './target-url.js';
import type { SendResult } from './transport.js';

/**
 * Moves without resending. A batch holding a move (the delete of the old
 * name and the arrival of the new one, which remembers the old: `from`) is
 * sent as it always is, but first the new names go to the target with the
 * old ones, still there, as a basis:
 * - a directory: `rsync -a -H --link-dest=<old, relative to the new>` of the
 *   new directory alone, so unchanged files are hard-linked on the target
 *   and only changed ones travel;
 * - a file renamed within its directory: `--fuzzy`, which finds the old file
 *   (same size and mtime) in the destination directory as the delta basis,
 *   so only checksums travel. In the batch itself --delete-missing-args
 *   would delete the old name before the generator reaches the new one (it
 *   goes in file-list order), so this is a call of its own, before;
 * - a file moved to another directory under the same name: `--link-dest`
 *   to the old directory, with --checksum, since no inode vouches for it (a
 *   look-alike of the same size and mtime is not linked). A file moved and
 *   renamed at once goes by the batch: --fuzzy looks only in the
 *   destination directory, and rsync 3.5.0's --fuzzy --fuzzy with a
 *   relative alternate directory looks for the basis in the wrong place.
 * The batch then sends the new names again (nothing left to send but the
 * file list) and deletes the old ones. New before delete: a crash between
 * the two leaves every file on the target, and the journal still holds both
 * rows, which a replay sends normally. Anything uncertain (the directory at
 * the new name is not the one that moved, a name rsync's argv cannot carry,
 * filter rules that do not translate to the subtree, a target keeping
 * backups) leaves the move to the batch: a normal send.
 */

/** A directory moved within the tree, whose old name the same batch deletes. */
export interface DirMove {
  path: BytePath;
  from: BytePath;
  /** dev:ino when the move was seen */
  inode: string;
}

/** A file renamed within its directory, or moved to another under its name, whose old name the same batch deletes. */
export interface FileMove {
  path: BytePath;
  from: BytePath;
}

/**
 * The moves in a batch that can use their old name as a basis: an arrival
 * with `from` whose old name the batch deletes (otherwise the old name is
 * gone from the target already, or stays on the source and must not share
 * inodes with the new one on the target). Files renamed across directories
 * are left to the batch (--fuzzy looks only in the destination directory).
 * Pure.
 */
export function movesOf(changes: readonly Change[]): {
  dirs: DirMove[];
  files: FileMove[];
  relocated: FileMove[];
} {
  const deleted = new Set<BytePath>();
  for (const c of changes) if (c.op === 'delete') deleted.add(c.path);
  const dirs: DirMove[] = [];
  const files: FileMove[] = [];
  const relocated: FileMove[] = [];
  for (const c of changes) {
    if (c.from === undefined || !deleted.has(c.from) || c.path === '' || c.from === '') continue;
    if (c.op === 'upsertTree' && c.inode !== undefined)
      dirs.push({ path: c.path, from: c.from, inode: c.inode });
    else if (c.op !== 'upsert' || c.dir === true) continue;
    else if (parentOf(c.path) === parentOf(c.from)) files.push({ path: c.path, from: c.from });
    else if (baseName(c.path) === baseName(c.from)) relocated.push({ path: c.path, from: c.from });
  }
  return { dirs, files, relocated };
}

/**
 * Whether a batch holds a move that may go ahead of it (sendMoves makes a
 * call for it unless its checks at send time say no). Pure.
 */
export function hasMoves(changes: readonly Change[]): boolean {
  const m = movesOf(changes);
  return m.dirs.length + m.files.length + m.relocated.length > 0;
}

function baseName(p: BytePath): BytePath {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Files moved to other directories under their names, one group (one call) per new and old directory. Pure. */
export function relocationGroups(
  moves: readonly FileMove[],
): Array<{ dir: BytePath; from: BytePath; names: BytePath[] }> {
  const groups = new Map<string, { dir: BytePath; from: BytePath; names: BytePath[] }>();
  for (const m of moves) {
    const [dir, from] = [parentOf(m.path), parentOf(m.from)];
    const key = `${dir}\0${from}`;
    const g = groups.get(key) ?? { dir, from, names: [] };
    groups.set(key, g);
    g.names.push(baseName(m.path));
  }
  return [...groups.values()];
}

/**
 * `--link-dest` for a directory moved from `from` to `path`: rsync takes a
 * relative basis directory relative to the destination directory, which
 * here is the new directory itself. `a/b/new` from `a/b/old` is `../old`;
 * `x/new` from `a/b/old` is `../../a/b/old`. Pure.
 */
export function linkDestOf(path: BytePath, from: BytePath): string {
  const to = path === '' ? [] : path.split('/');
  const old = from === '' ? [] : from.split('/');
  let common = 0;
  while (common < to.length - 1 && common < old.length - 1 && to[common] === old[common]) common++;
  return [...Array<string>(to.length - common).fill('..'), ...old.slice(common)].join('/') || '.';
}

/**
 * The source's filter rules as they read from inside directory `dir`, for
 * a transfer rooted there; null when one does not translate simply. rsync
 * matches a rule without a slash (a trailing one aside) against each name,
 * at any depth: the same inside. An anchored rule (`/a/b`) is relative to
 * the transfer root: beneath `dir` it loses that prefix; one naming
 * something outside `dir` cannot match inside it and is dropped. A rule
 * with a slash inside and no anchor matches the end of the whole path,
 * which the subtree's paths no longer show, and `**` can span the prefix:
 * null. Pure.
 */
export function subtreeFilter(filterArgs: readonly string[], dir: BytePath): string[] | null {
  if (dir === '') return [...filterArgs];
  const prefix = dir.split('/');
  const out: string[] = [];
  for (const arg of filterArgs) {
    const m = /^(--filter=[+-] |--exclude=|--include=)(.*)$/s.exec(arg);
    if (!m) return null;
    const [, head, text] = m as unknown as [string, string, string];
    const body = text.endsWith('/') ? text.slice(0, -1) : text;
    if (text.includes('**')) return null;
    if (!body.includes('/')) {
      out.push(arg);
      continue;
    }
    if (!body.startsWith('/')) return null;
    const parts = body.slice(1).split('/');
    let i = 0;
    for (; i < prefix.length && i < parts.length; i++) {
      const part = parts[i] as string;
      if (/[*?[\\]/.test(part)) return null;
      if (part !== prefix[i]) break;
    }
    if (i < prefix.length) {
      // it names something outside dir, or dir itself or an ancestor (already included): nothing inside
      continue;
    }
    out.push(`${head}/${parts.slice(i).join('/')}${text.endsWith('/') ? '/' : ''}`);
  }
  return out;
}

/**
 * A relative path as an argv word: rsync's argv is text, which node
 * encodes as UTF-8, so only a name whose bytes are UTF-8 survives, and a
 * control character (a newline) is not worth the daemon's line protocol.
 * null: leave it to the batch, which sends names on stdin.
 */
export function argvName(p: BytePath): string | null {
  const bytes = toFs(p);
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes) || /[\x00-\x1f\x7f]/.test(text)) return null;
  return text;
}

/**
 * The directory's own transfer, its old name as the hard-link basis: the
 * same rules as a tree in a batch (-r, -H, --delete beneath it, the filter
 * translated to the subtree), source SRC/new/, destination DEST/new/. null
 * when it cannot be made safely (see subtreeCall). Pure.
 */
export function buildDirMoveCall(
  src: SourceSpec,
  tgt: TargetSpec,
  move: DirMove,
  o: CallOptions,
): RsyncCall | null {
  return subtreeCall(src, tgt, move.path, move.from, ['-r', '--no-inc-recursive', '--delete'], o);
}

/**
 * Files moved from directory `from` to directory `dir` under their names:
 * a transfer rooted at the new directory listing them, each hard-linked
 * from the old directory when its checksum matches (-c: no inode vouches
 * for a file). null when it cannot be made safely (see subtreeCall). Pure.
 */
export function buildRelocationCall(
  src: SourceSpec,
  tgt: TargetSpec,
  group: { dir: BytePath; from: BytePath; names: readonly BytePath[] },
  o: CallOptions,
): RsyncCall | null {
  const call = subtreeCall(
    src,
    tgt,
    group.dir,
    group.from,
    ['--checksum', '--ignore-missing-args', '--files-from=-', '--from0'],
    o,
  );
  return call && { ...call, stdin: Buffer.concat(group.names.flatMap((n) => [toFs(n), NUL])) };
}

/**
 * A transfer rooted at directory `dir` on both sides, with `--link-dest`
 * to `basis` (relative to it). null when the old name must not or cannot
 * be the basis: the source does not delete (the old name then stays on the
 * target, and must not share inodes with the new one), the target keeps
 * backups (a relative --backup-dir would land inside `dir`), a name rsync's
 * argv cannot carry, filter rules that do not translate to the subtree.
 */
function subtreeCall(
  src: SourceSpec,
  tgt: TargetSpec,
  dir: BytePath,
  basis: BytePath,
  args: readonly string[],
  o: CallOptions,
): RsyncCall | null {
  // a relay's inbox is named from the target root, and this call's destination is the subtree
  if (tgt.backup || tgt.inbox || !src.delete) return null;
  const to = argvName(dir);
  const from = argvName(basis);
  const filter = subtreeFilter(src.filterArgs, dir);
  if (to === null || from === null || filter === null) return null;
  const sub = to === '' ? '' : `${to}/`;
  const argv = [
    'rsync',
    '-a',
    '-H',
    ...args,
    `--link-dest=${linkDestOf(to, from)}`,
    ...filter,
    ...commonArgs(tgt, o),
    ...tgt.rsyncArgs,
    `${(src.readRoot ?? src.root).replace(/\/+$/, '')}/${sub}`,
    `${rsyncDestination(tgt.url)}${sub}`,
  ];
  return { argv, env: {} };
}

/**
 * The renamed files' new names alone, each finding its old name in its
 * directory as the delta basis (--fuzzy; --no-whole-file, since a local
 * target would otherwise copy it whole). No deletes: the old names stay
 * for the generator to find. Pure.
 */
export function buildFileMovesCall(
  src: SourceSpec,
  tgt: TargetSpec,
  moves: readonly FileMove[],
  o: CallOptions,
): RsyncCall {
  const stdin = Buffer.concat(moves.flatMap((m) => [toFs(m.path), NUL]));
  const argv = [
    'rsync',
    '-a',
    '-H',
    '--ignore-missing-args',
    '--files-from=-',
    '--from0',
    '--fuzzy',
    '--no-whole-file',
    ...backupArgs(tgt, o),
    ...inboxArgs(tgt),
    ...src.filterArgs,
    ...commonArgs(tgt, o),
    ...tgt.rsyncArgs,
    `${(src.readRoot ?? src.root).replace(/\/+$/, '')}/`,
    rsyncDestination(tgt.url),
  ];
  return { argv, env: {}, stdin };
}

const NUL = Buffer.from([0]);

/** Whether the directory at `path` on the source is still the inode the move was seen with. */
function stillMoved(src: SourceSpec, move: DirMove): boolean {
  try {
    const st = lstatSync(sourcePath(src, move.path), {
      bigint: true,
    });
    return st.isDirectory() && `${st.dev}:${st.ino}` === move.inode;
  } catch {
    return false;
  }
}

/**
 * Sends the moves of a batch ahead of it, each with its old name as the
 * basis (see above). A call that fails changes nothing for the batch, which
 * sends everything anyway; the result counts what the calls moved, null
 * when none was made. Stops at a call that did not reach the target.
 */
export async function sendMoves(
  changes: readonly Change[],
  src: SourceSpec,
  tgt: TargetSpec,
  o: CallOptions,
  run: (call: RsyncCall) => Promise<SendResult>,
): Promise<SendResult | null> {
  const { dirs, files, relocated } = movesOf(changes);
  const calls: RsyncCall[] = [];
  for (const d of dirs) {
    const call = stillMoved(src, d) ? buildDirMoveCall(src, tgt, d, o) : null;
    if (call) calls.push(call);
  }
  if (files.length > 0) calls.push(buildFileMovesCall(src, tgt, files, o));
  for (const g of relocationGroups(relocated)) {
    const call = buildRelocationCall(src, tgt, g, o);
    if (call) calls.push(call);
  }
  let total: SendResult | null = null;
  for (const call of calls) {
    const r = await run(call);
    total = total === null ? r : withCounts(r, total);
    if (!transferred(r.class) && r.class !== 'partial') break;
  }
  return total;
}

/** `r`, counting also the files, bytes and time of `before` (calls made ahead of it). */
export function withCounts(r: SendResult, before: SendResult | null): SendResult {
  if (before === null) return r;
  return {
    ...r,
    files: r.files + before.files,
    bytes: r.bytes + before.bytes,
    durationMs: r.durationMs + before.durationMs,
  };
}
