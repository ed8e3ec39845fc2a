/**
 * Starts a real Temporal dev server (the CLI built by scripts/ensure-temporal.sh) for one test file,
 * with the contract's search attributes registered. Stop it in afterAll with `env.teardown()`.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { searchAttributeDefinitions } from '../../src/workflows/definitions.js';
import { temporalCli } from './tools.js';

export interface DevServerOptions {
  /** Extra `--dynamic-config-value KEY=JSON` settings, e.g. { 'limit.historyCount.suggestContinueAsNew': 200 }. */
  dynamicConfig?: Record<string, unknown>;
  /** Serve the Web UI on this port (off by default). */
  uiPort?: number;
}

/** Starts the dev server on a free loopback port. */
export async function startDevServer(opts: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  const extraArgs = ['--log-level', 'error'];
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) {
    extraArgs.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCli() },
      ip: '127.0.0.1',
      searchAttributes: searchAttributeDefinitions,
      ...(opts.uiPort ? { ui: true, uiPort: opts.uiPort } : {}),
      extraArgs,
    },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundles src/workflows once per test file (bundling takes seconds). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url)),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  });
  return bundle;
}
