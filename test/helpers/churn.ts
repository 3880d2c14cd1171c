import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rng } from './rng.js';

/** Names in the root that churn keeps open and appends to (never renamed or deleted by it). */
const OPEN_LOGS = ['open-a.log', 'open-b.log'];

/**
 * Random operations on a real tree, the way a busy web root changes: files
 * and directories appear, grow, move across the tree and vanish, often right
 * in the root; files gain hard links and directories are copied with
 * `cp -al`; a directory becomes a file and back; a `current` symlink is
 * swapped between releases with `ln -sfn`; owners and times change; logs stay
 * open and grow (closed when churn returns). The model only tracks which
 * paths exist so operations are valid; the real check is the comparison of
 * everything rsync -aH preserves at the end.
 */
export async function churn(
  root: string,
  seed: number,
  ops: number,
  o: { hardLinks?: boolean } = {},
): Promise<void> {
  const rand = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const logs = OPEN_LOGS.map((name) => openSync(join(root, name), 'a'));
  try {
    await operate(root, seed, ops, rand, pick, logs, o.hardLinks ?? true);
  } finally {
    for (const fd of logs) closeSync(fd);
  }
}

async function operate(
  root: string,
  seed: number,
  ops: number,
  rand: () => number,
  pick: <T>(xs: T[]) => T,
  logs: number[],
  hardLinks: boolean,
): Promise<void> {
  const dirs = new Set<string>(['']);
  const files = new Set<string>();
  // symlinks are entries too (renamed, deleted), but chmod and writes would follow them
  const links = new Set<string>();
  let n = 0;
  const fresh = (dir: string, kind: string) => join(dir, `${kind}${n++}${rand() < 0.1 ? ' sp ace' : ''}`);
  const forget = (prefix: string) => {
    for (const d of [...dirs]) if (d === prefix || d.startsWith(`${prefix}/`)) dirs.delete(d);
    for (const f of [...files])
      if (f.startsWith(`${prefix}/`)) {
        files.delete(f);
        links.delete(f);
      }
  };
  // cp -al: the copy's files are new names of the same inodes, its symlinks copies
  const copyModel = (from: string, to: string) => {
    for (const d of [...dirs])
      if (d === from || d.startsWith(`${from}/`)) dirs.add(to + d.slice(from.length));
    for (const f of [...files])
      if (f.startsWith(`${from}/`)) {
        files.add(to + f.slice(from.length));
        if (links.has(f)) links.add(to + f.slice(from.length));
      }
  };
  // a third of new entries and moves land directly in the root
  const anyDir = (dirList: string[]) => (rand() < 0.33 ? '' : pick(dirList));
  const rebase = (from: string, to: string) => {
    for (const d of [...dirs])
      if (d === from || d.startsWith(`${from}/`)) {
        dirs.delete(d);
        dirs.add(to + d.slice(from.length));
      }
    for (const f of [...files])
      if (f.startsWith(`${from}/`)) {
        files.delete(f);
        files.add(to + f.slice(from.length));
        if (links.delete(f)) links.add(to + f.slice(from.length));
      }
  };
  for (let i = 0; i < ops; i++) {
    const r = rand();
    const dirList = [...dirs];
    const fileList = [...files];
    const regular = fileList.filter((f) => !links.has(f));
    try {
      if (r < 0.16 || fileList.length === 0) {
        const p = fresh(anyDir(dirList), 'f');
        writeFileSync(join(root, p), `seed ${seed} op ${i}\n`.repeat(1 + Math.floor(rand() * 50)));
        files.add(p);
      } else if (r < 0.22) {
        const parent = anyDir(dirList);
        if (parent.split('/').length < 6) {
          const p = fresh(parent, 'd');
          mkdirSync(join(root, p));
          dirs.add(p);
        }
      } else if (r < 0.3) {
        if (regular.length > 0) appendFileSync(join(root, pick(regular)), `append ${i}\n`);
      } else if (r < 0.33) {
        if (regular.length > 0) writeFileSync(join(root, pick(regular)), `rewrite ${i}\n`);
      } else if (r < 0.39) {
        const from = pick(fileList);
        const to = fresh(anyDir(dirList), 'mv');
        renameSync(join(root, from), join(root, to));
        files.delete(from);
        files.add(to);
        if (links.delete(from)) links.add(to);
      } else if (r < 0.43) {
        const from = pick(dirList.filter((d) => d !== ''));
        if (from) {
          const parent = anyDir(dirList.filter((d) => d !== from && !d.startsWith(`${from}/`)));
          const to = fresh(parent, 'md');
          if (to.split('/').length < 8) {
            renameSync(join(root, from), join(root, to));
            rebase(from, to);
          }
        }
      } else if (r < 0.5) {
        const p = pick(fileList);
        unlinkSync(join(root, p));
        files.delete(p);
        links.delete(p);
      } else if (r < 0.52) {
        const p = pick(dirList.filter((d) => d !== ''));
        if (p) {
          rmSync(join(root, p), { recursive: true });
          forget(p);
        }
      } else if (r < 0.57) {
        if (regular.length > 0) chmodSync(join(root, pick(regular)), rand() < 0.5 ? 0o600 : 0o644);
      } else if (r < 0.6) {
        const p = fresh(anyDir(dirList), 'ln');
        symlinkSync(rand() < 0.5 ? 'dangling-target' : '../x', join(root, p));
        files.add(p);
        links.add(p);
      } else if (r < 0.66) {
        // another name for an existing file, anywhere in the tree
        if (hardLinks && regular.length > 0) {
          const p = fresh(anyDir(dirList), 'hl');
          linkSync(join(root, pick(regular)), join(root, p));
          files.add(p);
        }
      } else if (r < 0.68) {
        const from = pick(dirList.filter((d) => d !== ''));
        if (hardLinks && from && from.split('/').length < 5) {
          const to = fresh(anyDir(dirList.filter((d) => d !== from && !d.startsWith(`${from}/`))), 'snap');
          execFileSync('cp', ['-al', join(root, from), join(root, to)]);
          copyModel(from, to);
        }
      } else if (r < 0.71) {
        // a directory becomes a file of the same name, or a file a directory
        if (rand() < 0.5) {
          const p = pick(dirList.filter((d) => d !== ''));
          if (p) {
            rmSync(join(root, p), { recursive: true });
            forget(p);
            writeFileSync(join(root, p), `was a directory ${i}\n`);
            files.add(p);
          }
        } else if (regular.length > 0) {
          const p = pick(regular);
          if (p.split('/').length < 6) {
            unlinkSync(join(root, p));
            files.delete(p);
            mkdirSync(join(root, p));
            dirs.add(p);
            writeFileSync(join(root, p, 'inside'), `was a file ${i}\n`);
            files.add(`${p}/inside`);
          }
        }
      } else if (r < 0.74) {
        // a release: a new directory in the root, `current` swapped to it
        const rel = fresh('', 'release');
        mkdirSync(join(root, rel));
        writeFileSync(join(root, rel, 'index.html'), `release ${i}\n`);
        dirs.add(rel);
        files.add(`${rel}/index.html`);
        execFileSync('ln', ['-sfn', rel, join(root, 'current')]);
        files.add('current');
        links.add('current');
      } else if (r < 0.79) {
        if (logs.length > 0) writeSync(pick(logs), `line ${i} `.repeat(1 + Math.floor(rand() * 20)) + '\n');
      } else if (r < 0.82) {
        // owners change too (the daemon and local targets run as root and keep them)
        const p = rand() < 0.5 ? pick(regular) : pick(dirList);
        if (p !== undefined)
          chownSync(join(root, p), 1000 + Math.floor(rand() * 3), 1000 + Math.floor(rand() * 3));
      } else if (r < 0.85) {
        // touch -d: a time in the past, on a file or a directory (the root too)
        const p = rand() < 0.5 ? pick(regular) : pick(dirList);
        const t = new Date(Date.UTC(2020, 0, 1) + Math.floor(rand() * 1e10) + rand());
        if (p !== undefined) utimesSync(join(root, p), t, t);
      } else if (r < 0.88) {
        if (dirList.length > 0) chmodSync(join(root, pick(dirList)), rand() < 0.5 ? 0o750 : 0o755);
      } else {
        // a pause lets the daemon send, so later ops hit a transfer in flight
        await sleep(Math.floor(rand() * 30));
      }
    } catch (e) {
      // an op on a path the model got wrong is a bug in this test, not in syncward
      if (!existsSync(root)) throw e;
      throw new Error(`churn seed ${seed} op ${i}: ${(e as Error).message}`);
    }
  }
}
