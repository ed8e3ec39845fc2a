// Preloaded into the worker by `scripts/bench.sh upgrade-1000 --mem-profile` (NODE_OPTIONS=--require ...):
// every second, appends one JSON line per thread to $EDGE_UPGRADE_MEM_PROFILE with where the memory is.
// Main thread: process.memoryUsage() and the /proc RSS split; every thread: its V8 heap and heap spaces.
// Measures only; CommonJS so that --require loads it in the main thread and in the workflow thread alike.
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- preloaded with --require into every thread, so CommonJS */
const { appendFileSync, readFileSync } = require('node:fs');
const v8 = require('node:v8');
const { isMainThread, threadId } = require('node:worker_threads');
const { PerformanceObserver, constants } = require('node:perf_hooks');

const out = process.env.EDGE_UPGRADE_MEM_PROFILE;
const MB = 1024 * 1024;
const mb = (n) => Math.round((n / MB) * 10) / 10;

function procStatus() {
  try {
    const s = readFileSync('/proc/self/status', 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) / 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), threads: Number(/^Threads:\s+(\d+)/m.exec(s)?.[1]) };
  } catch {
    return {};
  }
}

/** Milliseconds spent in GC pauses so far on this thread, by kind: what a GC setting costs, whatever the wall time. */
const gcMs = { minor: 0, major: 0, incremental: 0, other: 0 };
const GC_KIND = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
};
function watchGc() {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs[GC_KIND[e.detail?.kind] ?? 'other'] += e.duration;
  }).observe({ entryTypes: ['gc'] });
}

function sample() {
  const h = v8.getHeapStatistics();
  const spaces = Object.fromEntries(
    v8.getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), [mb(s.space_size), mb(s.space_used_size)]]),
  );
  const line = {
    t: Date.now(),
    thread: isMainThread ? 'main' : `t${threadId}`,
    heap: { total: mb(h.total_heap_size), used: mb(h.used_heap_size), limit: mb(h.heap_size_limit), malloced: mb(h.malloced_memory) },
    spaces,
    gcMs: Object.fromEntries(Object.entries(gcMs).map(([k, v]) => [k, Math.round(v)])),
  };
  if (isMainThread) {
    const m = process.memoryUsage();
    line.mem = {
      rss: mb(m.rss),
      heapTotal: mb(m.heapTotal),
      heapUsed: mb(m.heapUsed),
      external: mb(m.external),
      arrayBuffers: mb(m.arrayBuffers),
    };
    line.proc = procStatus();
  }
  appendFileSync(out, JSON.stringify(line) + '\n');
}

if (out) {
  watchGc();
  setInterval(sample, 1000).unref();
}
