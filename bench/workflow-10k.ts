/**
 * Benchmark (not a test): a 10,000-worker upgrade (plus 3 masters) on a real Temporal dev server,
 * with in-memory fake activities. Prints wall time, the number of runs, and the largest event count
 * of any run or batch child workflow, which must stay ≤ 10,240 (Temporal's history warning); exits non-zero otherwise.
 * BENCH_WORKERS overrides the worker count; BENCH_UPGRADE_MS makes each fake upgrade pod take that
 * long (default 0), and the per-batch overhead (batch wall − BENCH_UPGRADE_MS) is then the cost of
 * the workflow, the worker and Temporal alone, with no Kubernetes API server or simulator. A `progress`
 * query is sent every second, as `edge-upgrade status` sends it, and its latency printed; BENCH_QUERY_MS
 * sends them more often (e.g. 100), so that some land while a run continues as new. The dev server
 * runs with the embedded default's dynamic config (DEV_SERVER_DYNAMIC_CONFIG), plus BENCH_SERVER_CONFIG.
 * Run: scripts/bench.sh workflow-10k   (or: npx tsx bench/workflow-10k.ts)
 */
import { Worker, makeTelemetryFilterString } from '@temporalio/worker';
import type { TestWorkflowEnvironment as TestEnv } from '@temporalio/testing';
import { readProgress, startUpgrade, STATUS_PATIENCE_MS } from '../src/api.js';
import { devServerDynamicConfig } from '../src/local/temporal-dev.js';
import type { Progress } from '../src/planning/types.js';
import { TASK_QUEUE } from '../src/workflows/definitions.js';
import { FakeFleet, makeNodes } from '../test/helpers/fake-activities.js';
import { installTestRuntime } from '../test/helpers/logs.js';
import { startDevServer, workflowBundle } from '../test/helpers/temporal.js';
import { NO_GATE } from '../test/helpers/requests.js';
import { childHistories, runsOf } from '../test/helpers/histories.js';
import { eventMs, failedTasks } from './lib/histories.js';
import { pct } from './lib/stats.js';
import { usageError } from './lib/usage.js';

const LIMIT = 10_240;

/** BENCH_WORKERS, BENCH_UPGRADE_MS and BENCH_QUERY_MS, checked (a bad one exits 2). */
interface Settings {
  workers: number;
  upgradeMs: number;
  queryEveryMs: number;
}

function settings(): Settings {
  const workers = Number(process.env.BENCH_WORKERS ?? 10_000);
  const upgradeMs = Number(process.env.BENCH_UPGRADE_MS ?? 0);
  const queryEveryMs = Number(process.env.BENCH_QUERY_MS ?? 1000);
  for (const [name, value] of Object.entries({ BENCH_WORKERS: workers, BENCH_UPGRADE_MS: upgradeMs, BENCH_QUERY_MS: queryEveryMs })) {
    if (!Number.isInteger(value) || value < 0) {
      usageError('workflow-10k', `${name} must be a whole number ≥ 0, not ${JSON.stringify(process.env[name])}`);
    }
  }
  return { workers, upgradeMs, queryEveryMs };
}

/**
 * The dev server's dynamic config: the embedded default, plus BENCH_SERVER_CONFIG (comma-separated KEY=VALUE, as
 * upgrade-1000's --server-config); a bad one exits 2.
 */
function dynamicConfig(): Record<string, unknown> {
  try {
    const serverConfig = devServerDynamicConfig((process.env.BENCH_SERVER_CONFIG ?? '').split(',').filter(Boolean));
    return Object.fromEntries(
      serverConfig.map((kv) => [kv.slice(0, kv.indexOf('=')), JSON.parse(kv.slice(kv.indexOf('=') + 1)) as unknown]),
    );
  } catch (err) {
    return usageError('workflow-10k', `BENCH_SERVER_CONFIG: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Runs the benchmark; its exit code. */
async function main(): Promise<number> {
  const s = settings();
  // Before startDevServer, which would install the test runtime without the Core filter (a second install throws).
  installTestRuntime({ telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } } });
  const env = await startDevServer({ dynamicConfig: dynamicConfig() });
  const fleet = new FakeFleet();
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities: fleet.activities(),
    maxConcurrentActivityTaskExecutions: 1000,
  });
  const running = worker.run();
  try {
    return await upgrade(env, fleet, s);
  } finally {
    worker.shutdown();
    await running;
    await env.teardown();
  }
}

/** One upgrade of the fake fleet, with its figures printed; 1 when it did not succeed or a history grew past LIMIT. */
async function upgrade(env: TestEnv, fleet: FakeFleet, s: Settings): Promise<number> {
  const c = fleet.add({
    clusterId: 'bench',
    controlPlaneVersion: 'v1.33.5',
    nodes: makeNodes({ masters: 3, cloud: 100, edge: s.workers - 100, version: 'v1.33.5' }),
    upgradeMs: s.upgradeMs,
  });
  const t0 = Date.now();
  const handle = await startUpgrade(env.client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: 'v1.34.4' });
  const sampler = sampleQueries(env, c.clusterId, t0, s.queryEveryMs);
  const result: Progress = await handle.result();
  const wall = (Date.now() - t0) / 1000;
  const queries = await sampler.stop();
  const h = await historySizes(env, handle.workflowId, handle.firstExecutionRunId, t0);
  console.log(
    `workers: ${result.workers.upgraded}/${result.workers.total}, ` +
      `masters: ${result.masters.upgraded}/${result.masters.total}, state: ${result.state}`,
  );
  console.log(`wall time: ${wall.toFixed(1)} s (${((result.workers.total + result.masters.total) / wall).toFixed(0)} nodes/s)`);
  console.log(
    `runs: ${h.sizes.length} (${h.sizes.join(', ')} events); batch child workflows: ${h.childSizes.length}` +
      (h.childSizes.length ? ` (≤ ${Math.max(...h.childSizes)} events)` : '') +
      `; events: ${h.total} total, ${(h.total / (s.workers + 3)).toFixed(1)} per node; largest: ${h.largest} events (limit ${LIMIT})`,
  );
  console.log(`batch sizes seen by the cluster: ${c.observedBatchSizes().join(' ')}`);
  const walls = c.observedBatchWalls();
  const overheads = walls.map((b) => (b.wallMs - s.upgradeMs) / 1000);
  console.log(
    `per-batch overhead (batch wall − ${s.upgradeMs} ms upgrade) p50 / p95 / max: ` +
      [50, 95, 100].map((p) => `${pct(overheads, p).toFixed(2)} s`).join(' / '),
  );
  console.log(`per-batch wall: ${walls.map((b) => `${b.size}:${(b.wallMs / 1000).toFixed(1)}`).join(' ')}`);
  console.log(`workflow tasks failed or timed out: ${h.failed}`);
  printQueries(queries, s.queryEveryMs, h.runStarts);
  return result.state !== 'succeeded' || h.largest > LIMIT ? 1 : 0;
}

/** Query timings: when each was sent (ms after the upgrade started), how long it and `status` took (ms). */
interface Queries {
  answered: Array<{ at: number; ms: number; statusMs: number }>;
  failed: number;
}

/** A progress query every `everyMs` (or at once after a slower one), read as `status` reads it, until stop(). */
function sampleQueries(env: TestEnv, clusterId: string, t0: number, everyMs: number): { stop(): Promise<Queries> } {
  const queries: Queries = { answered: [], failed: 0 };
  let done = false;
  const loop = (async () => {
    while (!done) {
      const t = Date.now();
      const reading = await readProgress(env.client, clusterId, { patienceMs: STATUS_PATIENCE_MS }).catch(() => undefined);
      const statusMs = Date.now() - t;
      if (reading && (await reading.query.then(() => true).catch(() => false)))
        queries.answered.push({ at: t - t0, ms: Date.now() - t, statusMs });
      else queries.failed++;
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - t))));
    }
  })();
  return {
    async stop() {
      done = true;
      await loop;
      return queries;
    },
  };
}

/** Events per run and per batch child workflow (the worker batches' node steps are in theirs), failed tasks, when each run started. */
async function historySizes(env: TestEnv, workflowId: string, firstRunId: string, t0: number) {
  const sizes: number[] = [];
  const runStarts: number[] = [];
  let failed = 0;
  const runs = await runsOf(env.client, workflowId, firstRunId);
  for (const run of runs) {
    sizes.push(run.events.length);
    runStarts.push(eventMs(run.events[0]) - t0);
    failed += failedTasks(run.events);
  }
  const childSizes: number[] = [];
  for (const child of await childHistories(env.client, runs)) {
    childSizes.push(child.events.length);
    failed += failedTasks(child.events);
  }
  const total = [...sizes, ...childSizes].reduce((a, b) => a + b, 0);
  return { sizes, childSizes, runStarts, failed, total, largest: Math.max(...sizes, ...childSizes) };
}

function printQueries({ answered, failed }: Queries, everyMs: number, runStarts: number[]): void {
  const ms = answered.map((q) => q.ms);
  const slow = answered.filter((q) => q.ms > 1000);
  const sec = (t: number) => `${(t / 1000).toFixed(2)} s`;
  const statusMax = Math.max(...answered.map((q) => q.statusMs));
  console.log(
    `progress query latency p50 / max: ${sec(pct(ms, 50))} / ${sec(Math.max(...ms))} ` +
      `(${answered.length} answered, ${everyMs === 0 ? 'back to back' : `one every ${everyMs} ms`}, ` +
      `${failed} failed, ${slow.length} over 1 s); ` +
      `\`status\` max ${sec(statusMax)}`,
  );
  const at = (t: number) => `${(t / 1000).toFixed(1)} s`;
  if (slow.length) console.log(`  slow queries, sent at (took): ${slow.map((q) => `${at(q.at)} (${sec(q.ms)})`).join(', ')}`);
  if (slow.length) console.log(`  runs started at: ${runStarts.map(at).join(', ')}`);
}

process.exit(await main());
