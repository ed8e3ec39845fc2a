/**
 * `edge-upgrade worker`: installs the SDK runtime (with a Prometheus endpoint when configured),
 * makes sure the namespace has the contract's search attributes, then runs the worker.
 */
import { Runtime, type NativeConnection, type Worker } from '@temporalio/worker';
// @temporalio/proto is CommonJS: its namespaces come through the default export.
import proto from '@temporalio/proto';
import type { WorkerConfig } from '../config.js';
import { frontendHealth, startHealthServer } from '../health-server.js';
import { runWorker, workerLogger } from '../worker.js';
import { searchAttributeDefinitions } from '../workflows/definitions.js';
import { connectTemporal } from './connect.js';

/**
 * Registers any of the four Keyword search attributes the namespace lacks. Where the server does
 * not allow it (Temporal Cloud registers them through its own API), prints one line and goes on.
 */
export async function ensureSearchAttributes(config: WorkerConfig, log: (m: string) => void = console.error): Promise<string[]> {
  // The worker's own settings, TLS and API key included, whatever file or environment they came from.
  const client = await connectTemporal(config.temporal);
  try {
    const namespace = config.temporal.namespace;
    const os = client.connection.operatorService;
    const existing = (await os.listSearchAttributes({ namespace })).customAttributes ?? {};
    const missing = searchAttributeDefinitions.map((k) => k.name).filter((name) => !(name in existing));
    if (missing.length === 0) return [];
    const keyword = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    try {
      await os.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((m) => [m, keyword])) });
      log(`edge-upgrade worker: registered search attributes ${missing.join(', ')} in namespace ${namespace}`);
      return missing;
    } catch (err) {
      log(
        `edge-upgrade worker: could not register search attributes ${missing.join(', ')} (${(err as Error).message}); ` +
          'register them as Keyword, e.g. with tcld or the Cloud UI',
      );
      return [];
    }
  } finally {
    await client.connection.close();
  }
}

/** Runs the worker until SIGINT/SIGTERM, with /livez and /readyz from the start when `healthAddress` is set. */
export async function runWorkerCommand(config: WorkerConfig): Promise<void> {
  let running: { worker: Worker; connection: NativeConnection } | undefined;
  const health = config.healthAddress
    ? await startHealthServer(config.healthAddress, {
        status: () => running?.worker.getStatus(),
        frontend: () => frontendHealth(running!.connection),
      })
    : undefined;
  try {
    await installAndRun(config, (worker, connection) => (running = { worker, connection }));
  } finally {
    health?.close();
  }
}

/** Installs the SDK runtime, registers the search attributes and runs the worker, telling `onWorker` of it. */
async function installAndRun(config: WorkerConfig, onWorker: (worker: Worker, connection: NativeConnection) => void): Promise<void> {
  // One line per log entry; stack traces only with EDGE_UPGRADE_LOG_LEVEL=debug.
  Runtime.install({
    logger: workerLogger(),
    ...(config.metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: config.metricsAddress } } } } : {}),
  });
  if (config.metricsAddress) console.error(`edge-upgrade worker: Prometheus metrics on http://${config.metricsAddress}/metrics`);
  if (!config.upgradeImage && [...config.clusters.values()].some((c) => !c.upgradeImage)) {
    console.error(
      'edge-upgrade worker: no upgradeImage is configured, so an upgrade must name an allowed image (--image); ' +
        'set upgradeImage or EDGE_UPGRADE_IMAGE (pinned by digest)',
    );
  }
  if (config.healthAddress) console.error(`edge-upgrade worker: health on http://${config.healthAddress}/livez and /readyz`);
  await ensureSearchAttributes(config);
  await runWorker(config, { onWorker });
}
