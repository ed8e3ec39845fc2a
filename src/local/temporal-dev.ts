/**
 * Runs the Temporal CLI's dev server (`temporal server start-dev`) on free loopback ports, with
 * its Web UI, SQLite persistence and the contract's search attributes. Used by the demo.
 */
import { Connection } from '@temporalio/client';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { searchAttributeDefinitions } from '../workflows/definitions.js';
import { releasePort, reservePort } from './ports.js';
import { startProcess, stopProcess, waitUntil, type Managed } from './processes.js';

/** A running dev server. */
export interface DevServer {
  address: string;
  /** The gRPC port; pass it to a restart to come back on the same address. */
  port: number;
  uiUrl: string;
  stop(): Promise<void>;
  /** SIGKILLs the server (a crash); a restart on the same `dir` and `port` finds its SQLite state. */
  kill(): Promise<void>;
}

/**
 * Dynamic config of every dev server started here, the embedded default's. While a workflow task
 * is on the worker, the server buffers the run's new events; above
 * `history.maximumBufferedEventsBatch` (default 100) it fails the task (FORCE_CLOSE_COMMAND),
 * which clears the queries it holds and makes the worker replay the run. A batch of 100 nodes
 * finishing one step together brings about 200 events (activity started + completed).
 */
export const DEV_SERVER_DYNAMIC_CONFIG: readonly string[] = ['history.maximumBufferedEventsBatch=1000'];

/** {@link DEV_SERVER_DYNAMIC_CONFIG} with `overrides` (`KEY=VALUE`) applied: a key given again takes the new value. */
export function devServerDynamicConfig(overrides: readonly string[] = []): string[] {
  const byKey = new Map<string, string>();
  for (const kv of [...DEV_SERVER_DYNAMIC_CONFIG, ...overrides]) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`dynamic config must be KEY=VALUE, got "${kv}"`);
    byKey.set(kv.slice(0, eq), kv);
  }
  return [...byKey.values()];
}

/** The `temporal server start-dev` arguments for {@link startDevServer}. */
function devServerArgs(o: { dir: string; ui?: boolean; port: number; uiPort: number; dynamicConfig?: string[] }): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(o.port), '--namespace', 'default'];
  args.push('--db-filename', join(o.dir, 'temporal.db'), '--log-level', 'error');
  if (o.ui === false) args.push('--headless');
  else args.push('--ui-port', String(o.uiPort));
  for (const key of searchAttributeDefinitions) args.push('--search-attribute', `${key.name}=Keyword`);
  for (const kv of devServerDynamicConfig(o.dynamicConfig)) args.push('--dynamic-config-value', kv);
  return args;
}

/**
 * Starts the dev server; `dir` holds its SQLite file and log. `port` defaults to a reserved one (./ports.ts).
 * `dynamicConfig` entries are `KEY=VALUE` dynamic-config settings, applied over
 * {@link DEV_SERVER_DYNAMIC_CONFIG}, e.g. `history.maximumBufferedEventsBatch=100` (the server's own default).
 */
export async function startDevServer(opts: {
  temporalCli: string;
  dir: string;
  ui?: boolean;
  port?: number;
  dynamicConfig?: string[];
}): Promise<DevServer> {
  if (!existsSync(opts.temporalCli)) throw new Error(`Temporal CLI not found at ${opts.temporalCli}: run scripts/ensure-temporal.sh`);
  // Both ports lie outside the ephemeral range (see ./ports.ts), so a restart on `port` after a
  // kill finds it still free.
  const port = opts.port ?? (await reservePort());
  const uiPort = await reservePort();
  const args = devServerArgs({ ...opts, port, uiPort });
  const proc: Managed = startProcess('temporal', opts.temporalCli, args, join(opts.dir, 'temporal.log'));
  const address = `127.0.0.1:${port}`;
  await waitUntil(
    'the Temporal dev server',
    async () => {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.getSystemInfo({});
        return true;
      } finally {
        await conn.close();
      }
    },
    { timeoutMs: 60_000, intervalMs: 500, process: proc },
  );
  return {
    address,
    port,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    stop: async () => {
      await stopProcess(proc);
      releasePort(port);
      releasePort(uiPort);
    },
    kill: async () => {
      releasePort(uiPort);
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      const exited = new Promise((r) => proc.child.once('exit', r));
      proc.child.kill('SIGKILL');
      await exited;
    },
  };
}
