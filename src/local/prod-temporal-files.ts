/**
 * The files of the production-shaped Temporal (./prod-temporal.ts): its certificates, made with
 * openssl, and the server's configuration and dynamic configuration.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** The server's ports: PostgreSQL, each service's gRPC port, and their membership ports. */
export interface ProdPorts {
  pg: number;
  frontend: number;
  history: number;
  matching: number;
  worker: number;
  membership: [number, number, number, number];
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const LEAF = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature'];
const CA_EXTENSIONS = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];

/**
 * In `dir`: a CA (ca.pem), the frontend's certificate for localhost and 127.0.0.1 (server.pem), a
 * client certificate (client.pem) and one for the server's own calls to its frontend (system.pem),
 * both from the CA, and a client certificate from another CA (other-client.pem), which the frontend refuses.
 */
export function makeCertificates(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ca = (name: string, subject: string) =>
    ssl('req', '-x509', ...KEY, '-days', '3650', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', subject, ...CA_EXTENSIONS);
  const sign = (name: string, subject: string, caName: string, ext: string) => {
    ssl('req', '-new', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    const signer = ['-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-days', '825', '-sha256'];
    ssl('x509', '-req', '-in', `${name}.csr`, ...signer, '-extfile', ext, '-out', `${name}.pem`);
  };
  writeFileSync(join(dir, 'server.ext'), [...LEAF, 'extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost'].join('\n'));
  writeFileSync(join(dir, 'client.ext'), [...LEAF, 'extendedKeyUsage=clientAuth'].join('\n'));
  ca('ca', '/CN=edge-upgrade test CA');
  ca('other-ca', '/CN=another CA');
  sign('server', '/CN=localhost', 'ca', 'server.ext');
  sign('client', '/CN=edge-upgrade worker', 'ca', 'client.ext');
  sign('system', '/CN=temporal system worker', 'ca', 'client.ext');
  sign('other-client', '/CN=edge-upgrade worker', 'other-ca', 'client.ext');
}

/**
 * DIR/config/prod.yaml (read by `temporal-server --root DIR --config config --env prod start`) and
 * DIR/dynamicconfig.yaml: PostgreSQL for persistence and visibility, all four services on 127.0.0.1,
 * mTLS on the frontend (client certificates from the CA required), plain TCP between the services.
 */
export function writeServerConfig(dir: string, ports: ProdPorts): void {
  const rpc = (grpcPort: number, membershipPort: number) => ({ rpc: { grpcPort, membershipPort, bindOnIP: '127.0.0.1' } });
  const [fm, hm, mm, wm] = ports.membership;
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: 4,
      datastores: { postgres: datastore(ports.pg, 'temporal', 10), 'postgres-visibility': datastore(ports.pg, 'temporal_visibility', 5) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' }, tls: frontendTls(join(dir, 'certs')) },
    services: {
      frontend: rpc(ports.frontend, fm),
      history: rpc(ports.history, hm),
      matching: rpc(ports.matching, mm),
      worker: rpc(ports.worker, wm),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcAddress: `127.0.0.1:${ports.frontend}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled', enableRead: false }, visibility: { state: 'disabled', enableRead: false } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: join(dir, 'dynamicconfig.yaml'), pollInterval: '10s' },
  };
  mkdirSync(join(dir, 'config'), { recursive: true });
  writeFileSync(join(dir, 'config', 'prod.yaml'), stringify(config));
  // The dev server's visibility rate (the default, 10 per second, is for a cluster of many namespaces).
  writeFileSync(join(dir, 'dynamicconfig.yaml'), stringify({ 'frontend.namespaceRPS.visibility': [{ value: 100 }] }));
}

/** A PostgreSQL datastore on 127.0.0.1:pgPort, as the postgres user, with at most `maxConns` connections per service. */
function datastore(pgPort: number, databaseName: string, maxConns: number) {
  return {
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${pgPort}`,
      connectProtocol: 'tcp',
      user: 'postgres',
      password: '',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  };
}

/** mTLS on the frontend (client certificates from the CA required); the server's own calls to it present system.pem. */
function frontendTls(certs: string) {
  return {
    frontend: {
      server: {
        certFile: join(certs, 'server.pem'),
        keyFile: join(certs, 'server.key'),
        requireClientAuth: true,
        clientCaFiles: [join(certs, 'ca.pem')],
      },
    },
    systemWorker: {
      certFile: join(certs, 'system.pem'),
      keyFile: join(certs, 'system.key'),
      client: { serverName: 'localhost', rootCaFiles: [join(certs, 'ca.pem')] },
    },
  };
}
