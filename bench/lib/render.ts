/**
 * Pure rendering of benchmark results: the Markdown report and the SVG chart
 * (written by hand: two panels, latency CDFs and burst convergence bars).
 */
import { percentile } from './stats.js';
import type { ChartInput, Goal, ScenarioResult, Table } from './types.js';

const esc = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function markdownTable(t: Table): string {
  const head = `| ${t.columns.map(esc).join(' | ')} |`;
  const sep = `|${t.columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`;
  const body = t.rows.map((r) => `| ${t.columns.map((_, i) => esc(r[i] ?? '')).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

export function goalLine(g: Goal): string {
  const mark = g.status === 'met' ? '**met**' : g.status === 'missed' ? '**missed**' : '*not measured*';
  return `- ${mark}: ${g.goal} (${g.detail})`;
}

export interface ReportHeader {
  date: string;
  command: string;
  scale: string;
  machine: Record<string, unknown>;
  notes: string[];
}

export function markdownReport(h: ReportHeader, results: ScenarioResult[]): string {
  const out: string[] = [];
  out.push(`# syncward benchmarks, ${h.date.slice(0, 16).replace('T', ' ')} UTC`, '');
  out.push(`Command: \`${h.command}\` (scale: ${h.scale})`, '');
  const m = h.machine;
  out.push(
    `Machine: ${m.cores} cores (${m.cpu}), Linux ${m.kernel}, ${m.rsync}, Node ${m.node}, ${m.lsyncd}; ` +
      `load average ${m.loadBefore} before, ${m.loadAfter} after; ` +
      `fs.inotify.max_queued_events ${m.maxQueuedEvents}, max_user_watches ${m.maxUserWatches}.`,
    '',
  );
  for (const n of h.notes) out.push(`> ${n}`, '');
  const goals = results.flatMap((r) => r.goals);
  if (goals.length > 0) {
    out.push('## Goals', '', ...goals.map(goalLine), '');
  }
  for (const r of results) {
    out.push(`## ${r.title}`, '');
    if (r.error) out.push(`Failed: ${r.error}`, '');
    for (const t of r.tables) {
      if (t.title) out.push(`${t.title}`, '');
      out.push(markdownTable(t), '');
    }
    for (const n of r.notes) out.push(`- ${n}`);
    if (r.notes.length > 0) out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

const COLORS: Record<string, string> = {
  floor: '#6b7280',
  syncward: '#2563eb',
  lsyncd: '#d97706',
};
const color = (name: string, i: number) =>
  COLORS[name.split(' ')[0] as string] ?? ['#059669', '#db2777', '#7c3aed'][i % 3];

const xmlEsc = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** A "nice" axis maximum and tick step for values up to max. */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  return { max: Math.ceil(max / step) * step, step };
}

const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2).replace(/0+$/, ''));

/** The chart: latency CDFs (left) and burst convergence bars (right); a panel without data says so. */
export function svgChart(c: ChartInput, title: string): string {
  const W = 960;
  const H = 420;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${xmlEsc(title)}</text>`,
  );
  parts.push(latencyPanel(c.latency, 60, 50, 380, 300));
  parts.push(burstPanel(c.burst, 560, 50, 370, 300));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function latencyPanel(l: ChartInput['latency'], x0: number, y0: number, w: number, h: number): string {
  const p: string[] = [
    `<text x="${x0 + w / 2}" y="${y0 - 8}" text-anchor="middle" font-weight="bold">Single-file latency (CDF of trials)</text>`,
  ];
  const series = (l?.series ?? []).filter((s) => s.samples.length > 0);
  if (series.length === 0) {
    p.push(
      `<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle">no latency data in this run</text>`,
    );
    return p.join('\n');
  }
  // x up to the largest p99 (outliers beyond it are clipped at the edge)
  const { max, step } = niceScale(Math.max(...series.map((s) => percentile(s.samples, 0.99))) * 1.1);
  const X = (ms: number) => x0 + (Math.min(ms, max) / max) * w;
  const Y = (f: number) => y0 + h - f * h;
  p.push(axes(x0, y0, w, h));
  for (let t = 0; t <= max + 1e-9; t += step) {
    p.push(
      `<line x1="${X(t)}" y1="${y0 + h}" x2="${X(t)}" y2="${y0 + h + 4}" stroke="#000"/>`,
      `<text x="${X(t)}" y="${y0 + h + 16}" text-anchor="middle">${num(t)}</text>`,
    );
  }
  for (const f of [0, 0.5, 0.9, 0.99]) {
    p.push(
      `<line x1="${x0}" y1="${Y(f)}" x2="${x0 + w}" y2="${Y(f)}" stroke="#e5e7eb"/>`,
      `<text x="${x0 - 6}" y="${Y(f) + 4}" text-anchor="end">${f === 0 ? '0' : `p${Math.round(f * 100)}`}</text>`,
    );
  }
  p.push(
    `<text x="${x0 + w / 2}" y="${y0 + h + 34}" text-anchor="middle">ms from write to file on target</text>`,
  );
  series.forEach((s, i) => {
    const xs = [...s.samples].sort((a, b) => a - b);
    const pts = xs.map((v, k) => `${X(v).toFixed(1)},${Y((k + 1) / xs.length).toFixed(1)}`);
    pts.unshift(`${X(xs[0] as number).toFixed(1)},${Y(0).toFixed(1)}`);
    p.push(
      `<polyline fill="none" stroke="${color(s.name, i)}" stroke-width="2" points="${pts.join(' ')}"/>`,
      `<rect x="${x0 + 10}" y="${y0 + 8 + i * 18}" width="12" height="12" fill="${color(s.name, i)}"/>`,
      `<text x="${x0 + 28}" y="${y0 + 18 + i * 18}">${xmlEsc(s.name)} (p50 ${percentile(xs, 0.5).toFixed(1)} ms)</text>`,
    );
  });
  return p.join('\n');
}

function burstPanel(b: ChartInput['burst'], x0: number, y0: number, w: number, h: number): string {
  const p: string[] = [
    `<text x="${x0 + w / 2}" y="${y0 - 8}" text-anchor="middle" font-weight="bold">Burst: convergence from the first write</text>`,
  ];
  const groups = b?.groups ?? [];
  const values = groups.flatMap((g) => g.bars.map((x) => x.ms ?? 0));
  if (groups.length === 0 || values.length === 0) {
    p.push(`<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle">no burst data in this run</text>`);
    return p.join('\n');
  }
  const { max, step } = niceScale(Math.max(...values) / 1000);
  const X = (s: number) => x0 + 80 + (s / max) * (w - 170);
  p.push(axes(x0 + 80, y0, w - 170, h));
  for (let t = 0; t <= max + 1e-9; t += step) {
    p.push(
      `<line x1="${X(t)}" y1="${y0 + h}" x2="${X(t)}" y2="${y0 + h + 4}" stroke="#000"/>`,
      `<text x="${X(t)}" y="${y0 + h + 16}" text-anchor="middle">${num(t)}</text>`,
    );
  }
  p.push(`<text x="${x0 + 80 + (w - 170) / 2}" y="${y0 + h + 34}" text-anchor="middle">seconds</text>`);
  const slot = h / groups.length;
  groups.forEach((g, gi) => {
    const gy = y0 + gi * slot;
    const barH = Math.min(22, (slot - 14) / Math.max(1, g.bars.length));
    p.push(
      `<text x="${x0 + 74}" y="${gy + slot / 2 + 4}" text-anchor="end" font-weight="bold">${xmlEsc(g.label)}</text>`,
    );
    g.bars.forEach((bar, bi) => {
      const y = gy + 7 + bi * barH;
      if (bar.ms == null) {
        p.push(`<text x="${X(0) + 4}" y="${y + barH * 0.7}">${xmlEsc(bar.name)}: not measured</text>`);
        return;
      }
      const s = bar.ms / 1000;
      p.push(
        `<rect x="${X(0)}" y="${y}" width="${Math.max(1, X(s) - X(0)).toFixed(1)}" height="${(barH - 2).toFixed(1)}" fill="${color(bar.name, bi)}"/>`,
        `<text x="${X(s) + 4}" y="${y + barH * 0.7}">${xmlEsc(bar.name)} ${s.toFixed(2)} s</text>`,
      );
    });
  });
  return p.join('\n');
}

function axes(x0: number, y0: number, w: number, h: number): string {
  return `<polyline fill="none" stroke="#000" points="${x0},${y0} ${x0},${y0 + h} ${x0 + w},${y0 + h}"/>`;
}
