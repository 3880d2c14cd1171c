/** Pure helpers for the benchmark suite: percentiles, medians, ratios, number formatting. */

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * The p-th percentile (0..1) by the nearest-rank method: the smallest sample
 * with at least p of the samples at or below it. p99 of 100 samples is the
 * 99th smallest, p50 of 4 samples the 2nd.
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples: run at least one trial');
  if (!(p >= 0 && p <= 1)) throw new Error(`percentile ${p} is outside 0..1`);
  const s = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(p * s.length));
  return s[rank - 1] as number;
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  return {
    n: s.length,
    min: s[0] as number,
    p50: percentile(s, 0.5),
    p90: percentile(s, 0.9),
    p99: percentile(s, 0.99),
    max: s[s.length - 1] as number,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 0.5);
}

/** a / b, or null when either side is missing (lsyncd not installed, a run that did not finish). */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

export const fmtMs = (x: number | null | undefined): string => (x == null ? '-' : x.toFixed(1));
export const fmtS = (ms: number | null | undefined): string => (ms == null ? '-' : (ms / 1000).toFixed(2));
export const fmtX = (x: number | null | undefined): string => (x == null ? '-' : `${x.toFixed(2)}x`);
export const fmtMb = (x: number | null | undefined): string => (x == null ? '-' : x.toFixed(1));
