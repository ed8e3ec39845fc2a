/**
 * Starts a real Temporal dev server (the CLI built by scripts/ensure-temporal.sh) for one test file,
 * with the contract's search attributes registered. Stop it in afterAll with `env.teardown()`.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { UpgradeActivities } from '../../src/activities/types.js';
import { TASK_QUEUE } from '../../src/workflows/definitions.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { searchAttributeDefinitions } from '../../src/workflows/definitions.js';
import { releasePort, reservePort } from '../../src/local/ports.js';
import { installTestRuntime } from './logs.js';
import { temporalCli } from './tools.js';

export interface DevServerOptions {
  /** Extra `--dynamic-config-value KEY=JSON` settings, e.g. { 'limit.historyCount.suggestContinueAsNew': 200 }. */
  dynamicConfig?: Record<string, unknown>;
  /** Serve the Web UI on this port (off by default). */
  uiPort?: number;
  /** Register the contract's search attributes at start (default true). */
  searchAttributes?: boolean;
}

/**
 * Starts the dev server on a reserved loopback port (src/local/ports.ts), after installing the quiet
 * test runtime (see ./logs.ts). `teardown()` gives the port back.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  installTestRuntime();
  const extraArgs = ['--log-level', 'error'];
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) {
    extraArgs.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  const port = await reservePort();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCli() },
      ip: '127.0.0.1',
      port,
      searchAttributes: opts.searchAttributes === false ? [] : searchAttributeDefinitions,
      ...(opts.uiPort ? { ui: true, uiPort: opts.uiPort } : {}),
      extraArgs,
    },
  }).catch((err: unknown) => {
    releasePort(port);
    throw err;
  });
  const teardown = env.teardown.bind(env);
  env.teardown = async () => {
    try {
      await teardown();
    } finally {
      releasePort(port);
    }
  };
  return env;
}

/** dist/workflow-bundle.js: src/workflows bundled by `npm run build`, which jest's global setup runs when it is older than src/. */
export const DIST_WORKFLOW_BUNDLE = fileURLToPath(new URL('../../dist/workflow-bundle.js', import.meta.url));

/**
 * The workflows as the worker runs them: the bundle the global setup built once for the whole run,
 * instead of bundling them again in every file and worker (seconds of CPU each).
 */
export async function workflowBundle(): Promise<{ codePath: string }> {
  if (!existsSync(DIST_WORKFLOW_BUNDLE))
    throw new Error(`${DIST_WORKFLOW_BUNDLE} is missing: run npm run build (jest's global setup does)`);
  return { codePath: DIST_WORKFLOW_BUNDLE };
}

/** A dev server plus a real Worker on the contract's task queue, running the project's workflows with `activities`. */
export interface WorkerEnv {
  env: TestWorkflowEnvironment;
  client: Client;
  /** Shuts the worker down, then the dev server. */
  stop(): Promise<void>;
}

/** Starts a dev server and a worker whose activities are `activities` (usually a FakeFleet's). */
export async function startWorkerEnv(
  activities: UpgradeActivities,
  opts: DevServerOptions & { maxConcurrentActivityTaskExecutions?: number } = {},
): Promise<WorkerEnv> {
  const env = await startDevServer(opts);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities,
    // A failed test can leave fake activities held forever: stop the worker anyway, so afterAll
    // still stops the dev server and jest can exit instead of hanging CI.
    shutdownForceTime: '10 seconds',
    ...(opts.maxConcurrentActivityTaskExecutions ? { maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions } : {}),
  });
  const running = worker.run();
  return {
    env,
    client: env.client,
    async stop() {
      worker.shutdown();
      try {
        await running.catch(ignoreFinalizeRace);
      } finally {
        await env.teardown();
      }
    },
  };
}

/**
 * The SDK's core can still hold a second reference to a worker that has stopped polling when the
 * worker finalizes its shutdown on a busy machine ("Worker still in use: Expected 1 reference, but
 * got 2"); the worker has stopped all the same. Any other error of `run()` is the test's to see.
 */
function ignoreFinalizeRace(err: unknown): void {
  if (err instanceof Error && err.name === 'IllegalStateError' && /Worker still in use/.test(err.message)) return;
  throw err;
}
