import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Scale, ScenarioResult } from './types.js';

export interface Context {
  scale: Scale;
  /** lsyncd is installed: its columns are measured */
  lsyncd: boolean;
  inotifywait: boolean;
  /** write CPU profiles of syncward here (--cpu-prof) */
  cpuProfDir?: string;
  /** --sizes: replaces the sizes of scenarios that take several (burst, startup) */
  sizes?: number[];
  /** --rtt: the latency scenario reaches its targets through a proxy adding this round trip (ms) */
  rttMs?: number;
  log(msg: string): void;
  /** the quick or full value of a size */
  size(full: number, quick: number): number;
}

export interface Scenario {
  name: string;
  title: string;
  run(ctx: Context): Promise<ScenarioResult>;
}

/** A scratch directory for one scenario, removed by dispose(). */
export function scratch(prefix: string): { dir: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), `syncward-bench-${prefix}-`));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export const NOT_INSTALLED = 'not installed';
