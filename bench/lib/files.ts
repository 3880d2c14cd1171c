/** Making benchmark trees fast, and watching them arrive on a target. */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  watch,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** Relative path of file i in a tree of `perDir` files per directory: d0003/f003217. */
export function burstPath(i: number, perDir: number): { dir: string; file: string } {
  const dir = `d${String(Math.floor(i / perDir)).padStart(4, '0')}`;
  return { dir, file: join(dir, `f${String(i).padStart(7, '0')}`) };
}

/** performance.now() just before a workload's first write and just after its last one. */
export interface Writes {
  firstAt: number;
  lastAt: number;
}

/**
 * Creates n files of `size` bytes under root, `perDir` per directory, as fast
 * as one synchronous loop can. Returns when the first write began (root
 * exists before it) and when the last file was closed.
 */
export function writeBurst(root: string, n: number, o: { size?: number; perDir?: number } = {}): Writes {
  const perDir = o.perDir ?? 1000;
  const body = randomBytes(o.size ?? 4096);
  mkdirSync(root, { recursive: true });
  const firstAt = performance.now();
  for (let i = 0; i < n; i++) {
    const { dir, file } = burstPath(i, perDir);
    if (i % perDir === 0) mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, file), body);
  }
  return { firstAt, lastAt: performance.now() };
}

/** Regular entries under root (recursive), leaving out rsync's in-flight ".name.XXXXXX" temp files. */
export function countFiles(root: string): number {
  if (!existsSync(root)) return 0;
  let n = 0;
  const walk = (dir: string) => {
    let list: import('node:fs').Dirent[];
    try {
      list = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (!e.name.startsWith('.')) n++;
    }
  };
  walk(root);
  return n;
}

/**
 * Makes about `n` directories under root: 100 top dirs (fewer when n is
 * small) with leaves below. Returns how many directories the tree has, root
 * included: what a watcher of it must watch.
 */
export function makeDirTree(root: string, n: number): number {
  mkdirSync(root, { recursive: true });
  const top = Math.min(100, n);
  const leaves = Math.max(0, Math.floor(n / top) - 1);
  for (let i = 0; i < top; i++) {
    const d = join(root, `top${i}`);
    mkdirSync(d);
    for (let j = 0; j < leaves; j++) mkdirSync(join(d, `dir${j}`));
  }
  return 1 + top * (1 + leaves);
}

/**
 * A file of `bytes` of random-looking data (a 1 MiB random block, repeated
 * with one changing word so no two blocks match), written in 1 MiB writes,
 * never sparse. Returns the time it was closed.
 */
export function writeLargeFile(path: string, bytes: number): number {
  const block = randomBytes(1 << 20);
  const fd = openSync(path, 'w');
  try {
    for (let off = 0, k = 0; off < bytes; off += block.length, k++) {
      block.writeUInt32LE(k, 0);
      writeSync(fd, block, 0, Math.min(block.length, bytes - off));
    }
  } finally {
    closeSync(fd);
  }
  return performance.now();
}

/** Resolves with performance.now() when `name` appears in `dir` (inotify on the target dir). */
export function arrival(dir: string, name: string, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = watch(dir, (_ev, f) => {
      if (f === name && existsSync(join(dir, name))) {
        w.close();
        clearTimeout(t);
        resolve(performance.now());
      }
    });
    const t = setTimeout(() => {
      w.close();
      reject(new Error(`${name} did not arrive in ${dir} within ${timeoutMs} ms`));
    }, timeoutMs);
    // it may have arrived between the caller's write and this watch
    if (existsSync(join(dir, name))) {
      w.close();
      clearTimeout(t);
      resolve(performance.now());
    }
  });
}
