/**
 * Paths inside syncward are "byte strings": every char holds one byte of the
 * file name (latin1). File names on Linux are bytes, not text, and a name with
 * invalid UTF-8 must survive the round trip from inotify to rsync's stdin
 * unchanged. Convert only at the edges: `toFs` for fs calls, `toBytes` for
 * rsync's stdin, `display` for logs and messages.
 */
export type BytePath = string;

/** Buffer from a byte string, for fs calls and rsync's stdin. */
export function toFs(p: BytePath): Buffer {
  return Buffer.from(p, 'latin1');
}

/** Byte string from a Buffer (a readdir or inotify name). */
export function fromBuffer(b: Buffer): BytePath {
  return b.toString('latin1');
}

/** Byte string from ordinary (UTF-8) text such as a config value or CLI argument. */
export function fromText(s: string): BytePath {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** Human-readable form for logs: valid UTF-8 shows as text, other bytes as U+FFFD. */
export function display(p: BytePath): string {
  return Buffer.from(p, 'latin1').toString('utf8');
}

/** Join a relative byte path below a parent ('' is the root). */
export function joinRel(parent: BytePath, name: BytePath): BytePath {
  // an event on a watched directory itself (IN_ATTRIB) has an empty name: the path is the directory's
  if (name === '') return parent;
  return parent === '' ? name : `${parent}/${name}`;
}

/** Parent of a relative path ('' for a top-level entry). */
export function parentOf(p: BytePath): BytePath {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

/** True when `p` is one of `tops` or lies beneath one of them ('' is the root: everything lies beneath it). */
export function coveredBy(p: BytePath, tops: ReadonlySet<BytePath>): boolean {
  if (tops.size === 0) return false;
  if (tops.has(p) || tops.has('')) return true;
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) if (tops.has(p.slice(0, i))) return true;
  return false;
}

/** A name for a one-line message: a very long one (a path near rsync's 4,096-byte limit) keeps its ends. */
export function brief(name: string, max = 160): string {
  if (name.length <= max) return name;
  const tail = Math.floor(max / 3);
  return `${name.slice(0, max - tail - 1)}…${name.slice(-tail)}`;
}
