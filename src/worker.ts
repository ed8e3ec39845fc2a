/**
 * The edge-upgrade worker: runs the `upgradeCluster` workflow and the Kubernetes activities on the
 * `edge-upgrade` task queue. Scale out by running more of them against the same Temporal cluster.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createActivities } from './activities/index.js';
import { ClusterRegistry, imagePolicyFor, temporalConnectionOptions, type WorkerConfig } from './config.js';
import { TASK_QUEUE } from './workflows/definitions.js';

/** Options of {@link createWorker}. */
export interface CreateWorkerOptions {
  connection: NativeConnection;
  /** Temporal namespace; defaults to config.temporal.namespace. */
  namespace?: string;
  config: WorkerConfig;
  /** Defaults to the contract's `edge-upgrade`. */
  taskQueue?: string;
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

/** Builds (does not run) a worker with the workflows and `createActivities` for the configured clusters. */
export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  const { config } = opts;
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? config.temporal.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    workflowsPath: workflowsPath(),
    activities: createActivities({ clusters: new ClusterRegistry(config.clusters), images: (clusterId) => imagePolicyFor(config, clusterId) }),
    // Activities mostly wait on the API server; many can run at once without much CPU.
    maxConcurrentActivityTaskExecutions: 200,
  });
}

/** Connects to Temporal (TLS and API key from config) and runs a worker until SIGINT or SIGTERM, then shuts down gracefully. */
export async function runWorker(config: WorkerConfig, opts: { taskQueue?: string } = {}): Promise<void> {
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  try {
    const worker = await createWorker({ connection, config, taskQueue: opts.taskQueue });
    // Worker.run() installs SIGINT/SIGTERM handlers (shutdownSignals) that drain in-flight tasks.
    await worker.run();
  } finally {
    await connection.close();
  }
}
