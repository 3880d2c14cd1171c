import assert from 'node:assert/strict';
import perfHooks from 'node:perf_hooks';
import { test } from 'node:test';

test('the metrics start no event-loop sampler (an idle daemon sleeps) and still report process CPU, memory and loop lag', async () => {
  // prom-client's default event-loop-lag histogram wakes the loop every 10 ms
  const samplers: unknown[] = [];
  const original = perfHooks.monitorEventLoopDelay;
  perfHooks.monitorEventLoopDelay = (o) => {
    samplers.push(o);
    return original(o);
  };
  try {
    const { Metrics } = await import('../../src/api/metrics.js');
    const m = new Metrics(() => []);
    const text = await m.render();
    assert.deepEqual(samplers, [], 'monitorEventLoopDelay was called');
    for (const name of [
      'syncward_process_cpu_seconds_total',
      'syncward_process_resident_memory_bytes',
      'syncward_process_open_fds',
      'syncward_nodejs_heap_size_used_bytes',
      'syncward_nodejs_eventloop_lag_seconds',
    ])
      assert.match(text, new RegExp(`^${name} \\d`, 'm'), name);
  } finally {
    perfHooks.monitorEventLoopDelay = original;
  }
});
