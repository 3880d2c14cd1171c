import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

/** One metric family as parse-prometheus-text-format gives it. */
export interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; count?: string; sum?: string }[];
}

// a CommonJS package without types
export const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => Family[];

/** The samples of one family matching `labels`, as numbers. */
export function values(families: Family[], name: string, labels: Record<string, string> = {}): number[] {
  const f = families.find((x) => x.name === name);
  assert.ok(f, `${name} is exposed`);
  return f.metrics
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .map((m) => Number(m.value ?? m.count));
}

/** The one sample of a family matching `labels`. */
export function value(families: Family[], name: string, labels: Record<string, string> = {}): number {
  const v = values(families, name, labels);
  assert.equal(v.length, 1, `one sample of ${name} ${JSON.stringify(labels)}, got ${v.length}`);
  return v[0] as number;
}
