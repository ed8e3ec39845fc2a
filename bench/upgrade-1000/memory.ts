/** Where the worker's memory is (--mem-profile): the samples bench/mem-sampler.cjs wrote, read back and summed up. */
import { readFileSync } from 'node:fs';

/** One line of bench/mem-sampler.cjs: one thread's memory at time `t` (MB). */
interface MemSample {
  t: number;
  thread: string;
  heap: { total: number; used: number; limit: number; malloced: number };
  spaces: Record<string, [number, number]>;
  gcMs?: Record<string, number>;
  mem?: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  proc?: { rss: number; anon: number; file: number; threads: number };
}

/** Where the worker's memory is: at the start, at its RSS peak and at the end, per thread; `since`: the upgrade's start (ms). */
export function memoryReport(path: string, since: number): string[] {
  let samples: MemSample[];
  try {
    samples = readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as MemSample);
  } catch {
    return ['  worker memory: no samples'];
  }
  const main = samples.filter((s) => s.mem);
  if (!main.length) return ['  worker memory: no samples'];
  const peak = main.reduce((a, b) => (b.mem!.rss > a.mem!.rss ? b : a));
  const during = main.filter((s) => s.t >= since);
  const maxOf = (f: (s: MemSample) => number) => Math.max(...during.map(f)).toFixed(0);
  const out = ['  worker memory (--mem-profile, sampled every second in the worker)'];
  for (const [label, s] of [
    ['start', during[0] ?? main[0]!],
    ['at the RSS peak', peak],
    ['end', main[main.length - 1]!],
  ] as const) {
    const [a, b] = memoryAt(samples, s);
    out.push(`    ${label} (${((s.t - since) / 1000).toFixed(0)} s): ${a}`, `      ${b}`);
  }
  const threads = [...new Set(samples.map((x) => x.thread))];
  out.push(`    GC pauses during the upgrade: ${threads.map((thread) => gcDuring(samples, thread, since)).join('; ')}`);
  out.push(
    `    max during the upgrade: main heap total ${maxOf((s) => s.mem!.heapTotal)} / used ${maxOf((s) => s.mem!.heapUsed)} MB, ` +
      `external ${maxOf((s) => s.mem!.external)} MB`,
  );
  return out;
}

/** Two lines on the main thread's sample `s`, with each other thread's sample closest in time to it. */
function memoryAt(samples: MemSample[], s: MemSample): [string, string] {
  const closest = new Map<string, MemSample>();
  for (const o of samples) {
    if (o.mem) continue;
    const c = closest.get(o.thread);
    if (!c || Math.abs(o.t - s.t) < Math.abs(c.t - s.t)) closest.set(o.thread, o);
  }
  const others = [...closest.values()];
  const m = s.mem!;
  const threads = others.map((o) => `${o.thread} heap ${o.heap.total}/${o.heap.used} MB (total/used)`).join(', ');
  const heaps = m.heapTotal + others.reduce((a, o) => a + o.heap.total, 0);
  const spaces = Object.entries(s.spaces)
    .filter(([, [size]]) => size >= 1)
    .map(([k, [size, used]]) => `${k} ${size}/${used}`)
    .join(', ');
  return [
    `rss ${m.rss} MB (anon ${s.proc?.anon?.toFixed(0)}, file ${s.proc?.file?.toFixed(0)}; ${s.proc?.threads} threads): ` +
      `main heap total ${m.heapTotal} used ${m.heapUsed}, ` +
      `external ${m.external} (arrayBuffers ${m.arrayBuffers}); ${threads || 'no workflow-thread sample'}; ` +
      `rss − all V8 heaps − external: ${(m.rss - heaps - m.external).toFixed(0)} MB`,
    `main heap spaces (MB size/used): ${spaces}`,
  ];
}

/** One thread's GC pauses from `since` (ms) to its last sample, by kind. */
function gcDuring(samples: MemSample[], thread: string, since: number): string {
  const own = samples.filter((x) => x.thread === thread && x.gcMs);
  const before = own.filter((x) => x.t <= since).pop() ?? own[0];
  const after = own[own.length - 1];
  if (!before || !after) return '—';
  const d = (k: string) => (after.gcMs![k] ?? 0) - (before.gcMs![k] ?? 0);
  return `${thread} minor ${d('minor')} / major ${d('major')} / incremental ${d('incremental')} ms`;
}
