/**
 * Scale benchmark on the real stack (issue #11): a real control plane (etcd, kube-apiserver,
 * controller manager, scheduler), the Temporal dev server, the simulator as its own process and the
 * real `edge-upgrade worker` process; ONE upgrade of N simulated workers to completion. Prints one
 * table: wall time against the ideal critical path, per-batch overhead, per-step latency (product vs
 * simulator), worker and simulator CPU and peak RSS, Kubernetes API requests per upgraded node
 * (counted by the worker's own client, scraped from its Prometheus endpoint), history events per run,
 * and the latency of a `progress` query sent every second throughout.
 *
 *   scripts/bench.sh upgrade-1000 [--workers 1000] [--upgrade-seconds 1] [--masters 0]
 *                                 [--lease-seconds 120] [--status-seconds 300] [--worker-node-options '...']
 *                                 [--worker-env K=V,…] [--mem-profile] [--plain-node] [--pre-phases]
 *                                 [--server-config KEY=VALUE,…]
 *
 * Measures only; nothing is asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { getProgress, readProgress, startUpgrade, STATUS_PATIENCE_MS } from '../src/api.js';
import { LocalControlPlane } from '../src/local/control-plane.js';
import { reservePort } from '../src/local/ports.js';
import { devServerDynamicConfig, startDevServer } from '../src/local/temporal-dev.js';
import { TALLY_FLUSH_MS } from '../src/request-tally.js';
import { batchPlan, DEFAULT_MAX_BATCH_PERCENT } from '../src/planning/batches.js';
import { nodeReady } from '../src/planning/cluster.js';
import type { Progress } from '../src/planning/types.js';
import type { UpgradeStep } from '../src/simulator/index.js';
import { workflowIdFor } from '../src/workflows/definitions.js';
import { spawnCli, stopCli } from '../test/helpers/cli.js';
import { eventMs, failedTasks, type HistoryEvent } from './history.js';
import { etcdBinary, k8sBinDir, temporalCli } from '../test/helpers/tools.js';
import { NO_GATE } from '../test/helpers/requests.js';
import { childHistories, runsOf } from '../test/helpers/histories.js';

/** A bad flag or value: one line and exit 2, before anything is started. */
function usageError(message: string): never {
  console.error(`upgrade-1000: ${message}`);
  process.exit(2);
}

const { values: opt } = (() => {
  try {
    return parseArgs({
      options: {
        workers: { type: 'string', default: '1000' },
        'upgrade-seconds': { type: 'string', default: '1' },
        masters: { type: 'string', default: '0' },
        'lease-seconds': { type: 'string', default: '120' },
        'status-seconds': { type: 'string', default: '300' },
        /** NODE_OPTIONS for the worker process only, e.g. '--max-old-space-size=256'. */
        'worker-node-options': { type: 'string', default: '' },
        /** Extra environment for the worker process only, e.g. 'MALLOC_ARENA_MAX=2' (comma-separated K=V). */
        'worker-env': { type: 'string', default: '' },
        /** Dynamic config of the Temporal dev server (comma-separated KEY=VALUE), e.g. 'history.maximumBufferedEventsBatch=1000'. */
        'server-config': { type: 'string', default: '' },
        /** Samples the worker's memory every second (bench/mem-sampler.cjs) and prints where it is at the peak. */
        'mem-profile': { type: 'boolean', default: false },
        /** Starts the worker as `node bin/edge-upgrade.js worker`, without the settings of the bin's #! line (for comparison). */
        'plain-node': { type: 'boolean', default: false },
        /**
         * Runs the phases before the first node is touched as a user gets them: the pre-check's read-only node probes
         * (one agent --check pod per node) and the prepare phase on the cloud workers. Off by default (no probes, the
         * worker's cloudNodeLabel set to ''), so the rollout figures compare across versions.
         */
        'pre-phases': { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    return usageError(err instanceof Error ? err.message.replace(/\s*\n\s*/g, ' ') : String(err));
  }
})();
for (const name of ['workers', 'upgrade-seconds', 'masters', 'lease-seconds', 'status-seconds'] as const) {
  const value = Number(opt[name]);
  const whole = name === 'workers' || name === 'masters';
  if (!Number.isFinite(value) || value < 0 || (whole && !Number.isInteger(value))) {
    usageError(`--${name} must be ${whole ? 'a whole number' : 'a number'} ≥ 0, not "${opt[name]}"`);
  }
}
const WORKERS = Number(opt.workers);
const MASTERS = Number(opt.masters);
const UPGRADE_S = Number(opt['upgrade-seconds']);
const LEASE_S = Number(opt['lease-seconds']);
const STATUS_S = Number(opt['status-seconds']);
const CLUSTER = 'bench';
const START = 'v1.33.7';
const TARGET = 'v1.34.4';
/** The simulator's restarted kubelet posts NotReady at once and Ready 2 s later (src/simulator). */
const SIM_READY_DELAY_S = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${line}`);

// ---------- /proc readings ----------
const CLK_TCK = 100;
/**
 * A /proc `stat` file (of a process or of one of its threads): its name and its user+sys CPU
 * seconds, and sys alone (time in the kernel, e.g. mmap and page faults); undefined when it is gone.
 */
function statCpu(path: string): { name: string; cpu: number; sys: number } | undefined {
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
function cpuSeconds(pid: number, only?: 'sys'): number {
  const s = statCpu(`/proc/${pid}/stat`);
  return (only ? s?.sys : s?.cpu) ?? NaN;
}
/** CPU seconds (user + kernel, and kernel alone) of each thread of `pid`, by thread id, with its name. */
function threadCpu(pid: number): Map<string, { name: string; cpu: number; sys: number }> {
  const out = new Map<string, { name: string; cpu: number; sys: number }>();
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
function threadCpuByName(
  before: Map<string, { name: string; cpu: number; sys: number }>,
  after: Map<string, { name: string; cpu: number; sys: number }>,
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

/** CPU seconds at time `t`, interpolated between the two samples around it. */
function cpuAt(samples: Array<{ t: number; cpu: number }>, t: number): number {
  const after = samples.findIndex((s) => s.t >= t);
  if (after <= 0) return samples[after === 0 ? 0 : samples.length - 1]?.cpu ?? NaN;
  const a = samples[after - 1]!;
  const b = samples[after]!;
  return a.cpu + ((b.cpu - a.cpu) * (t - a.t)) / Math.max(1, b.t - a.t);
}

/**
 * Least-squares fit of the worker's CPU per batch as `perNode × nodes + perSecond × wall seconds`
 * (no intercept): what each upgraded node costs, apart from what the worker spends per second
 * whatever it does. Undefined with fewer than three batches.
 */
function cpuFit(
  batches: Array<{ size: number; wall: number; cpu: number }>,
): { perNode: number; perSecond: number; r2: number } | undefined {
  const rows = batches.filter((b) => Number.isFinite(b.cpu)).map((b) => ({ n: b.size, w: b.wall / 1000, y: b.cpu }));
  if (rows.length < 3) return undefined;
  const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0);
  const [nn, nw, ww, ny, wy] = [
    sum((r) => r.n * r.n),
    sum((r) => r.n * r.w),
    sum((r) => r.w * r.w),
    sum((r) => r.n * r.y),
    sum((r) => r.w * r.y),
  ];
  const det = nn * ww - nw * nw;
  if (det === 0) return undefined;
  const perNode = (ny * ww - wy * nw) / det;
  const perSecond = (wy * nn - ny * nw) / det;
  const mean = sum((r) => r.y) / rows.length;
  const residual = sum((r) => (r.y - perNode * r.n - perSecond * r.w) ** 2);
  const total = sum((r) => (r.y - mean) ** 2);
  return { perNode, perSecond, r2: total > 0 ? 1 - residual / total : 1 };
}

/** A /proc/<pid>/status field in MB (VmHWM, VmRSS). */
function memMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
/** This process' descendants: pid → command name. */
function descendants(root: number): Map<number, string> {
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

// ---------- small statistics ----------
function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const sec = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—');
const p50p95 = (v: number[]) => (v.length ? `${sec(pct(v, 50))} / ${sec(pct(v, 95))}` : '—');

// ---------- history ----------
type Activity = 'cordonNode' | 'drainNode' | 'runUpgradePod' | 'uncordonNode';
const STEPS: Activity[] = ['cordonNode', 'drainNode', 'runUpgradePod', 'uncordonNode'];
interface ActivityTimes {
  scheduled: number;
  started?: number;
  completed?: number;
}
interface NodeHistory {
  role: string;
  steps: Partial<Record<Activity, ActivityTimes>>;
}

/**
 * Reads every run of the continue-as-new chain and every batch child workflow they started: events
 * per run and per child, and each node's activity times (a worker's are in its batch child's history).
 */
async function readHistories(client: Client, firstRunId: string) {
  const runs: Array<{ runId: string; events: number; startedAt: number; failedTasks: number; firstTask: FirstTask }> = [];
  const children: Array<{ workflowId: string; events: number; failedTasks: number }> = [];
  const nodes = new Map<string, NodeHistory>();
  const scheduleToStart: number[] = [];
  /** Every workflow task's time on the worker (started → completed): a consistent query waits out the one in flight. */
  const taskOnWorker: number[] = [];
  /** The run with the most events: a query that reaches a closed run makes the worker replay all of it. */
  let largest: { events: number; history: unknown } = { events: 0, history: undefined };

  /** Reads one history's workflow tasks and node steps (`firstTask`: a run of the upgrade's). */
  const read = (events: HistoryEvent[], firstTask?: FirstTask): void => {
    const startedAt = eventMs(events[0]);
    let taskStartedAt = NaN;
    const byScheduledId = new Map<string, { node: string; activity: Activity }>();
    for (const e of events) {
      const at = eventMs(e);
      if (e.workflowTaskStartedEventAttributes) {
        taskStartedAt = at;
        if (firstTask) firstTask.started ??= at - startedAt;
      }
      if (e.workflowTaskCompletedEventAttributes) {
        taskOnWorker.push(at - taskStartedAt);
        if (firstTask) firstTask.completed ??= at - startedAt;
      } else if (firstTask?.completed !== undefined && !firstTask.counted) {
        // The events right after the first task completed are its commands, up to the next task scheduled.
        if (e.workflowTaskScheduledEventAttributes) firstTask.counted = true;
        else if (e.activityTaskScheduledEventAttributes) firstTask.activities++;
      }
      const sched = e.activityTaskScheduledEventAttributes;
      if (sched) {
        const activity = sched.activityType?.name as Activity;
        if (!STEPS.includes(activity)) continue;
        const arg = defaultPayloadConverter.fromPayload<{ node: string; role: string }>(sched.input!.payloads![0]!);
        const n = nodes.get(arg.node) ?? { role: arg.role, steps: {} };
        nodes.set(arg.node, n);
        // A retried node keeps the first scheduling (a retry within one activity is the same event).
        n.steps[activity] ??= { scheduled: at };
        byScheduledId.set(String(e.eventId), { node: arg.node, activity });
        continue;
      }
      const actStarted = e.activityTaskStartedEventAttributes;
      const completed = e.activityTaskCompletedEventAttributes;
      const ref = actStarted?.scheduledEventId ?? completed?.scheduledEventId;
      if (ref !== undefined && ref !== null) {
        const hit = byScheduledId.get(String(ref));
        if (!hit) continue;
        const t = nodes.get(hit.node)!.steps[hit.activity]!;
        if (actStarted) {
          t.started = at;
          scheduleToStart.push(at - t.scheduled);
        } else t.completed = at;
      }
    }
  };

  const upgradeRuns = await runsOf(client, workflowIdFor(CLUSTER), firstRunId);
  for (const { runId, events } of upgradeRuns) {
    if (events.length > largest.events) largest = { events: events.length, history: { events } };
    const input = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    const firstTask: FirstTask = { inputBytes: input.reduce((a, p) => a + (p.data?.length ?? 0), 0), activities: 0 };
    runs.push({ runId, events: events.length, startedAt: eventMs(events[0]), failedTasks: failedTasks(events), firstTask });
    read(events, firstTask);
  }
  for (const child of await childHistories(client, upgradeRuns)) {
    children.push({ workflowId: child.workflowId, events: child.events.length, failedTasks: failedTasks(child.events) });
    read(child.events);
  }
  return { runs, children, nodes, scheduleToStart, taskOnWorker, largest };
}
/** A run's first workflow task, in ms after the run started: a query sent then waits for it. */
interface FirstTask {
  inputBytes: number;
  started?: number;
  completed?: number;
  /** Activities the first task scheduled. */
  activities: number;
  /** Set once the events after the first task's completion (its commands) have all been counted. */
  counted?: boolean;
}

/**
 * How long the worker's code takes to replay `history` from its first event, best of three (ms). A
 * query that reaches a run as it continues as new is answered on the closed run, which the worker
 * has evicted: it replays the whole run for that one answer (plus the fetch of its history pages).
 */
async function timeReplay(history: unknown): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const codePath = fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await Worker.runReplayHistory({ workflowBundle: { codePath } }, history as never, `bench-replay-${i}`);
    times.push(performance.now() - t);
  }
  return Math.min(...times);
}

// ---------- the worker's memory (--mem-profile) ----------
interface MemSample {
  t: number;
  thread: string;
  heap: { total: number; used: number; limit: number; malloced: number };
  spaces: Record<string, [number, number]>;
  gcMs?: Record<string, number>;
  mem?: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  proc?: { rss: number; anon: number; file: number; threads: number };
}
/** Where the worker's memory is: at the start, at its RSS peak and at the end, per thread (bench/mem-sampler.cjs). */
function memoryReport(path: string, since: number): string[] {
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
  const at = (s: MemSample) => {
    // Each other thread's sample closest in time to this one.
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
  };
  const maxOf = (f: (s: MemSample) => number) => Math.max(...during.map(f)).toFixed(0);
  const out = ['  worker memory (--mem-profile, sampled every second in the worker)'];
  for (const [label, s] of [
    ['start', during[0] ?? main[0]!],
    ['at the RSS peak', peak],
    ['end', main[main.length - 1]!],
  ] as const) {
    const [a, b] = at(s);
    out.push(`    ${label} (${((s.t - since) / 1000).toFixed(0)} s): ${a}`, `      ${b}`);
  }
  const gcDuring = (thread: string) => {
    const own = samples.filter((x) => x.thread === thread && x.gcMs);
    const before = own.filter((x) => x.t <= since).pop() ?? own[0];
    const after = own[own.length - 1];
    if (!before || !after) return '—';
    const d = (k: string) => (after.gcMs![k] ?? 0) - (before.gcMs![k] ?? 0);
    return `${thread} minor ${d('minor')} / major ${d('major')} / incremental ${d('incremental')} ms`;
  };
  const threads = [...new Set(samples.map((x) => x.thread))];
  out.push(`    GC pauses during the upgrade: ${threads.map(gcDuring).join('; ')}`);
  out.push(
    `    max during the upgrade: main heap total ${maxOf((s) => s.mem!.heapTotal)} / used ${maxOf((s) => s.mem!.heapUsed)} MB, ` +
      `external ${maxOf((s) => s.mem!.external)} MB`,
  );
  return out;
}

// ---------- the run ----------
const root = fileURLToPath(new URL('../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-bench-'));
log(`starting the control plane (node-monitor-grace-period ${LEASE_S} s), the Temporal dev server, the simulator and the worker`);
const cp = await LocalControlPlane.start({ k8sBinDir: k8sBinDir(), etcdBinary: etcdBinary(), nodeMonitorGracePeriodSeconds: LEASE_S });
const serverConfig = opt['server-config'].split(',').filter(Boolean);
const server = await startDevServer({
  temporalCli: temporalCli(),
  dir,
  ui: false,
  dynamicConfig: serverConfig,
});
const timelinePath = join(dir, 'simulator-timeline.jsonl');
const simLog = createWriteStream(join(dir, 'simulator.log'));
const edge = Math.round(WORKERS * 0.9);
const simulator: ChildProcess = spawn(
  process.execPath,
  [
    join(root, 'dist/simulator/cli.js'),
    '--kubeconfig',
    cp.kubeconfigPath,
    '--masters',
    String(MASTERS),
    '--cloud',
    String(WORKERS - edge),
    '--edge',
    String(edge),
    '--from',
    START,
    '--upgrade-seconds',
    String(UPGRADE_S),
    '--lease-seconds',
    String(LEASE_S),
    '--status-seconds',
    String(STATUS_S),
    '--timeline',
    timelinePath,
    '--quiet',
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
);
simulator.stdout!.pipe(simLog);
simulator.stderr!.pipe(simLog);
const metricsPort = await reservePort();
const memProfilePath = join(dir, 'worker-memory.jsonl');
const workerNodeOptions = [opt['worker-node-options'], opt['mem-profile'] ? `--require ${join(root, 'bench/mem-sampler.cjs')}` : ''].filter(
  Boolean,
);
// As users run it: the bin itself, so its #! line's settings apply (the project's Node is first on PATH).
const worker = spawnCli(
  ['worker'],
  {
    TEMPORAL_ADDRESS: server.address,
    EDGE_UPGRADE_CLUSTERS: `${CLUSTER}=${cp.kubeconfigPath}`,
    EDGE_UPGRADE_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
    // Without --pre-phases, no cloud worker is prepared (see the option).
    ...(opt['pre-phases'] ? {} : { EDGE_UPGRADE_CLOUD_NODE_LABEL: '' }),
    ...(workerNodeOptions.length ? { NODE_OPTIONS: workerNodeOptions.join(' ') } : {}),
    ...(opt['mem-profile'] ? { EDGE_UPGRADE_MEM_PROFILE: memProfilePath } : {}),
    ...Object.fromEntries(
      opt['worker-env']
        .split(',')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    ),
  },
  { viaShebang: !opt['plain-node'] },
);
let connection: Connection | undefined;

try {
  const core = cp.kubeConfig().makeApiClient(CoreV1Api);
  const total = WORKERS + MASTERS;
  for (const deadline = Date.now() + 600_000; ;) {
    const nodes = (await core.listNode().catch(() => ({ items: [] }))).items;
    const ready = nodes.filter(nodeReady).length;
    if (ready === total) break;
    if (Date.now() > deadline) throw new Error(`only ${ready} of ${total} nodes Ready after 10 minutes`);
    if (simulator.exitCode !== null) throw new Error(`the simulator exited (${simulator.exitCode}); see ${dir}/simulator.log`);
    await sleep(2_000);
  }
  log(`${total} nodes Ready`);
  for (const deadline = Date.now() + 180_000; !/state=RUNNING/.test(worker.output());) {
    if (Date.now() > deadline || worker.child.exitCode !== null)
      throw new Error(`the worker did not start:\n${worker.output().slice(-2000)}`);
    await sleep(500);
  }
  log('worker RUNNING');
  await sleep(3_000); // let the startup settle before the CPU baseline

  const workerPid = worker.child.pid!;
  const simPid = simulator.pid!;
  const before = new Map([...descendants(process.pid)].map(([pid, comm]) => [pid, { comm, cpu: cpuSeconds(pid) }]));
  const selfCpu0 = process.cpuUsage();
  const workerCpu0 = cpuSeconds(workerPid);
  const workerThreads0 = threadCpu(workerPid);
  const workerSys0 = cpuSeconds(workerPid, 'sys');
  const simCpu0 = cpuSeconds(simPid);
  const workerRss0 = memMb(workerPid, 'VmRSS');
  const simRss0 = memMb(simPid, 'VmRSS');
  let workerRssPeak = workerRss0;
  /** The worker's CPU seconds, read every second: what each batch cost it. */
  const workerCpuSamples: Array<{ t: number; cpu: number }> = [];
  let simRssPeak = simRss0;

  connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const started = Date.now();
  const nodeProbes = opt['pre-phases'];
  const handle = await startUpgrade(client, { clusterId: CLUSTER, gate: NO_GATE, nodeProbes, targetVersion: TARGET });
  log(`upgrade started: ${MASTERS} masters + ${WORKERS} workers, ${UPGRADE_S} s per upgrade pod`);

  // A progress query every second (the next one a second after the previous one was sent, or at once if it took longer),
  // read as `edge-upgrade status` reads it: a query slower than STATUS_PATIENCE_MS gives way to the run's published memo.
  const queryMs: number[] = [];
  /** How long `status` took to answer (the query, or the memo when the query was slow). */
  const statusMs: number[] = [];
  let fromMemo = 0;
  /** Queries that took over 1 s: when they were sent (ms since the epoch) and how long they took. */
  const slowQueryLog: Array<{ at: number; ms: number }> = [];
  const queryFailures = new Map<string, number>();
  let last: Progress | undefined;
  /** When the sampler first saw the upgrade past its pre-check (inventory, pre-check and, with --node-probes, the probes). */
  let precheckDoneAt = 0;
  /** When the sampler first saw the upgrade past its prepare phase (the cloud workers, with --pre-phases). */
  let prepareDoneAt = 0;
  let done = false;
  let lastLogged = -1;
  const sampler = (async () => {
    while (!done) {
      const t = Date.now();
      try {
        const reading = await readProgress(client, CLUSTER, { patienceMs: STATUS_PATIENCE_MS });
        statusMs.push(Date.now() - t);
        if (reading.source === 'memo') fromMemo++;
        last = await reading.query;
        if (!precheckDoneAt && last.phase !== 'precheck') precheckDoneAt = Date.now();
        if (!prepareDoneAt && last.phase !== 'precheck' && last.phase !== 'prepare') prepareDoneAt = Date.now();
        queryMs.push(Date.now() - t);
        if (Date.now() - t > 1000) slowQueryLog.push({ at: t, ms: Date.now() - t });
        if (last.state !== 'running') done = true;
      } catch (err) {
        const m = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.replace(/\d+/g, 'N').slice(0, 160);
        queryFailures.set(m, (queryFailures.get(m) ?? 0) + 1);
        queryMs.push(Date.now() - t);
      }
      workerRssPeak = Math.max(workerRssPeak, memMb(workerPid, 'VmRSS') || 0);
      workerCpuSamples.push({ t: Date.now(), cpu: cpuSeconds(workerPid) });
      simRssPeak = Math.max(simRssPeak, memMb(simPid, 'VmRSS') || 0);
      const upgraded = last ? last.masters.upgraded + last.workers.upgraded : 0;
      if (last && Math.floor(upgraded / 100) !== lastLogged) {
        lastLogged = Math.floor(upgraded / 100);
        const { masters, workers } = last;
        log(
          `progress: ${last.phase} ${last.state}, ` +
            `masters ${masters.upgraded}/${masters.total}, workers ${workers.upgraded}/${workers.total}`,
        );
      }
      await sleep(Math.max(0, 1000 - (Date.now() - t)));
    }
  })();
  // A worker or simulator that dies would leave the upgrade waiting for ever: stop with what happened.
  const died = (what: string, child: ChildProcess) =>
    new Promise<Error>((resolve) =>
      child.once('exit', (code, signal) => resolve(new Error(`the ${what} process exited (${signal ?? `code ${code}`}) mid-upgrade`))),
    );
  const result = await Promise.race([
    handle.result().catch((err: unknown) => err),
    died('worker', worker.child),
    died('simulator', simulator),
  ]);
  if (result instanceof Error && /process exited/.test(result.message)) throw result;
  const wallMs = Date.now() - started;
  done = true;
  await sampler;
  // Figures at the end of the upgrade, before anything else runs.
  const workerCpu = cpuSeconds(workerPid) - workerCpu0;
  const workerThreads = threadCpuByName(workerThreads0, threadCpu(workerPid));
  const workerSys = cpuSeconds(workerPid, 'sys') - workerSys0;
  const simCpu = cpuSeconds(simPid) - simCpu0;
  const selfCpu = process.cpuUsage(selfCpu0);
  const workerHwm = memMb(workerPid, 'VmHWM');
  const simHwm = memMb(simPid, 'VmHWM');
  const others = [...before]
    .filter(([pid]) => pid !== workerPid && pid !== simPid)
    .map(([pid, b]) => ({ comm: b.comm, cpu: cpuSeconds(pid) - b.cpu }));
  const final = await getProgress(client, CLUSTER).catch(() => last);
  log(`upgrade ended: ${final?.state ?? 'unknown'} (${result instanceof Error ? result.message : 'result received'})`);

  // The worker's own count of API requests, which reaches its counter within TALLY_FLUSH_MS.
  await new Promise((r) => setTimeout(r, TALLY_FLUSH_MS + 500));
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const requests = new Map<string, number>();
  let metricName = '';
  for (const line of metrics.split('\n')) {
    const m = /^(\w*edge_upgrade_kube_requests\w*)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    metricName = m[1]!;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = `${labels.verb} ${labels.resource}`;
    requests.set(key, (requests.get(key) ?? 0) + Number(m[3]));
  }

  // Histories and the simulator's timeline (it writes its counters when stopped).
  const { runs, children, nodes: hist, scheduleToStart, taskOnWorker, largest } = await readHistories(client, handle.firstExecutionRunId);
  const exited = new Promise((r) => simulator.once('exit', r));
  simulator.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  // With the simulator stopped, so that it does not share the cores with the replay.
  const replayMs = await timeReplay(largest.history);
  const sim = new Map<string, Partial<Record<UpgradeStep, number>>>();
  let simStats: Record<string, number> = {};
  for (const line of readFileSync(timelinePath, 'utf8').split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as { node: string; step: UpgradeStep; at: number; stats?: Record<string, number> };
    if (e.stats) {
      simStats = e.stats;
      continue;
    }
    const s = sim.get(e.node) ?? {};
    s[e.step] ??= e.at;
    sim.set(e.node, s);
  }

  // Every node's times and the largest run's history, for a closer look (kept with EDGE_UPGRADE_KEEP_BENCH_DIR=1).
  writeFileSync(join(dir, 'largest-run.json'), historyToJSON(largest.history as never));
  writeFileSync(join(dir, 'nodes.json'), JSON.stringify({ history: Object.fromEntries(hist), simulator: Object.fromEntries(sim) }));

  // Per-step latencies, worker nodes only.
  const workerNodes = [...hist].filter(([, h]) => h.role === 'worker');
  const lat = {
    cordon: [],
    drain: [],
    createToSeen: [],
    seenToRunning: [],
    run: [],
    succeededToReady: [],
    readyToDone: [],
    uncordon: [],
    gaps: [],
  } as Record<string, number[]>;
  /** One node's step latencies (ms), by the keys of `lat`; gaps are summed. */
  const nodeLatencies = (name: string, h: NodeHistory): Record<string, number> => {
    const s = sim.get(name) ?? {};
    const out: Record<string, number> = {};
    const d = (a?: ActivityTimes) => (a?.completed !== undefined ? a.completed - a.scheduled : undefined);
    const put = (k: string, v: number | undefined) => {
      if (v !== undefined && Number.isFinite(v)) out[k] = v;
    };
    put('cordon', d(h.steps.cordonNode));
    put('drain', d(h.steps.drainNode));
    put('uncordon', d(h.steps.uncordonNode));
    const up = h.steps.runUpgradePod;
    if (up && s.seen !== undefined) put('createToSeen', s.seen - up.scheduled);
    if (s.seen !== undefined && s.running !== undefined) put('seenToRunning', s.running - s.seen);
    if (s.running !== undefined && s.succeeded !== undefined) put('run', s.succeeded - s.running);
    if (s.succeeded !== undefined && s.ready !== undefined) put('succeededToReady', s.ready - s.succeeded);
    if (up?.completed !== undefined && s.ready !== undefined) put('readyToDone', up.completed - s.ready);
    return out;
  };
  for (const [name, h] of workerNodes) {
    for (const [k, v] of Object.entries(nodeLatencies(name, h))) lat[k]!.push(v);
    // The workflow's own reaction: one step completed → the next scheduled.
    for (let i = 1; i < STEPS.length; i++) {
      const a = h.steps[STEPS[i - 1]!];
      const b = h.steps[STEPS[i]!];
      if (a?.completed !== undefined && b) lat.gaps!.push(b.scheduled - a.completed);
    }
  }

  // Batches: the product's own plan; nodes in the order their cordon was scheduled.
  const sizes = batchPlan(WORKERS, DEFAULT_MAX_BATCH_PERCENT);
  const ordered = workerNodes
    .filter(([, h]) => h.steps.cordonNode && h.steps.uncordonNode?.completed !== undefined)
    .sort((a, b) => a[1].steps.cordonNode!.scheduled - b[1].steps.cordonNode!.scheduled);
  const batches: Array<{
    size: number;
    wall: number;
    slowest: number;
    overhead: number;
    worst: Record<string, number>;
    /** The worker's CPU seconds from the previous batch's end to this one's. */
    cpu: number;
  }> = [];
  let overlap = false;
  if (ordered.length === WORKERS) {
    let at = 0;
    let prevEnd = ordered[0]![1].steps.cordonNode!.scheduled;
    for (const size of sizes) {
      const members = ordered.slice(at, at + size);
      at += size;
      const firstStart = Math.min(...members.map(([, h]) => h.steps.cordonNode!.scheduled));
      if (firstStart < prevEnd && batches.length > 0) overlap = true;
      const end = Math.max(...members.map(([, h]) => h.steps.uncordonNode!.completed!));
      const slowest = Math.max(...members.map(([n]) => (sim.get(n)?.ready ?? NaN) - (sim.get(n)?.seen ?? NaN)));
      // The worst of each step in the batch, and how late its first cordon started.
      const worst: Record<string, number> = { start: firstStart - prevEnd };
      for (const [n, h] of members) for (const [k, v] of Object.entries(nodeLatencies(n, h))) worst[k] = Math.max(worst[k] ?? -Infinity, v);
      const cpu = cpuAt(workerCpuSamples, end) - cpuAt(workerCpuSamples, prevEnd);
      batches.push({ size, wall: end - prevEnd, slowest, overhead: end - prevEnd - slowest, worst, cpu });
      prevEnd = end;
    }
  }

  const upgraded = [...sim.values()].filter((s) => s.ready !== undefined).length;
  const perNode = (n: number) => (upgraded ? n / upgraded : NaN);
  const critical = (sizes.length + MASTERS) * UPGRADE_S;
  const floor = (sizes.length + MASTERS) * (UPGRADE_S + SIM_READY_DELAY_S);
  const reqTotal = [...requests.values()].reduce((a, b) => a + b, 0);
  const overheads = batches.map((b) => b.overhead);

  const out: string[] = [];
  const row = (k: string, v: string) => out.push(`  ${k.padEnd(50)} ${v}`);
  out.push('');
  out.push(`upgrade-1000 benchmark: ${MASTERS} masters + ${WORKERS} workers (${WORKERS - edge} cloud, ${edge} edge), ${START} → ${TARGET}`);
  const cores = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? '?';
  out.push(
    `  test bed: one machine, ${cores} cores; etcd + kube-apiserver + controller manager + scheduler, ` +
      'Temporal dev server (SQLite), simulator process, worker process',
  );
  out.push(`  Temporal dev server dynamic config: ${devServerDynamicConfig(serverConfig).join(', ')}`);
  out.push(
    `  simulator: upgrade pod ${UPGRADE_S} s, node lease ${LEASE_S} s (renewed every ${LEASE_S / 4} s), ` +
      `status re-posted every ${STATUS_S} s, ` +
      `controller node-monitor-grace-period ${LEASE_S} s; a restarted kubelet posts Ready ${SIM_READY_DELAY_S} s after its pod Succeeded`,
  );
  const lastError = final?.lastError ? JSON.stringify(final.lastError) : 'none';
  out.push(`  result: ${final?.state ?? 'unknown'}; ${upgraded} upgrade pods ran to Ready; lastError ${lastError}`);
  out.push('');
  row('wall time (start → workflow result)', sec(wallMs));
  row(
    `pre-check (start → past precheck, ±1 s)${nodeProbes ? ', node probes included' : ', no node probes'}`,
    sec(precheckDoneAt - started),
  );
  row(`prepare phase (${nodeProbes ? `${WORKERS - edge} cloud workers` : 'off'}, ±1 s)`, sec(prepareDoneAt - precheckDoneAt));
  row(`ideal critical path (${sizes.length} batches${MASTERS ? ` + ${MASTERS} masters` : ''} × ${UPGRADE_S} s)`, `${critical} s`);
  row('ratio wall / critical path', (wallMs / 1000 / critical).toFixed(1));
  row(
    `simulated floor (× (${UPGRADE_S} s + ${SIM_READY_DELAY_S} s Ready delay))`,
    `${floor} s; ratio ${(wallMs / 1000 / floor).toFixed(1)}`,
  );
  row('batch sizes (src/planning batchPlan)', sizes.join(', '));
  if (batches.length) {
    row('per-batch overhead p50 / p95 / max', `${sec(pct(overheads, 50))} / ${sec(pct(overheads, 95))} / ${sec(Math.max(...overheads))}`);
    out.push('    (batch wall: previous batch done → last uncordon done; minus the slowest simulator run, pod seen → node Ready)');
    row('per-batch wall', batches.map((b) => `${b.size}:${(b.wall / 1000).toFixed(1)}`).join(' '));
    row('worker CPU per batch (s)', batches.map((b) => `${b.size}:${b.cpu.toFixed(1)}`).join(' '));
    const fit = cpuFit(batches);
    if (fit) {
      row(
        'worker CPU fit over batches: per node + per second',
        `${(fit.perNode * 1000).toFixed(1)} ms per node + ${(fit.perSecond * 1000).toFixed(0)} ms per second of wall ` +
          `(least squares, R² ${fit.r2.toFixed(2)})`,
      );
      out.push(
        '    (the per-second part runs whatever the batch size: watches, heartbeats, polls, queries; a slower test bed makes more of it)',
      );
    }
    if (overlap) row('WARNING', 'batches overlap in time: the cordon-order grouping is approximate');
    const worstBatch = batches.reduce((a, b) => (b.overhead > a.overhead ? b : a));
    row(
      `worst batch (${worstBatch.size} nodes, ${sec(worstBatch.wall)}): max per step`,
      Object.entries(worstBatch.worst)
        .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`)
        .join(', '),
    );
  } else row('per-batch overhead', `— (only ${ordered.length} of ${WORKERS} workers have complete histories)`);
  out.push('');
  out.push(`  ${'per-step latency, worker nodes (p50 / p95)'.padEnd(50)} ${'product'.padEnd(24)} simulator`);
  const step = (k: string, product: string, simulator: string) =>
    out.push(`  ${k.padEnd(50)} ${product.padEnd(24)} ${simulator}`.trimEnd());
  step('cordon (activity scheduled → completed)', p50p95(lat.cordon!), '— (not involved)');
  step('drain (activity scheduled → completed)', p50p95(lat.drain!), '— (no workload pods)');
  step('pod create → Running', p50p95(lat.createToSeen!), p50p95(lat.seenToRunning!));
  out.push('    (product: runUpgradePod scheduled → the simulator sees the pod; simulator: sees it → Running written)');
  step('pod run (Running → Succeeded written)', '—', p50p95(lat.run!));
  step('pod Succeeded → observed by the product', p50p95(lat.readyToDone!), p50p95(lat.succeededToReady!));
  out.push('    (simulator: Succeeded → Ready posted, with its 2 s kubelet restart; product: Ready posted → runUpgradePod completed)');
  step('uncordon (activity scheduled → completed)', p50p95(lat.uncordon!), '— (not involved)');
  step('workflow: step completed → next step scheduled', p50p95(lat.gaps!), '');
  step('activity schedule → start (task queue wait)', p50p95(scheduleToStart), '');
  out.push('');
  const cpuUse = (pid: number, cpu: number) =>
    `pid ${pid}: ${cpu.toFixed(1)} s (${((cpu / (wallMs / 1000)) * 100).toFixed(0)}% of a core), ` +
    `${((cpu * 1000) / Math.max(1, upgraded)).toFixed(1)} ms per upgraded node`;
  row('worker process CPU during the upgrade', `${cpuUse(workerPid, workerCpu)}; in the kernel ${workerSys.toFixed(1)} s`);
  row(
    '  by thread (name: CPU s, of it in the kernel)',
    workerThreads
      .filter((t) => t.cpu >= 0.05)
      .map((t) => `${t.name}${t.threads > 1 ? ` ×${t.threads}` : ''}: ${t.cpu.toFixed(1)} (${t.sys.toFixed(1)})`)
      .join(', '),
  );
  row(
    'worker RSS at start / peak sampled 1 s / VmHWM',
    `${workerRss0.toFixed(0)} / ${workerRssPeak.toFixed(0)} / ${workerHwm.toFixed(0)} MB`,
  );
  row('simulator process CPU during the upgrade', cpuUse(simPid, simCpu));
  row('simulator RSS at start / peak sampled 1 s / VmHWM', `${simRss0.toFixed(0)} / ${simRssPeak.toFixed(0)} / ${simHwm.toFixed(0)} MB`);
  row(
    'simulator counters',
    `lease renewals ${simStats.leaseRenewals ?? '?'}, status posts ${simStats.statusUpdates ?? '?'}, ` +
      `API errors ${simStats.apiErrors ?? '?'}, worst renewal lag ${Math.round(simStats.maxRenewLagMs ?? NaN)} ms`,
  );
  const testBed = others
    .filter((o) => Number.isFinite(o.cpu) && o.cpu > 0.05)
    .sort((a, b) => b.cpu - a.cpu)
    .map((o) => `${o.comm} ${o.cpu.toFixed(1)} s`);
  row('CPU during the upgrade, test bed', testBed.join(', '));
  row('bench process CPU (queries, sampling; no simulator)', `${((selfCpu.user + selfCpu.system) / 1e6).toFixed(1)} s`);
  out.push('');
  row(
    `Kubernetes API requests per upgraded node`,
    `${perNode(reqTotal).toFixed(1)} (${reqTotal} in all, ${metricName || 'metric not found'})`,
  );
  for (const [k, v] of [...requests].sort((a, b) => b[1] - a[1])) row(`  ${k}`, `${perNode(v).toFixed(2)} (${v})`);
  out.push('');
  row('history events per run', runs.map((r) => r.events).join(', ') + ` (${runs.length} runs)`);
  const childEvents = children.map((c) => c.events);
  row(
    '  batch child workflows: events',
    children.length
      ? `≤ ${Math.max(...childEvents)} (${children.length} children, ${childEvents.reduce((a, b) => a + b, 0)} in all)`
      : 'none',
  );
  row(
    'workflow tasks failed or timed out',
    `${runs.reduce((a, r) => a + r.failedTasks, 0)} (per run: ${runs.map((r) => r.failedTasks).join(', ')}); ` +
      `in batch children: ${children.reduce((a, c) => a + c.failedTasks, 0)}`,
  );
  row(
    'workflow task on the worker p50 / p95 / max',
    `${sec(pct(taskOnWorker, 50))} / ${sec(pct(taskOnWorker, 95))} / ${sec(Math.max(...taskOnWorker))} (${taskOnWorker.length} tasks)`,
  );
  row(
    "  each run's first task: started / completed",
    runs.map((r) => `${sec(r.firstTask.started ?? NaN)} / ${sec(r.firstTask.completed ?? NaN)}`).join(', ') + ' after the run started',
  );
  row(
    '    its input / activities it scheduled',
    runs.map((r) => `${(r.firstTask.inputBytes / 1024).toFixed(0)} KiB / ${r.firstTask.activities}`).join(', '),
  );
  row(
    'replay of the largest run, best of 3 (bench process)',
    `${sec(replayMs)} for ${largest.events} events: what a query that lands on a run as it continues as new waits for`,
  );
  const failedQueries = [...queryFailures.values()].reduce((a, b) => a + b, 0);
  const slowQueries = queryMs.filter((q) => q > 1000).length;
  row(
    'progress query latency p50 / max',
    `${sec(pct(queryMs, 50))} / ${sec(Math.max(...queryMs))} (${queryMs.length} queries, ${failedQueries} failed, ${slowQueries} over 1 s)`,
  );
  row(
    '`status` answer latency p50 / max (memo after ' + `${STATUS_PATIENCE_MS} ms)`,
    `${sec(pct(statusMs, 50))} / ${sec(Math.max(...statusMs))} (${statusMs.filter((q) => q > 1000).length} over 1 s, ` +
      `${fromMemo} answered from the memo)`,
  );
  for (const [m, n] of queryFailures) row(`  failed ×${n}`, m);
  if (slowQueryLog.length) {
    const since = (at: number) => `${((at - started) / 1000).toFixed(1)} s`;
    row('  slow queries, sent at (took)', slowQueryLog.map((q) => `${since(q.at)} (${sec(q.ms)})`).join(', '));
    row('  runs started at', runs.map((r) => since(r.startedAt)).join(', '));
  }
  if (opt['mem-profile']) out.push('', ...memoryReport(memProfilePath, started));
  console.log(out.join('\n'));
} finally {
  await connection?.close().catch(() => undefined);
  await stopCli(worker.child);
  if (simulator.exitCode === null && simulator.signalCode === null) simulator.kill('SIGTERM');
  await server.stop();
  await cp.stop();
  if (process.env.EDGE_UPGRADE_KEEP_BENCH_DIR === '1') console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
