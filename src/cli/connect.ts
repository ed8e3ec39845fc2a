/** Connects the CLI to Temporal with the same settings as the worker (config file + environment). */
import { Client, Connection } from '@temporalio/client';
import { loadWorkerConfig } from '../config.js';

/** Global CLI options that affect the connection. */
export interface ConnectOptions {
  address?: string;
  namespace?: string;
  config?: string;
}

/** Opens a client; the caller closes `client.connection`. */
export async function connectClient(opts: ConnectOptions): Promise<Client> {
  const cfg = loadWorkerConfig(opts.config ?? process.env.EDGE_UPGRADE_CONFIG).temporal;
  const address = opts.address ?? cfg.address;
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address,
      tls: cfg.tls ? { serverRootCACertificate: cfg.tls.ca, serverNameOverride: cfg.tls.serverName, ...(cfg.tls.cert && cfg.tls.key ? { clientCertPair: { crt: cfg.tls.cert, key: cfg.tls.key } } : {}) } : undefined,
      apiKey: cfg.apiKey,
      connectTimeout: 5000,
    });
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${address} (${(err as Error).message}); set TEMPORAL_ADDRESS or --address`);
  }
  return new Client({ connection, namespace: opts.namespace ?? cfg.namespace });
}
