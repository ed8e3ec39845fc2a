/** upgrade-1000's printed table: the test bed, the rollout, per-step latency, CPU and memory, API requests and the workflow. */
import { readFileSync } from 'node:fs';
import { STATUS_PATIENCE_MS } from '../../src/api.js';
import { devServerDynamicConfig } from '../../src/local/temporal-dev.js';
import { batchPlan, DEFAULT_MAX_BATCH_PERCENT } from '../../src/planning/batches.js';
import { p50p95, Report, sec } from '../lib/report.js';
import { cpuFit, pct } from '../lib/stats.js';
import type { Histories } from './histories.js';
import { batchesOf, stepLatencies, type Batch, type Timeline } from './latencies.js';
import type { Measurement } from './measure.js';
import { memoryReport } from './memory.js';
import { SIM_READY_DELAY_S, START, TARGET, type Options } from './options.js';

/** What the report is made from. */
export interface ReportInput {
  opt: Options;
  /** Edge workers (the others are cloud workers). */
  edge: number;
  m: Measurement;
  h: Histories;
  timeline: Timeline;
  /** The replay of the largest run, best of three (ms). */
  replayMs: number;
  /** The worker's count of API requests, by "verb resource", and the name of the metric they were read from. */
  requests: Map<string, number>;
  metricName: string;
  memProfilePath: string;
}

/** Figures derived from the input, shared by the report's sections. */
interface Derived {
  sizes: number[];
  upgraded: number;
  /** The ideal critical path and the simulated floor (s). */
  critical: number;
  floor: number;
}

/** The whole report. */
export function upgradeReport(input: ReportInput): Report {
  const { opt, timeline } = input;
  const sizes = batchPlan(opt.workers, DEFAULT_MAX_BATCH_PERCENT);
  const derived: Derived = {
    sizes,
    upgraded: [...timeline.sim.values()].filter((s) => s.ready !== undefined).length,
    critical: (sizes.length + opt.masters) * opt.upgradeS,
    floor: (sizes.length + opt.masters) * (opt.upgradeS + SIM_READY_DELAY_S),
  };
  const r = new Report();
  header(r, input, derived);
  rollout(r, input, derived);
  steps(r, input);
  resources(r, input, derived);
  apiRequests(r, input, derived);
  workflow(r, input);
  if (opt.memProfile) r.line('', ...memoryReport(input.memProfilePath, input.m.started));
  return r;
}

function header(r: Report, { opt, edge, m }: ReportInput, { upgraded }: Derived): void {
  r.line('');
  r.line(
    `upgrade-1000 benchmark: ${opt.masters} masters + ${opt.workers} workers ` +
      `(${opt.workers - edge} cloud, ${edge} edge), ${START} → ${TARGET}`,
  );
  const cores = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? '?';
  r.line(
    `  test bed: one machine, ${cores} cores; etcd + kube-apiserver + controller manager + scheduler, ` +
      'Temporal dev server (SQLite), simulator process, worker process',
  );
  r.line(`  Temporal dev server dynamic config: ${devServerDynamicConfig(opt.serverConfig).join(', ')}`);
  r.line(
    `  simulator: upgrade pod ${opt.upgradeS} s, node lease ${opt.leaseS} s (renewed every ${opt.leaseS / 4} s), ` +
      `status re-posted every ${opt.statusS} s, ` +
      `controller node-monitor-grace-period ${opt.leaseS} s; ` +
      `a restarted kubelet posts Ready ${SIM_READY_DELAY_S} s after its pod Succeeded`,
  );
  const lastError = m.final?.lastError ? JSON.stringify(m.final.lastError) : 'none';
  r.line(`  result: ${m.final?.state ?? 'unknown'}; ${upgraded} upgrade pods ran to Ready; lastError ${lastError}`);
  r.line('');
}

/** Wall time against the ideal, and the batches. */
function rollout(r: Report, { opt, edge, m, h, timeline }: ReportInput, { sizes, critical, floor }: Derived): void {
  const { wallMs, nodeProbes, progress } = m;
  r.row('wall time (start → workflow result)', sec(wallMs));
  r.row(
    `pre-check (start → past precheck, ±1 s)${nodeProbes ? ', node probes included' : ', no node probes'}`,
    sec(progress.precheckDoneAt - m.started),
  );
  r.row(
    `prepare phase (${nodeProbes ? `${opt.workers - edge} cloud workers` : 'off'}, ±1 s)`,
    sec(progress.prepareDoneAt - progress.precheckDoneAt),
  );
  r.row(
    `ideal critical path (${sizes.length} batches${opt.masters ? ` + ${opt.masters} masters` : ''} × ${opt.upgradeS} s)`,
    `${critical} s`,
  );
  r.row('ratio wall / critical path', (wallMs / 1000 / critical).toFixed(1));
  r.row(
    `simulated floor (× (${opt.upgradeS} s + ${SIM_READY_DELAY_S} s Ready delay))`,
    `${floor} s; ratio ${(wallMs / 1000 / floor).toFixed(1)}`,
  );
  r.row('batch sizes (src/planning batchPlan)', sizes.join(', '));
  const { batches, overlap, complete } = batchesOf(workerNodes(h), timeline, sizes, opt.workers, m.workerCpuSamples);
  if (batches.length) batchRows(r, batches, overlap);
  else r.row('per-batch overhead', `— (only ${complete} of ${opt.workers} workers have complete histories)`);
  r.line('');
}

function batchRows(r: Report, batches: Batch[], overlap: boolean): void {
  const overheads = batches.map((b) => b.overhead);
  r.row('per-batch overhead p50 / p95 / max', `${sec(pct(overheads, 50))} / ${sec(pct(overheads, 95))} / ${sec(Math.max(...overheads))}`);
  r.line('    (batch wall: previous batch done → last uncordon done; minus the slowest simulator run, pod seen → node Ready)');
  r.row('per-batch wall', batches.map((b) => `${b.size}:${(b.wall / 1000).toFixed(1)}`).join(' '));
  r.row('worker CPU per batch (s)', batches.map((b) => `${b.size}:${b.cpu.toFixed(1)}`).join(' '));
  const fit = cpuFit(batches);
  if (fit) {
    r.row(
      'worker CPU fit over batches: per node + per second',
      `${(fit.perNode * 1000).toFixed(1)} ms per node + ${(fit.perSecond * 1000).toFixed(0)} ms per second of wall ` +
        `(least squares, R² ${fit.r2.toFixed(2)})`,
    );
    r.line(
      '    (the per-second part runs whatever the batch size: watches, heartbeats, polls, queries; a slower test bed makes more of it)',
    );
  }
  if (overlap) r.row('WARNING', 'batches overlap in time: the cordon-order grouping is approximate');
  const worstBatch = batches.reduce((a, b) => (b.overhead > a.overhead ? b : a));
  r.row(
    `worst batch (${worstBatch.size} nodes, ${sec(worstBatch.wall)}): max per step`,
    Object.entries(worstBatch.worst)
      .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`)
      .join(', '),
  );
}

const workerNodes = (h: Histories) => [...h.nodes].filter(([, n]) => n.role === 'worker');

/** Per-step latency of worker nodes, the product's side beside the simulator's. */
function steps(r: Report, { h, timeline }: ReportInput): void {
  const lat = stepLatencies(workerNodes(h), timeline);
  r.line(`  ${'per-step latency, worker nodes (p50 / p95)'.padEnd(50)} ${'product'.padEnd(24)} simulator`);
  r.step('cordon (activity scheduled → completed)', p50p95(lat.cordon), '— (not involved)');
  r.step('drain (activity scheduled → completed)', p50p95(lat.drain), '— (no workload pods)');
  r.step('pod create → Running', p50p95(lat.createToSeen), p50p95(lat.seenToRunning));
  r.line('    (product: runUpgradePod scheduled → the simulator sees the pod; simulator: sees it → Running written)');
  r.step('pod run (Running → Succeeded written)', '—', p50p95(lat.run));
  r.step('pod Succeeded → observed by the product', p50p95(lat.readyToDone), p50p95(lat.succeededToReady));
  r.line('    (simulator: Succeeded → Ready posted, with its 2 s kubelet restart; product: Ready posted → runUpgradePod completed)');
  r.step('uncordon (activity scheduled → completed)', p50p95(lat.uncordon), '— (not involved)');
  r.step('workflow: step completed → next step scheduled', p50p95(lat.gaps), '');
  r.step('activity schedule → start (task queue wait)', p50p95(h.scheduleToStart), '');
  r.line('');
}

/** CPU and memory of the worker, the simulator and the rest of the test bed. */
function resources(r: Report, { m, timeline }: ReportInput, { upgraded }: Derived): void {
  const { worker, simulator } = m;
  const cpuUse = (pid: number, cpu: number) =>
    `pid ${pid}: ${cpu.toFixed(1)} s (${((cpu / (m.wallMs / 1000)) * 100).toFixed(0)}% of a core), ` +
    `${((cpu * 1000) / Math.max(1, upgraded)).toFixed(1)} ms per upgraded node`;
  r.row('worker process CPU during the upgrade', `${cpuUse(worker.pid, worker.cpu)}; in the kernel ${worker.sys.toFixed(1)} s`);
  r.row(
    '  by thread (name: CPU s, of it in the kernel)',
    worker.threads
      .filter((t) => t.cpu >= 0.05)
      .map((t) => `${t.name}${t.threads > 1 ? ` ×${t.threads}` : ''}: ${t.cpu.toFixed(1)} (${t.sys.toFixed(1)})`)
      .join(', '),
  );
  r.row(
    'worker RSS at start / peak sampled 1 s / VmHWM',
    `${worker.rssAtStart.toFixed(0)} / ${worker.rssPeak.toFixed(0)} / ${worker.hwm.toFixed(0)} MB`,
  );
  r.row('simulator process CPU during the upgrade', cpuUse(simulator.pid, simulator.cpu));
  r.row(
    'simulator RSS at start / peak sampled 1 s / VmHWM',
    `${simulator.rssAtStart.toFixed(0)} / ${simulator.rssPeak.toFixed(0)} / ${simulator.hwm.toFixed(0)} MB`,
  );
  const simStats = timeline.simStats;
  r.row(
    'simulator counters',
    `lease renewals ${simStats.leaseRenewals ?? '?'}, status posts ${simStats.statusUpdates ?? '?'}, ` +
      `API errors ${simStats.apiErrors ?? '?'}, worst renewal lag ${Math.round(simStats.maxRenewLagMs ?? NaN)} ms`,
  );
  const testBed = m.others
    .filter((o) => Number.isFinite(o.cpu) && o.cpu > 0.05)
    .sort((a, b) => b.cpu - a.cpu)
    .map((o) => `${o.comm} ${o.cpu.toFixed(1)} s`);
  r.row('CPU during the upgrade, test bed', testBed.join(', '));
  r.row('bench process CPU (queries, sampling; no simulator)', `${((m.selfCpu.user + m.selfCpu.system) / 1e6).toFixed(1)} s`);
  r.line('');
}

/** Kubernetes API requests per upgraded node, in all and by verb and resource. */
function apiRequests(r: Report, { requests, metricName }: ReportInput, { upgraded }: Derived): void {
  const perNode = (n: number) => (upgraded ? n / upgraded : NaN);
  const reqTotal = [...requests.values()].reduce((a, b) => a + b, 0);
  r.row(
    `Kubernetes API requests per upgraded node`,
    `${perNode(reqTotal).toFixed(1)} (${reqTotal} in all, ${metricName || 'metric not found'})`,
  );
  for (const [k, v] of [...requests].sort((a, b) => b[1] - a[1])) r.row(`  ${k}`, `${perNode(v).toFixed(2)} (${v})`);
  r.line('');
}

/** The workflow: history sizes, workflow tasks, replay, and the latency of `progress` and `status`. */
function workflow(r: Report, { h, m, replayMs }: ReportInput): void {
  const { runs, children, taskOnWorker, largest } = h;
  r.row('history events per run', runs.map((run) => run.events).join(', ') + ` (${runs.length} runs)`);
  const childEvents = children.map((c) => c.events);
  r.row(
    '  batch child workflows: events',
    children.length
      ? `≤ ${Math.max(...childEvents)} (${children.length} children, ${childEvents.reduce((a, b) => a + b, 0)} in all)`
      : 'none',
  );
  r.row(
    'workflow tasks failed or timed out',
    `${runs.reduce((a, run) => a + run.failedTasks, 0)} (per run: ${runs.map((run) => run.failedTasks).join(', ')}); ` +
      `in batch children: ${children.reduce((a, c) => a + c.failedTasks, 0)}`,
  );
  r.row(
    'workflow task on the worker p50 / p95 / max',
    `${sec(pct(taskOnWorker, 50))} / ${sec(pct(taskOnWorker, 95))} / ${sec(Math.max(...taskOnWorker))} (${taskOnWorker.length} tasks)`,
  );
  r.row(
    "  each run's first task: started / completed",
    runs.map((run) => `${sec(run.firstTask.started ?? NaN)} / ${sec(run.firstTask.completed ?? NaN)}`).join(', ') +
      ' after the run started',
  );
  r.row(
    '    its input / activities it scheduled',
    runs.map((run) => `${(run.firstTask.inputBytes / 1024).toFixed(0)} KiB / ${run.firstTask.activities}`).join(', '),
  );
  r.row(
    'replay of the largest run, best of 3 (bench process)',
    `${sec(replayMs)} for ${largest.events} events: what a query that lands on a run as it continues as new waits for`,
  );
  queries(r, h, m);
}

/** `progress` queries and `status` answers sent during the upgrade. */
function queries(r: Report, h: Histories, m: Measurement): void {
  const { queryMs, statusMs, fromMemo, queryFailures, slowQueryLog } = m.progress;
  const failedQueries = [...queryFailures.values()].reduce((a, b) => a + b, 0);
  const slowQueries = queryMs.filter((q) => q > 1000).length;
  r.row(
    'progress query latency p50 / max',
    `${sec(pct(queryMs, 50))} / ${sec(Math.max(...queryMs))} (${queryMs.length} queries, ${failedQueries} failed, ${slowQueries} over 1 s)`,
  );
  r.row(
    '`status` answer latency p50 / max (memo after ' + `${STATUS_PATIENCE_MS} ms)`,
    `${sec(pct(statusMs, 50))} / ${sec(Math.max(...statusMs))} (${statusMs.filter((q) => q > 1000).length} over 1 s, ` +
      `${fromMemo} answered from the memo)`,
  );
  for (const [msg, n] of queryFailures) r.row(`  failed ×${n}`, msg);
  if (slowQueryLog.length) {
    const since = (at: number) => `${((at - m.started) / 1000).toFixed(1)} s`;
    r.row('  slow queries, sent at (took)', slowQueryLog.map((q) => `${since(q.at)} (${sec(q.ms)})`).join(', '));
    r.row('  runs started at', h.runs.map((run) => since(run.startedAt)).join(', '));
  }
}
