/**
 * Readings of processes from /proc (Linux): CPU seconds of a process and of its threads, memory, the
 * processes below this one; and {@link ProcessMeter}, which follows one process over a measured span.
 */
import { readFileSync, readdirSync } from 'node:fs';

const CLK_TCK = 100;

/** One thread's (or process') name and CPU seconds, user+sys and sys alone. */
export interface CpuReading {
  name: string;
  cpu: number;
  sys: number;
}

/**
 * A /proc `stat` file (of a process or of one of its threads): its name and its user+sys CPU
 * seconds, and sys alone (time in the kernel, e.g. mmap and page faults); undefined when it is gone.
 */
function statCpu(path: string): CpuReading | undefined {
  let stat: string;
  try {
    stat = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [utime, stime] = [Number(f[11]), Number(f[12])]; // fields 14 and 15
  return { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), cpu: (utime + stime) / CLK_TCK, sys: stime / CLK_TCK };
}

/** user+sys (or only sys) CPU seconds of a process, or NaN when it is gone. */
export function cpuSeconds(pid: number, only?: 'sys'): number {
  const s = statCpu(`/proc/${pid}/stat`);
  return (only ? s?.sys : s?.cpu) ?? NaN;
}

/** CPU seconds (user + kernel, and kernel alone) of each thread of `pid`, by thread id, with its name. */
export function threadCpu(pid: number): Map<string, CpuReading> {
  const out = new Map<string, CpuReading>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    // A thread that ended between the listing and the read is left out.
    const s = statCpu(`/proc/${pid}/task/${tid}/stat`);
    if (s) out.set(tid, s);
  }
  return out;
}

/** What each thread name used between two {@link threadCpu} readings (threads that ended are missing), most first. */
export function threadCpuByName(
  before: Map<string, CpuReading>,
  after: Map<string, CpuReading>,
): Array<{ name: string; threads: number; cpu: number; sys: number }> {
  const byName = new Map<string, { name: string; threads: number; cpu: number; sys: number }>();
  for (const [tid, a] of after) {
    const b = before.get(tid);
    const e = byName.get(a.name) ?? { name: a.name, threads: 0, cpu: 0, sys: 0 };
    e.threads++;
    e.cpu += a.cpu - (b?.cpu ?? 0);
    e.sys += a.sys - (b?.sys ?? 0);
    byName.set(a.name, e);
  }
  return [...byName.values()].sort((x, y) => y.cpu - x.cpu);
}

/** A /proc/<pid>/status field in MB (VmHWM, VmRSS). */
export function memMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The descendants of process `root`: pid → command name. */
export function descendants(root: number): Map<number, string> {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      comm.set(Number(d), stat.slice(stat.indexOf('(') + 1, close));
      parent.set(Number(d), Number(stat.slice(close + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out = new Map<number, string>();
  const walk = (p: number) => {
    for (const [c, pp] of parent) {
      if (pp !== p || out.has(c)) continue;
      out.set(c, comm.get(c) ?? '?');
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** What a {@link ProcessMeter} measured from its start to {@link ProcessMeter.end}. */
export interface ProcessUsage {
  pid: number;
  /** CPU seconds, user+sys and in the kernel alone. */
  cpu: number;
  sys: number;
  /** CPU seconds by thread name, most first. */
  threads: Array<{ name: string; threads: number; cpu: number; sys: number }>;
  /** RSS at the start, its peak over the samples and the kernel's high-water mark (VmHWM), in MB. */
  rssAtStart: number;
  rssPeak: number;
  hwm: number;
}

/** Follows one process from its construction: CPU and threads at the start, RSS and CPU at each {@link sample}. */
export class ProcessMeter {
  private readonly cpu0: number;
  private readonly sys0: number;
  private readonly threads0: Map<string, CpuReading>;
  private readonly rssAtStart: number;
  private rssPeak: number;
  /** The process' CPU seconds at each sample (t in ms since the epoch): what each stretch of the run cost it. */
  readonly cpuSamples: Array<{ t: number; cpu: number }> = [];

  constructor(readonly pid: number) {
    this.cpu0 = cpuSeconds(pid);
    this.threads0 = threadCpu(pid);
    this.sys0 = cpuSeconds(pid, 'sys');
    this.rssAtStart = memMb(pid, 'VmRSS');
    this.rssPeak = this.rssAtStart;
  }

  /** Reads the RSS (for the peak) and the CPU seconds now. */
  sample(): void {
    this.rssPeak = Math.max(this.rssPeak, memMb(this.pid, 'VmRSS') || 0);
    this.cpuSamples.push({ t: Date.now(), cpu: cpuSeconds(this.pid) });
  }

  /** What the process used since the start. */
  end(): ProcessUsage {
    return {
      pid: this.pid,
      cpu: cpuSeconds(this.pid) - this.cpu0,
      threads: threadCpuByName(this.threads0, threadCpu(this.pid)),
      sys: cpuSeconds(this.pid, 'sys') - this.sys0,
      rssAtStart: this.rssAtStart,
      rssPeak: this.rssPeak,
      hwm: memMb(this.pid, 'VmHWM'),
    };
  }
}

/** CPU seconds of every descendant of `root` now, by pid with its command name. */
export function descendantsCpu(root: number): Map<number, { comm: string; cpu: number }> {
  return new Map([...descendants(root)].map(([pid, comm]) => [pid, { comm, cpu: cpuSeconds(pid) }]));
}

/** The CPU seconds each process in `before` used since, except those in `except`. */
export function cpuSince(before: Map<number, { comm: string; cpu: number }>, except: number[]): Array<{ comm: string; cpu: number }> {
  return [...before].filter(([pid]) => !except.includes(pid)).map(([pid, b]) => ({ comm: b.comm, cpu: cpuSeconds(pid) - b.cpu }));
}
