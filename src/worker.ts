/**
 * The edge-upgrade worker: runs the `upgradeCluster` workflow and the Kubernetes activities on the
 * `edge-upgrade` task queue. Scale out by running more of them against the same Temporal cluster.
 */
import type { Duration } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogEntry, type Logger, type LogLevel } from '@temporalio/worker';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createActivities } from './activities/index.js';
import { activityInterceptors } from './activities/interceptors.js';
import { ClusterRegistry } from './cluster-registry.js';
import { cloudNodeLabelFor, healthChecksFor, imagePolicyFor, temporalConnectionOptions, versionsFor, type WorkerConfig } from './config.js';
import { RequestTally } from './request-tally.js';
import { TASK_QUEUE } from './workflows/definitions.js';

/** Options of {@link createWorker}. */
export interface CreateWorkerOptions {
  connection: NativeConnection;
  /** Temporal namespace; defaults to config.temporal.namespace. */
  namespace?: string;
  config: WorkerConfig;
  /** Defaults to the contract's `edge-upgrade`. */
  taskQueue?: string;
  /**
   * A prebuilt workflow bundle to load (tests pass dist/workflow-bundle.js, which jest's global
   * setup keeps up to date); by default the one next to this module ({@link prebuiltWorkflowBundle}).
   */
  workflowBundlePath?: string;
  /** How long a shutdown may take before the worker gives up on it; default {@link SHUTDOWN_FORCE_TIME}. */
  shutdownForceTime?: Duration;
}

/**
 * The workflows entry next to this module: src/workflows/index.ts when running from source,
 * dist/src/workflows/index.js when running the build.
 */
export function workflowsPath(): string {
  for (const ext of ['.js', '.ts']) {
    const path = fileURLToPath(new URL(`./workflows/index${ext}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`cannot find the workflows next to ${fileURLToPath(import.meta.url)}`);
}

/**
 * Longest gap between heartbeats the worker sends to Temporal, whatever the heartbeat timeout. The
 * SDK would otherwise wait up to 80% of the 30 s heartbeat timeout (24 s), and a cancelled or
 * terminated workflow's activities only learn of it from a heartbeat's answer: with this they stop
 * within a few seconds.
 */
export const MAX_HEARTBEAT_THROTTLE = '3 seconds';

/**
 * How long a worker's shutdown (SIGTERM, SIGINT) may take before it stops anyway. In-flight activities
 * are cancelled at once and stop within a few seconds (they resume from their heartbeats on another
 * worker), so this only bounds a shutdown that hangs inside the SDK, which a busy machine has shown:
 * the worker then exits with an error instead of waiting for the pod's SIGKILL (deploy/worker.yaml
 * gives it 60 s).
 */
export const SHUTDOWN_FORCE_TIME = '30 seconds';

/**
 * Name of the counter of Kubernetes API requests the worker sends, with labels cluster, verb and
 * resource (e.g. verb="create", resource="pods/eviction"). The runtime's Prometheus endpoint shows
 * it under this name (no `temporal_` prefix, no `_total` suffix), e.g.
 * `edge_upgrade_kube_requests{cluster="shop-17",verb="get",resource="nodes"} 42`. Requests reach it within a
 * second ({@link RequestTally}).
 */
export const KUBE_REQUESTS_METRIC = 'edge_upgrade_kube_requests';

/**
 * The workflow bundle `npm run build` writes next to the compiled worker (dist/workflow-bundle.js),
 * when it is newer than every compiled module; otherwise undefined and the worker bundles the
 * workflows itself at start. Bundling in the worker costs about 1.7 s and 185 MB of RSS that is
 * never given back, a third of a busy worker's memory.
 */
export function prebuiltWorkflowBundle(): string | undefined {
  const bundle = fileURLToPath(new URL(`./${WORKFLOW_BUNDLE}`, import.meta.url));
  if (!existsSync(bundle)) return undefined;
  const builtAt = statSync(bundle).mtimeMs;
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const modules = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js') && f !== WORKFLOW_BUNDLE);
  return modules.every((f) => statSync(`${dir}/${f}`).mtimeMs <= builtAt) ? bundle : undefined;
}

/** File name of the prebuilt workflow bundle, next to the compiled worker. */
export const WORKFLOW_BUNDLE = 'workflow-bundle.js';

/** Builds (does not run) a worker with the workflows and `createActivities` for the configured clusters. */
export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  const { config } = opts;
  const clusters = new ClusterRegistry(config.clusters);
  const kubeRequests = new RequestTally(
    Runtime.instance().metricMeter.createCounter(
      KUBE_REQUESTS_METRIC,
      'requests',
      'Kubernetes API requests sent by the worker, by cluster, verb and resource',
    ),
  );
  const bundle = opts.workflowBundlePath ?? prebuiltWorkflowBundle();
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? config.temporal.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    ...(bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: workflowsPath() }),
    activities: createActivities({
      clusters,
      images: (clusterId) => imagePolicyFor(config, clusterId),
      healthChecks: (clusterId) => healthChecksFor(config, clusterId),
      cloudNodeLabel: (clusterId) => cloudNodeLabelFor(config, clusterId),
      versions: (clusterId) => versionsFor(config, clusterId),
      onKubeRequest: (cluster, verb, resource) => kubeRequests.add(cluster, verb, resource),
    }),
    interceptors: { activity: [activityInterceptors((id) => clusters.kubeConfig(id).getCurrentCluster()?.server)] },
    // Activities mostly wait on the API server; many can run at once without much CPU.
    maxConcurrentActivityTaskExecutions: 200,
    maxHeartbeatThrottleInterval: MAX_HEARTBEAT_THROTTLE,
    shutdownForceTime: opts.shutdownForceTime ?? SHUTDOWN_FORCE_TIME,
  });
}

// Metadata the SDK adds to every line that says nothing an operator needs.
const QUIET_META = new Set([
  'sdkComponent',
  'namespace',
  'taskQueue',
  'taskToken',
  'workflowType',
  'runId',
  'isLocal',
  'activityType',
  'error',
]);

/**
 * One log line: time, level, message, then `key=value` metadata. An `error` shows as its one-line
 * message; its stack (and causes) only when the logger's level is DEBUG or TRACE.
 */
export function formatLogEntry(entry: LogEntry, loggerLevel: LogLevel): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = entry.meta ?? {};
  const type = typeof meta.activityType === 'string' ? ` ${meta.activityType}` : '';
  const err = meta.error;
  const why = err instanceof Error ? `: ${err.message.split('\n')[0]}` : err !== undefined ? `: ${String(err)}` : '';
  const pairs = Object.entries(meta)
    .filter(([k, v]) => !QUIET_META.has(k) && v !== undefined && typeof k === 'string')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  let line = `${time} ${entry.level} ${entry.message}${type}${why}${pairs.length ? ` [${pairs.join(' ')}]` : ''}`;
  if (err instanceof Error && (loggerLevel === 'DEBUG' || loggerLevel === 'TRACE')) {
    for (let e: unknown = err; e instanceof Error; e = e.cause) line += `\n${e.stack ?? e.message}`;
  }
  return line;
}

/**
 * The worker's logger: one line per entry (so each failed activity attempt is one line naming its
 * node and step), stack traces only at DEBUG. `level` defaults to $EDGE_UPGRADE_LOG_LEVEL or INFO.
 */
export function workerLogger(
  level: LogLevel = logLevelFromEnv(),
  write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Logger {
  return new DefaultLogger(level, (entry) => write(formatLogEntry(entry, level)));
}

function logLevelFromEnv(): LogLevel {
  const v = (process.env.EDGE_UPGRADE_LOG_LEVEL ?? 'INFO').toUpperCase();
  return (['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const).find((l) => l === v) ?? 'INFO';
}

/**
 * Connects to Temporal (TLS and API key from config) and runs a worker until SIGINT or SIGTERM, then shuts down
 * gracefully. `onWorker` is told the worker and its connection before it runs (the health endpoint reads them).
 */
export async function runWorker(
  config: WorkerConfig,
  opts: { taskQueue?: string; onWorker?: (worker: Worker, connection: NativeConnection) => void } = {},
): Promise<void> {
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  try {
    const worker = await createWorker({ connection, config, taskQueue: opts.taskQueue });
    opts.onWorker?.(worker, connection);
    // Worker.run() installs SIGINT/SIGTERM handlers (shutdownSignals) that drain in-flight tasks.
    await worker.run();
  } finally {
    await connection.close();
  }
}
