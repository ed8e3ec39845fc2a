/**
 * A production-shaped Temporal for tests and trials, on loopback: a private PostgreSQL cluster
 * (Debian's postgresql package, run as the `postgres` user), Temporal Server (scripts/ensure-temporal-server.sh)
 * with its schema made by temporal-sql-tool, and mTLS on the frontend: a CA, server and client
 * certificates made with openssl, a client without a certificate refused. The `default` namespace
 * and the contract's search attributes are created with the Temporal CLI over mTLS.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { searchAttributeDefinitions } from '../workflows/definitions.js';
import { releasePort, reservePort } from './ports.js';
import { makeCertificates, writeServerConfig, type ProdPorts as Ports } from './prod-temporal-files.js';
import { startProcess, stopProcess, waitUntil, type Managed } from './processes.js';

const run = promisify(execFile);

/** Where the binaries are. */
export interface ProdTemporalOptions {
  /** Folder with temporal-server and temporal-sql-tool (scripts/ensure-temporal-server.sh). */
  serverDir: string;
  /** The Temporal CLI (scripts/ensure-temporal.sh), for the namespace and the search attributes. */
  temporalCli: string;
  /** PostgreSQL's programs (initdb, postgres). Default: Debian's PostgreSQL 15. */
  pgBinDir?: string;
  /** Working folder (data, certificates, logs); a fresh temp folder by default, removed by stop(). */
  dir?: string;
}

/** How a client reaches the frontend: its address and the certificate files (PEM). */
export interface ProdTemporalClient {
  address: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The name the server certificate carries (it has IP:127.0.0.1 too). */
  serverName: string;
}

/** The name on the server certificate, and the namespace the stack creates. */
export const PROD_SERVER_NAME = 'localhost';
export const PROD_NAMESPACE = 'default';

/** A running production-shaped Temporal. Stop it with `stop()`. */
export class ProdTemporal {
  private constructor(
    readonly dir: string,
    private readonly opts: Required<Omit<ProdTemporalOptions, 'dir'>>,
    private readonly ports: Ports,
    private postgres: Managed,
    private server: Managed,
    /** Every port reserved for the stack, given back by stop(). */
    private readonly reserved: readonly number[],
  ) {}

  /** The client settings for a worker, the CLI or a test: a certificate the frontend trusts. */
  get client(): ProdTemporalClient {
    return clientOf(this.dir, this.ports.frontend);
  }

  /** A client certificate from another CA, which the frontend must refuse. */
  get untrustedClient(): ProdTemporalClient {
    const certs = join(this.dir, 'certs');
    return { ...this.client, certFile: join(certs, 'other-client.pem'), keyFile: join(certs, 'other-client.key') };
  }

  static async start(options: ProdTemporalOptions): Promise<ProdTemporal> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'edge-upgrade-prod-'));
    mkdirSync(dir, { recursive: true });
    // The postgres user reaches its data folder through this one.
    chmodSync(dir, 0o755);
    const opts = {
      serverDir: options.serverDir,
      temporalCli: options.temporalCli,
      pgBinDir: options.pgBinDir ?? '/usr/lib/postgresql/15/bin',
    };
    for (const bin of [
      join(opts.serverDir, 'temporal-server'),
      join(opts.serverDir, 'temporal-sql-tool'),
      join(opts.pgBinDir, 'postgres'),
    ]) {
      if (!existsSync(bin)) throw new Error(`${bin} is missing (scripts/ensure-temporal-server.sh; Debian's postgresql package)`);
    }
    const reserved: number[] = [];
    const port = async () => {
      const p = await reservePort();
      reserved.push(p);
      return p;
    };
    const ports: Ports = {
      pg: await port(),
      frontend: await port(),
      history: await port(),
      matching: await port(),
      worker: await port(),
      membership: [await port(), await port(), await port(), await port()],
    };
    let postgres: Managed | undefined;
    let server: Managed | undefined;
    try {
      makeCertificates(join(dir, 'certs'));
      initPostgres(dir, opts.pgBinDir);
      postgres = await startPostgres(dir, opts.pgBinDir, ports.pg);
      await createSchemas(opts.serverDir, ports.pg);
      writeServerConfig(dir, ports);
      server = await startServer(dir, opts.serverDir, opts.temporalCli, ports.frontend);
      const stack = new ProdTemporal(dir, opts, ports, postgres, server, reserved);
      await stack.createNamespace();
      return stack;
    } catch (err) {
      if (server) await stopProcess(server);
      if (postgres) await stopProcess(postgres);
      for (const p of reserved) releasePort(p);
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The Temporal CLI's connection flags for this stack (mTLS). */
  cliFlags(client: ProdTemporalClient = this.client): string[] {
    return cliFlagsOf(client);
  }

  /** The worker's and the CLI's environment for `client` (TEMPORAL_ADDRESS, TEMPORAL_TLS_*, the namespace). */
  env(client: ProdTemporalClient = this.client): Record<string, string> {
    return {
      TEMPORAL_ADDRESS: client.address,
      TEMPORAL_NAMESPACE: PROD_NAMESPACE,
      TEMPORAL_TLS_CA: client.caFile,
      TEMPORAL_TLS_CERT: client.certFile,
      TEMPORAL_TLS_KEY: client.keyFile,
      TEMPORAL_TLS_SERVER_NAME: client.serverName,
    };
  }

  /** SIGKILLs the Temporal Server and starts it again on the same ports and database. */
  async killAndRestartServer(): Promise<void> {
    await stopProcess(this.server, 0, 'SIGKILL');
    this.server = await startServer(this.dir, this.opts.serverDir, this.opts.temporalCli, this.ports.frontend);
  }

  /** Stops PostgreSQL with a fast shutdown (SIGINT: connections dropped) and starts it again on its port. */
  async restartPostgres(): Promise<void> {
    await stopProcess(this.postgres, 30_000, 'SIGINT');
    this.postgres = await startPostgres(this.dir, this.opts.pgBinDir, this.ports.pg);
  }

  /** Stops the server and PostgreSQL by their PIDs, gives the ports back and removes the folder. */
  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    await stopProcess(this.server);
    await stopProcess(this.postgres, 30_000, 'SIGINT');
    for (const p of this.reserved) releasePort(p);
    if (!opts.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Creates the `default` namespace (1 day of retention) and the contract's search attributes. */
  private async createNamespace(): Promise<void> {
    const cli = (...args: string[]) => run(this.opts.temporalCli, [...args, ...this.cliFlags()]);
    await cli('operator', 'namespace', 'create', '--namespace', PROD_NAMESPACE, '--retention', '24h');
    const attrs = searchAttributeDefinitions.flatMap((a) => ['--name', a.name, '--type', cliType(a.type)]);
    await cli('operator', 'search-attribute', 'create', '--namespace', PROD_NAMESPACE, ...attrs);
    // Each service reads the namespace's search attributes anew every 2 s.
    await new Promise((r) => setTimeout(r, 3_000));
  }
}

/** The CLI's name for a search attribute type ('KEYWORD' → 'Keyword'). */
function cliType(type: string): string {
  return type.charAt(0) + type.slice(1).toLowerCase();
}

/** The postgres user's uid and gid (Debian's package makes it). */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** A private PostgreSQL cluster in DIR/pg, owned by postgres (PostgreSQL refuses to run as root). */
function initPostgres(dir: string, pgBinDir: string): void {
  const user = postgresUser();
  const data = join(dir, 'pg');
  mkdirSync(data, { recursive: true, mode: 0o700 });
  chownSync(data, user.uid, user.gid);
  execFileSync(join(pgBinDir, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'], {
    ...user,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** Starts the postmaster as postgres on 127.0.0.1:port (socket in the data folder) and waits until it accepts connections. */
async function startPostgres(dir: string, pgBinDir: string, port: number): Promise<Managed> {
  const data = join(dir, 'pg');
  const args = ['-D', data, '-p', String(port), '-k', data, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];
  const pg = startProcess('postgres', join(pgBinDir, 'postgres'), args, join(dir, 'postgres.log'), undefined, postgresUser());
  await waitUntil(
    'PostgreSQL accepting connections',
    async () => {
      await run(join(pgBinDir, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)]);
      return true;
    },
    { timeoutMs: 60_000, process: pg },
  );
  return pg;
}

/** The `temporal` and `temporal_visibility` databases, at the schema versions of the server (embedded in the tool). */
async function createSchemas(serverDir: string, pgPort: number): Promise<void> {
  const tool = join(serverDir, 'temporal-sql-tool');
  for (const [db, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ] as const) {
    const sql = (...args: string[]) =>
      run(tool, ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(pgPort), '-u', 'postgres', '--db', db, ...args]);
    await sql('create-database');
    await sql('setup-schema', '-v', '0.0');
    await sql('update-schema', '-s', schema);
  }
}

/** Starts temporal-server (all four services) and waits until its frontend answers over mTLS. */
async function startServer(dir: string, serverDir: string, temporalCli: string, frontendPort: number): Promise<Managed> {
  const server = startProcess(
    'temporal-server',
    join(serverDir, 'temporal-server'),
    ['--root', dir, '--config', 'config', '--env', 'prod', '--allow-no-auth', 'start'],
    join(dir, 'temporal-server.log'),
  );
  const flags = cliFlagsOf(clientOf(dir, frontendPort));
  await waitUntil(
    'the Temporal Server frontend serving',
    async () => {
      const { stdout } = await run(temporalCli, ['operator', 'cluster', 'health', ...flags]);
      return stdout.includes('SERVING');
    },
    { timeoutMs: 120_000, intervalMs: 500, process: server },
  );
  return server;
}

/** The trusted client certificate of the stack in `dir`, for its frontend on `frontendPort`. */
function clientOf(dir: string, frontendPort: number): ProdTemporalClient {
  const certs = join(dir, 'certs');
  return {
    address: `127.0.0.1:${frontendPort}`,
    caFile: join(certs, 'ca.pem'),
    certFile: join(certs, 'client.pem'),
    keyFile: join(certs, 'client.key'),
    serverName: PROD_SERVER_NAME,
  };
}

/** The Temporal CLI's flags for `client` (mTLS). */
function cliFlagsOf(client: ProdTemporalClient): string[] {
  const { address, caFile, certFile, keyFile, serverName } = client;
  return [
    '--address',
    address,
    '--tls-ca-path',
    caFile,
    '--tls-cert-path',
    certFile,
    '--tls-key-path',
    keyFile,
    '--tls-server-name',
    serverName,
  ];
}
