/**
 * Locates the tools the tests need through the project's own ensure-* scripts, which use the cache
 * (~/.cache/edge-upgrade, or $EDGE_UPGRADE_CACHE) and build on a cold machine. A missing tool fails
 * the test loudly; nothing is skipped.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const scriptsDir = fileURLToPath(new URL('../../scripts/', import.meta.url));
const cache = new Map<string, string>();

function ensure(script: string, envOverride: string): string {
  const fromEnv = process.env[envOverride];
  if (fromEnv) return fromEnv;
  const hit = cache.get(script);
  if (hit) return hit;
  try {
    const out = execFileSync('bash', [scriptsDir + script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    cache.set(script, out);
    return out;
  } catch (err) {
    throw new Error(`scripts/${script} failed, so this test cannot run: ${(err as Error).message}`);
  }
}

/** Path of the Temporal CLI binary (dev server). */
export const temporalCli = (): string => ensure('ensure-temporal.sh', 'TEMPORAL_CLI');
/** Directory with kube-apiserver, kube-controller-manager, kube-scheduler and kubectl. */
export const k8sBinDir = (): string => ensure('ensure-k8s.sh', 'EDGE_UPGRADE_K8S_BIN');
/** Path of the etcd binary. */
export const etcdBinary = (): string => ensure('ensure-etcd.sh', 'EDGE_UPGRADE_ETCD');
/** Path of a Chromium for the browser test (Debian's package). */
export const chromium = (): string => ensure('ensure-chromium.sh', 'EDGE_UPGRADE_CHROMIUM');
/** Folder with temporal-server and temporal-sql-tool (the production lane). */
export const temporalServerDir = (): string => ensure('ensure-temporal-server.sh', 'EDGE_UPGRADE_TEMPORAL_SERVER_DIR');
/** Folder of PostgreSQL's programs (Debian's package). */
export const pgBinDir = (): string => ensure('ensure-postgresql.sh', 'EDGE_UPGRADE_PG_BIN');
/** Path of helm (built from helm.sh/helm/v4, cached): the chart's tests. */
export const helmBinary = (): string => ensure('ensure-helm.sh', 'EDGE_UPGRADE_HELM');
