/** Connects the CLI to Temporal with the same settings as the worker (config file + environment). */
import { Client, Connection } from '@temporalio/client';
import { loadWorkerConfig, temporalConnectionOptions, type WorkerConfig } from '../config.js';
import { diagnoseTls } from './tls-diagnosis.js';

/** Global CLI options that affect the connection. */
export interface ConnectOptions {
  address?: string;
  namespace?: string;
  config?: string;
}

/** Opens a client from the CLI's options over the config file and environment; the caller closes `client.connection`. */
export function connectClient(opts: ConnectOptions): Promise<Client> {
  const cfg = loadWorkerConfig(opts.config ?? process.env.EDGE_UPGRADE_CONFIG).temporal;
  return connectTemporal({ ...cfg, address: opts.address ?? cfg.address, namespace: opts.namespace ?? cfg.namespace });
}

/** Opens a client with resolved Temporal settings; the caller closes `client.connection`. */
export async function connectTemporal(temporal: WorkerConfig['temporal']): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...temporalConnectionOptions(temporal), connectTimeout: 5000 });
  } catch (err) {
    // With TLS configured, a handshake of our own says whether a certificate was the problem.
    const tls = temporal.tls && (await diagnoseTls(temporal.address, temporal.tls));
    if (tls) throw new Error(`cannot reach Temporal at ${temporal.address}: ${tls}`);
    throw new Error(`cannot reach Temporal at ${temporal.address} (${(err as Error).message}); set TEMPORAL_ADDRESS or --address`);
  }
  return new Client({ connection, namespace: temporal.namespace });
}
