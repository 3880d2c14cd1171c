/** What a scenario hands back to the runner: data for latest.json, tables and goals for latest.md. */

export type Scale = 'quick' | 'full';

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

export interface Goal {
  goal: string;
  status: 'met' | 'missed' | 'not measured';
  /** the number behind the verdict, e.g. "p50 1.08x the floor (36.1 vs 33.4 ms)" */
  detail: string;
}

export interface ScenarioResult {
  name: string;
  title: string;
  /** sizes and settings this run used */
  params: Record<string, unknown>;
  /** raw measurements, for latest.json and the chart */
  data: Record<string, unknown>;
  tables: Table[];
  goals: Goal[];
  notes: string[];
  /** set when the scenario failed; the runner goes on with the next one */
  error?: string;
}

/** The chart's inputs, taken from the latency and burst results. */
export interface ChartInput {
  latency?: { series: Array<{ name: string; samples: number[] }> };
  burst?: { groups: Array<{ label: string; bars: Array<{ name: string; ms: number | null }> }> };
}
