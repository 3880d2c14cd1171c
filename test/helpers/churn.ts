import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rng } from './rng.js';

/**
 * Random operations on a real tree, the way a busy web root changes: files
 * and directories appear, grow, move across the tree and vanish. The model
 * only tracks which paths exist so operations are valid; the real check is
 * the byte-for-byte comparison at the end.
 */
export async function churn(root: string, seed: number, ops: number): Promise<void> {
  const rand = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
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
      if (r < 0.25 || fileList.length === 0) {
        const p = fresh(pick(dirList), 'f');
        writeFileSync(join(root, p), `seed ${seed} op ${i}\n`.repeat(1 + Math.floor(rand() * 50)));
        files.add(p);
      } else if (r < 0.35) {
        const parent = pick(dirList);
        if (parent.split('/').length < 6) {
          const p = fresh(parent, 'd');
          mkdirSync(join(root, p));
          dirs.add(p);
        }
      } else if (r < 0.45) {
        if (regular.length > 0) appendFileSync(join(root, pick(regular)), `append ${i}\n`);
      } else if (r < 0.5) {
        if (regular.length > 0) writeFileSync(join(root, pick(regular)), `rewrite ${i}\n`);
      } else if (r < 0.58) {
        const from = pick(fileList);
        const to = fresh(pick(dirList), 'mv');
        renameSync(join(root, from), join(root, to));
        files.delete(from);
        files.add(to);
        if (links.delete(from)) links.add(to);
      } else if (r < 0.64) {
        const from = pick(dirList.filter((d) => d !== ''));
        if (from) {
          const parent = pick(dirList.filter((d) => d !== from && !d.startsWith(`${from}/`)));
          const to = fresh(parent, 'md');
          if (to.split('/').length < 8) {
            renameSync(join(root, from), join(root, to));
            rebase(from, to);
          }
        }
      } else if (r < 0.74) {
        const p = pick(fileList);
        unlinkSync(join(root, p));
        files.delete(p);
        links.delete(p);
      } else if (r < 0.78) {
        const p = pick(dirList.filter((d) => d !== ''));
        if (p) {
          rmSync(join(root, p), { recursive: true });
          forget(p);
        }
      } else if (r < 0.88) {
        if (regular.length > 0) chmodSync(join(root, pick(regular)), rand() < 0.5 ? 0o600 : 0o644);
      } else if (r < 0.93) {
        const p = fresh(pick(dirList), 'ln');
        symlinkSync(rand() < 0.5 ? 'dangling-target' : '../x', join(root, p));
        files.add(p);
        links.add(p);
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
