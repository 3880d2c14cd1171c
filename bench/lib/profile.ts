/** Summary of V8 .cpuprofile files (node --cpu-prof): where the samples fell, by function. */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Table } from './types.js';

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }>;
  startTime: number;
  endTime: number;
  samples?: number[];
}

export function topFunctions(p: CpuProfile, n = 12): Array<{ name: string; share: number }> {
  const total = p.nodes.reduce((a, x) => a + (x.hitCount ?? 0), 0) || 1;
  const by = new Map<string, number>();
  for (const x of p.nodes) {
    const f = x.callFrame;
    const key =
      `${f.functionName || '(anonymous)'} ${f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
    by.set(key, (by.get(key) ?? 0) + (x.hitCount ?? 0));
  }
  return [...by]
    .map(([name, hits]) => ({ name, share: hits / total }))
    .sort((a, b) => b.share - a.share)
    .slice(0, n);
}

/** One table per profile in dir: the functions with the most samples (self time). */
export function profileTables(dir: string): Table[] {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return [];
  }
  return files.map((f) => {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
    return {
      title: `${f}: ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s profiled; self time by function`,
      columns: ['function', 'share of samples'],
      rows: topFunctions(p).map((t) => [t.name, `${(t.share * 100).toFixed(1)}%`]),
    };
  });
}
