import { unescapeRsync } from '../transport/index.js';
import type { BytePath } from '../util/bytes.js';

/**
 * missing: on the source, not on the target; extra: on the target only;
 * content: a regular file's data differs; metadata: mode, owner, group,
 * times, a symlink's target, a hard link.
 */
export type DriftKind = 'missing' | 'extra' | 'content' | 'metadata';

export const DRIFT_KINDS: readonly DriftKind[] = ['missing', 'extra', 'content', 'metadata'];

export type ItemType = 'file' | 'dir' | 'symlink' | 'device' | 'special';

export interface DriftEntry {
  kind: DriftKind;
  /** relative to the source root, no trailing slash; '' is the root itself */
  path: BytePath;
  /** what differs, for people: "size, checksum", "mode, mtime", "symlink -> x" */
  detail: string;
  type: ItemType;
}

export interface ItemizeOptions {
  /**
   * Report a directory whose only difference is its mtime. Off by default:
   * creating or deleting anything inside a directory on the target changes
   * its mtime, so it is noise next to the entry that explains it.
   */
  dirMtime?: boolean;
  /** the run used --checksum: a file listed without 's' or 'c' then has the same content */
  checksum?: boolean;
}

const TYPES: Record<string, ItemType> = { f: 'file', d: 'dir', L: 'symlink', D: 'device', S: 'special' };

/**
 * The 11-character YXcstpoguax field of --itemize-changes, a space, the name
 * (%i %n%L). Y: < sent, > received, c local change or creation, h hard link,
 * . attributes only, * a message ("*deleting"). X: f d L D S. Then one column
 * per attribute: '+' all (a new item), '.' or ' ' unchanged, '?' unknown.
 */
const ITEM = /^([<>ch.])([fdLDS])([.+ ?a-zA-Z]{9}) (.*)$/;
const MESSAGE = /^\*(\w+) {0,10} (.*)$/;

/**
 * One line of `rsync --itemize-changes` output into a drift entry; undefined
 * for any other line (--stats, "created directory", "sent ... bytes") and for
 * an item that is not drift (a directory's mtime, unless asked).
 */
export function parseItemizeLine(line: string, o: ItemizeOptions = {}): DriftEntry | undefined {
  const msg = MESSAGE.exec(line);
  if (msg) {
    // "*deleting" is the only message rsync 3.x itemizes
    if (msg[1] !== 'deleting' || msg[2] === undefined) return undefined;
    const isDir = msg[2].endsWith('/');
    return {
      kind: 'extra',
      path: relPath(msg[2]),
      detail: isDir ? 'directory' : 'entry',
      type: isDir ? 'dir' : 'file',
    };
  }
  const m = ITEM.exec(line);
  if (!m) return undefined;
  const [, y = '', x = '', attrs = '', rest = ''] = m;
  const type = TYPES[x] ?? 'file';
  let name = rest;
  let linkTarget: string | undefined;
  // %L: " -> target" for a symlink, " => name" for a hard link
  const arrow = y === 'h' ? ' => ' : x === 'L' ? ' -> ' : undefined;
  if (arrow) {
    const i = rest.indexOf(arrow);
    if (i >= 0) {
      name = rest.slice(0, i);
      linkTarget = unescapeRsync(rest.slice(i + arrow.length));
    }
  }
  const path = relPath(name);
  const col = (i: number) => attrs[i - 2] ?? '.';

  if (col(2) === '+') {
    const what = y === 'h' ? `hard link to ${linkTarget ?? '?'}` : typeName(type);
    return {
      kind: 'missing',
      path,
      detail: x === 'L' && linkTarget !== undefined ? `symlink -> ${linkTarget}` : what,
      type,
    };
  }

  const changed: string[] = [];
  if (type === 'file') {
    const content: string[] = [];
    if (col(3) === 's') content.push('size');
    if (col(2) === 'c') content.push('checksum');
    // a file to be sent with no size or checksum difference: the quick check (or -I) chose it
    if (content.length === 0 && (y === '<' || y === '>') && !/[tTpogunbax]/.test(attrs))
      content.push('would be transferred');
    if (content.length > 0) return { kind: 'content', path, detail: content.join(', '), type };
  } else if (col(2) === 'c') {
    changed.push(x === 'L' ? `symlink target -> ${linkTarget ?? '?'}` : 'device or special value');
  }
  if (col(4) === 't' || col(4) === 'T') changed.push('mtime');
  if (col(5) === 'p') changed.push('mode');
  if (col(6) === 'o') changed.push('owner');
  if (col(7) === 'g') changed.push('group');
  const u = col(8);
  if (u === 'u' || u === 'b') changed.push('atime');
  if (u === 'n' || u === 'b') changed.push('crtime');
  if (col(9) === 'a') changed.push('acl');
  if (col(10) === 'x') changed.push('xattr');
  if (y === 'h') changed.push(`hard link to ${linkTarget ?? '?'}`);
  if (changed.length === 0) return undefined;
  if (type === 'dir' && !o.dirMtime && changed.length === 1 && changed[0] === 'mtime') return undefined;
  let detail = changed.join(', ');
  // without --checksum a newer or older mtime is all rsync's quick check sees
  if (type === 'file' && (y === '>' || y === '<') && !o.checksum && changed.includes('mtime'))
    detail += ' (content not compared; --checksum would)';
  return { kind: 'metadata', path, detail, type };
}

function typeName(t: ItemType): string {
  return t === 'dir' ? 'directory' : t === 'special' ? 'special file' : t;
}

/** "a/b/" → "a/b", "./" → "", with rsync's \#ooo escapes decoded to bytes. */
function relPath(name: string): BytePath {
  const p = unescapeRsync(name).replace(/\/+$/, '');
  return p === '.' ? '' : p;
}
