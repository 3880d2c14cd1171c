import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { clock, type LagSample } from './model.js';

function toData(samples: LagSample[], canary: boolean): uPlot.AlignedData {
  const t = samples.map((s) => s.t / 1000);
  const lag = samples.map((s) => s.lag);
  return canary ? [t, lag, samples.map((s) => s.canary)] : [t, lag];
}

/** Lag over the last hour: pending age, and the canary's end-to-end lag when there is one. */
export function LagChart(props: { samples: LagSample[]; version: number }) {
  // the canary's series only for a source that has one
  const canary = props.samples.some((s) => s.canary !== null);
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(280, el.clientWidth || 560);
    const u = new uPlot(
      {
        width: width(),
        height: 180,
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.2)] } },
        axes: [
          {
            space: 90,
            incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
            values: (_u, splits) => splits.map((v) => clock(v * 1000)),
          },
          { label: 'seconds', size: 50 },
        ],
        series: [
          {},
          { label: 'pending lag', stroke: '#b7791f', fill: 'rgba(214,158,46,0.15)', width: 2 },
          ...(canary
            ? [{ label: 'canary lag', stroke: '#2b6cb0', width: 2, points: { show: true, size: 4 } }]
            : []),
        ],
      },
      toData(props.samples, canary),
      el,
    );
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: width(), height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [canary]);

  useEffect(() => {
    plot.current?.setData(toData(props.samples, canary));
  }, [props.version, props.samples, canary]);

  return html`<div id="lag-chart" class="chart" ref=${box}></div>`;
}
