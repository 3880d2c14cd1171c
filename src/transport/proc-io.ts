import { readdirSync, readFileSync } from 'node:fs';

/** What /proc says one process tree of rsync has done so far. */
export interface TreeCounters {
  /** rchar + wchar summed */
  ioBytes: number;
  /** utime + stime summed, in clock ticks */
  cpuTicks: number;
}

/**
 * The I/O and CPU counters of a spawned rsync and those of its descendants
 * that are rsync too: the receiver and generator a local copy or a fetch
 * forks. A remote shell it runs (ssh) is left out: ssh's own keep-alives
 * (ServerAliveInterval) would keep a hung remote rsync looking busy, while
 * everything the remote rsync does reaches the local one through its pipe.
 * null when the spawned process's own counters cannot be read (gone, or a
 * /proc we may not read).
 */
export function rsyncTreeCounters(pid: number): TreeCounters | null {
  const root = readStat(pid);
  if (root === null) return null;
  const own = readIoBytes(pid);
  if (own === null) return null;
  const total: TreeCounters = { ioBytes: own, cpuTicks: root.cpuTicks };
  for (const child of descendants(pid)) {
    const st = readStat(child);
    if (st === null || st.comm !== root.comm) continue;
    const io = readIoBytes(child);
    if (io === null) continue;
    total.ioBytes += io;
    total.cpuTicks += st.cpuTicks;
  }
  return total;
}

interface Stat {
  comm: string;
  ppid: number;
  cpuTicks: number;
}

/** /proc/PID/stat: "pid (comm) state ppid ... utime stime ..."; comm may hold spaces and parentheses. */
export function parseStat(text: string): Stat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  // fields after comm, from field 3 (state): ppid is field 4, utime 14, stime 15
  const f = text.slice(close + 2).split(' ');
  const ppid = Number(f[1]);
  const cpu = Number(f[11]) + Number(f[12]);
  if (!Number.isFinite(ppid) || !Number.isFinite(cpu)) return null;
  return { comm: text.slice(open + 1, close), ppid, cpuTicks: cpu };
}

/** rchar + wchar of /proc/PID/io: every byte passed to read() and write(), whatever the fd. */
export function parseIoBytes(text: string): number | null {
  const r = /^rchar: (\d+)$/m.exec(text)?.[1];
  const w = /^wchar: (\d+)$/m.exec(text)?.[1];
  return r === undefined || w === undefined ? null : Number(r) + Number(w);
}

function readStat(pid: number): Stat | null {
  const text = readProc(`/proc/${pid}/stat`);
  return text === null ? null : parseStat(text);
}

function readIoBytes(pid: number): number | null {
  const text = readProc(`/proc/${pid}/io`);
  return text === null ? null : parseIoBytes(text);
}

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

// /proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN, which some kernels lack;
// without it the children are found by scanning every process's parent
let childrenFiles: boolean | undefined;

function descendants(pid: number): number[] {
  const out: number[] = [];
  const byParent = childrenFiles === false ? parentMap() : null;
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    const kids = byParent ? (byParent.get(p) ?? []) : childrenOf(p);
    // the kernel has no children files after all: scan instead
    if (kids === null) return descendants(pid);
    out.push(...kids);
    queue.push(...kids);
  }
  return out;
}

/** The children of a (single-threaded) process, or null once the kernel turned out not to list them. */
function childrenOf(pid: number): number[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1');
    childrenFiles = true;
    return text.split(' ').filter(Boolean).map(Number);
  } catch (e) {
    // the process itself being gone says nothing about the kernel
    if (childrenFiles === undefined && (e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (readProc(`/proc/${pid}/stat`) !== null) {
        childrenFiles = false;
        return null;
      }
    }
    return [];
  }
}

function parentMap(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return map;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st === null) continue;
    const kids = map.get(st.ppid);
    if (kids) kids.push(Number(name));
    else map.set(st.ppid, [Number(name)]);
  }
  return map;
}
