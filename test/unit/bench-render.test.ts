import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goalLine, markdownReport, markdownTable, niceScale, svgChart } from '../../bench/lib/render.js';
import { median, percentile, ratio, summarize } from '../../bench/lib/stats.js';

test('percentile is nearest-rank: p50 of 1..4 is 2, p99 of 1..100 is 99, p100 the max', () => {
  assert.equal(percentile([4, 1, 3, 2], 0.5), 2);
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(percentile(hundred, 0.99), 99);
  assert.equal(percentile(hundred, 1), 100);
  assert.equal(percentile(hundred, 0), 1);
  assert.equal(median([5]), 5);
  assert.throws(() => percentile([], 0.5), /no samples/);
  assert.throws(() => percentile([1], 1.5), /outside 0\.\.1/);
});

test('summarize does not reorder its input and reports min, max and mean', () => {
  const xs = [30, 10, 20];
  const s = summarize(xs);
  assert.deepEqual(xs, [30, 10, 20]);
  assert.deepEqual(
    { n: s.n, min: s.min, p50: s.p50, max: s.max, mean: s.mean },
    { n: 3, min: 10, p50: 20, max: 30, mean: 20 },
  );
});

test('ratio is null when a side is missing or zero', () => {
  assert.equal(ratio(3, 2), 1.5);
  assert.equal(ratio(null, 2), null);
  assert.equal(ratio(3, undefined), null);
  assert.equal(ratio(3, 0), null);
});

test('markdown tables escape pipes and right-align the number columns; goals say met or missed', () => {
  const md = markdownTable({ title: '', columns: ['', 'p50 ms'], rows: [['a|b', '1.0']] });
  assert.equal(md, '|  | p50 ms |\n|---|---:|\n| a\\|b | 1.0 |');
  assert.equal(goalLine({ goal: 'g', status: 'missed', detail: '2.00x' }), '- **missed**: g (2.00x)');
  const report = markdownReport(
    {
      date: '2026-11-25T14:00:00.000Z',
      command: 'npm run bench',
      scale: 'quick',
      machine: { cores: 2 },
      notes: ['shared'],
    },
    [
      {
        name: 'x',
        title: 'X scenario',
        params: {},
        data: {},
        tables: [{ title: 'T', columns: ['a'], rows: [['1']] }],
        goals: [{ goal: 'fast', status: 'met', detail: '1.0x' }],
        notes: ['n1'],
      },
      { name: 'y', title: 'Y', params: {}, data: {}, tables: [], goals: [], notes: [], error: 'boom' },
    ],
  );
  assert.match(report, /^# syncward benchmarks, 2026-11-25 14:00 UTC/);
  assert.match(report, /> shared/);
  assert.match(report, /## Goals\n\n- \*\*met\*\*: fast \(1\.0x\)/);
  assert.match(report, /## X scenario\n\nT\n\n\| a \|/);
  assert.match(report, /## Y\n\nFailed: boom/);
});

test('niceScale rounds the axis up to a round step', () => {
  assert.deepEqual(niceScale(47), { max: 50, step: 10 });
  assert.deepEqual(niceScale(0.9), { max: 1, step: 0.2 });
  assert.deepEqual(niceScale(0), { max: 1, step: 0.2 });
});

test('the SVG has one CDF line per latency series, one bar per burst result, escaped labels', () => {
  const svg = svgChart(
    {
      latency: {
        series: [
          { name: 'floor', samples: [30, 31, 40] },
          { name: 'syncward', samples: [32, 33, 45] },
          { name: 'lsyncd', samples: [] },
        ],
      },
      burst: {
        groups: [
          {
            label: '2k files',
            bars: [
              { name: 'floor', ms: 800 },
              { name: 'syncward', ms: 1100 },
              { name: 'lsyncd', ms: null },
            ],
          },
        ],
      },
    },
    'a <b> & c',
  );
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.equal((svg.match(/stroke-width="2" points=/g) ?? []).length, 2);
  assert.match(svg, /syncward \(p50 33\.0 ms\)/);
  assert.match(svg, /syncward 1\.10 s/);
  assert.match(svg, /lsyncd: not measured/);
  assert.match(svg, /a &lt;b&gt; &amp; c/);
  assert.doesNotMatch(svg, /NaN|undefined/);
  const empty = svgChart({}, 't');
  assert.match(empty, /no latency data in this run/);
  assert.match(empty, /no burst data in this run/);
});

test('the report shows the bench command without the --note texts', async () => {
  const { commandLine, parseArgs } = await import('../../bench/run.js');
  assert.equal(commandLine([]), 'npm run bench');
  assert.equal(
    commandLine(['burst', '--scale', 'quick', '--note', 'shared box']),
    'npm run bench -- burst --scale quick',
  );
  const o = parseArgs(['latency', 'burst', '--scale', 'quick', '--sizes', '10000']);
  assert.deepEqual(
    [o.names, o.scale, o.sizes, o.out],
    [['latency', 'burst'], 'quick', [10000], 'bench/results'],
  );
});
