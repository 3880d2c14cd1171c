/**
 * CPU use of a running process, from /proc: what `top` would show, without
 * sampling. utime + stime of /proc/PID/stat count every thread in clock
 * ticks; the main thread's voluntary context switches count how often it
 * went to sleep, i.e. how often its event loop woke up.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface CpuSample {
  /** utime + stime of every thread, in clock ticks */
  ticks: number;
  /** voluntary context switches of the main thread (its sleeps) */
  sleeps: number;
}

export function cpuSample(pid: number): CpuSample | null {
  try {
    // the command name (field 2) may hold spaces: count fields after its ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
    const sleeps = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name
    return { ticks: Number(f[11]) + Number(f[12]), sleeps };
  } catch {
    return null;
  }
}

let clkTck: number | undefined;

/** Clock ticks per second (getconf CLK_TCK; 100 on every Linux we run on). */
export function ticksPerSecond(): number {
  clkTck ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return clkTck;
}

export interface CpuUse {
  /** percent of one core over the window */
  percent: number;
  /** main-thread wakeups per second */
  wakesPerS: number;
  ticks: number;
}

/** Pure: two samples of one process, `ms` apart, as CPU use. */
export function cpuUse(a: CpuSample, b: CpuSample, ms: number, tck: number): CpuUse {
  const ticks = b.ticks - a.ticks;
  return {
    percent: (ticks / tck / (ms / 1000)) * 100,
    wakesPerS: (b.sleeps - a.sleeps) / (ms / 1000),
    ticks,
  };
}
