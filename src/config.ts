/**
 * Worker configuration: the cluster registry (clusterId → kubeconfig, the only place credentials
 * live), the Temporal connection and defaults, from a YAML file plus the environment.
 *
 * File (EDGE_UPGRADE_CONFIG or --config):
 *   temporal: { address: 127.0.0.1:7233, namespace: default, tls: { caFile, certFile, keyFile, serverName }, apiKeyFile }
 *   upgradeImage: registry.example.com/edge-upgrade/agent@sha256:…   # used when a request names none
 *   allowedImages: [registry.example.com/edge-upgrade/agent@sha256:…] # other images a request may name
 *   allowTaggedImages: false        # opt in to tag-only entries (a tag can be moved)
 *   metricsAddress: 0.0.0.0:9464   # Prometheus endpoint of the SDK runtime (optional)
 *   clusters:
 *     - id: shop-17
 *       kubeconfig: /etc/edge-upgrade/shop-17.kubeconfig
 *       context: shop-17        # optional
 *       upgradeImage: …         # optional: this cluster's own default, replacing the worker's
 *       allowedImages: […]      # optional: this cluster's own list, replacing the worker's
 * Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_CA, TEMPORAL_TLS_CERT,
 * TEMPORAL_TLS_KEY, TEMPORAL_TLS_SERVER_NAME, EDGE_UPGRADE_IMAGE, EDGE_UPGRADE_ALLOWED_IMAGES (comma-separated),
 * EDGE_UPGRADE_ALLOW_TAGGED_IMAGES=true, EDGE_UPGRADE_METRICS_ADDRESS and
 * EDGE_UPGRADE_CLUSTERS="id=/path/kubeconfig[#context],id2=..." (added to, and overriding, the file's clusters).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { KubeconfigError, loadKubeconfig } from './kubeconfig.js';
import { allowListProblem, type ImagePolicy } from './planning/images.js';

/**
 * Image of the node upgrade agent (agent/) that the demo uses. It is a tag, so a worker never uses
 * it by default: the operator configures a digest-pinned image (see {@link imagePolicyFor}).
 */
export const DEFAULT_UPGRADE_IMAGE = 'ghcr.io/edge-upgrade/agent:0.1.0';

const clusterSchema = z.strictObject({
  id: z.string().min(1),
  kubeconfig: z.string().min(1),
  context: z.string().optional(),
  upgradeImage: z.string().min(1).optional(),
  allowedImages: z.array(z.string().min(1)).optional(),
});
const fileSchema = z
  .object({
    temporal: z
      .object({
        address: z.string().optional(),
        namespace: z.string().optional(),
        apiKeyFile: z.string().optional(),
        tls: z
          .object({
            caFile: z.string().optional(),
            certFile: z.string().optional(),
            keyFile: z.string().optional(),
            serverName: z.string().optional(),
          })
          .optional(),
      })
      .strict()
      .optional(),
    upgradeImage: z.string().min(1).optional(),
    allowedImages: z.array(z.string().min(1)).optional(),
    allowTaggedImages: z.boolean().optional(),
    metricsAddress: z
      .string()
      .regex(/^[^:\s]+:\d+$/, { error: 'expected host:port' })
      .optional(),
    clusters: z.array(clusterSchema).optional(),
  })
  .strict();

/** One configured cluster. */
export type ClusterEntry = z.infer<typeof clusterSchema>;

/** Everything the worker needs, resolved. */
export interface WorkerConfig {
  temporal: {
    address: string;
    namespace: string;
    apiKey?: string;
    tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; serverName?: string };
  };
  /** The agent image used when a request names none (always allowed); without it a request must name an allowed image. */
  upgradeImage?: string;
  /** Further images a request may name. */
  allowedImages?: string[];
  /** host:port of the Prometheus metrics endpoint, when wanted. */
  metricsAddress?: string;
  clusters: Map<string, ClusterEntry>;
}

/** A configuration problem, reported to the operator as one line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseBool(name: string, value: string): boolean {
  if (/^(true|1|yes)$/i.test(value.trim())) return true;
  if (/^(false|0|no|)$/i.test(value.trim())) return false;
  throw new ConfigError(`${name} "${value}" is not true or false`);
}

/**
 * The images the upgrade of `clusterId` may use: the cluster's own `upgradeImage` and
 * `allowedImages` where set, else the worker's. Entries were checked when the config was loaded.
 */
export function imagePolicyFor(config: Pick<WorkerConfig, 'upgradeImage' | 'allowedImages' | 'clusters'>, clusterId: string): ImagePolicy {
  const c = config.clusters.get(clusterId);
  const defaultImage = c?.upgradeImage ?? config.upgradeImage;
  return { ...(defaultImage ? { defaultImage } : {}), allowed: c?.allowedImages ?? config.allowedImages ?? [] };
}

/** Parses EDGE_UPGRADE_CLUSTERS: "id=/path[#context],id2=/path2". */
export function parseClustersEnv(value: string): ClusterEntry[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const m = /^([^=]+)=([^#]+)(?:#(.+))?$/.exec(item);
      if (!m) throw new ConfigError(`EDGE_UPGRADE_CLUSTERS: "${item}" is not id=/path/to/kubeconfig[#context]`);
      return { id: m[1]!.trim(), kubeconfig: m[2]!.trim(), ...(m[3] ? { context: m[3].trim() } : {}) };
    });
}

type ConfigFile = z.infer<typeof fileSchema>;

/** Loads the configuration from `file` (optional) and `env`. Throws ConfigError with a one-line message. */
export function loadWorkerConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const raw = file ? readConfigFile(file) : {};
  const clusters = new Map<string, ClusterEntry>();
  for (const c of raw.clusters ?? []) clusters.set(c.id, c);
  for (const c of parseClustersEnv(env.EDGE_UPGRADE_CLUSTERS ?? '')) clusters.set(c.id, c);
  const temporal = temporalSettings(raw.temporal ?? {}, env);
  const { upgradeImage, allowedImages } = imageSettings(raw, env, file);
  const metrics = env.EDGE_UPGRADE_METRICS_ADDRESS ?? raw.metricsAddress;
  if (metrics !== undefined && !/^[^:\s]+:\d+$/.test(metrics))
    throw new ConfigError(`EDGE_UPGRADE_METRICS_ADDRESS "${metrics}" is not host:port`);
  return {
    temporal,
    ...(upgradeImage !== undefined ? { upgradeImage } : {}),
    ...(allowedImages !== undefined ? { allowedImages } : {}),
    ...(metrics ? { metricsAddress: metrics } : {}),
    clusters,
  };
}

/** Reads and validates the YAML config file; an empty file is an empty config. */
function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(parseYaml(text) ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`config file ${file}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Reads a file named by the config, or undefined when none is named; `what` names it in the error. */
function readNamedFile(path: string | undefined, what: string): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** The Temporal connection settings: each environment variable overrides its file setting. */
function temporalSettings(t: NonNullable<ConfigFile['temporal']>, env: NodeJS.ProcessEnv): WorkerConfig['temporal'] {
  const ca = readNamedFile(env.TEMPORAL_TLS_CA ?? t.tls?.caFile, 'TLS CA file');
  const cert = readNamedFile(env.TEMPORAL_TLS_CERT ?? t.tls?.certFile, 'TLS certificate file');
  const key = readNamedFile(env.TEMPORAL_TLS_KEY ?? t.tls?.keyFile, 'TLS key file');
  const serverName = env.TEMPORAL_TLS_SERVER_NAME ?? t.tls?.serverName;
  if (Boolean(cert) !== Boolean(key))
    throw new ConfigError('mTLS needs both a client certificate and a key (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY)');
  const apiKey = env.TEMPORAL_API_KEY ?? readNamedFile(t.apiKeyFile, 'API key file')?.toString('utf8').trim();
  return {
    address: env.TEMPORAL_ADDRESS ?? t.address ?? '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE ?? t.namespace ?? 'default',
    ...(apiKey ? { apiKey } : {}),
    // An API key implies TLS (Temporal Cloud); so does any TLS setting.
    ...(ca || cert || serverName || apiKey ? { tls: { ca, cert, key, serverName } } : {}),
  };
}

/**
 * The worker's default and allowed images (environment over file), after checking every image
 * entry, the clusters' own included, against the allow-list rules. Errors name the variable or the
 * file key to fix.
 */
function imageSettings(
  raw: ConfigFile,
  env: NodeJS.ProcessEnv,
  file: string | undefined,
): Pick<WorkerConfig, 'upgradeImage' | 'allowedImages'> {
  // An empty variable counts as unset, so a deployment can blank one out.
  const envImage = env.EDGE_UPGRADE_IMAGE || undefined;
  const envAllowed = env.EDGE_UPGRADE_ALLOWED_IMAGES || undefined;
  const envAllowTags = env.EDGE_UPGRADE_ALLOW_TAGGED_IMAGES || undefined;
  const upgradeImage = envImage ?? raw.upgradeImage;
  const allowedImages = envAllowed !== undefined ? splitList(envAllowed) : raw.allowedImages;
  const allowTags =
    envAllowTags !== undefined ? parseBool('EDGE_UPGRADE_ALLOW_TAGGED_IMAGES', envAllowTags) : (raw.allowTaggedImages ?? false);
  const checkImage = (image: string, where: string) => {
    const problem = allowListProblem(image, allowTags);
    if (problem) throw new ConfigError(`${where}: ${problem}`);
  };
  const inFile = (key: string) => (file ? `config file ${file}: ${key}` : key);
  if (upgradeImage !== undefined) checkImage(upgradeImage, envImage !== undefined ? 'EDGE_UPGRADE_IMAGE' : inFile('upgradeImage'));
  allowedImages?.forEach((image, i) =>
    checkImage(image, envAllowed !== undefined ? 'EDGE_UPGRADE_ALLOWED_IMAGES' : inFile(`allowedImages.${i}`)),
  );
  (raw.clusters ?? []).forEach((c, i) => {
    if (c.upgradeImage !== undefined) checkImage(c.upgradeImage, inFile(`clusters.${i}.upgradeImage`));
    c.allowedImages?.forEach((image, j) => checkImage(image, inFile(`clusters.${i}.allowedImages.${j}`)));
  });
  return { upgradeImage, allowedImages };
}

/**
 * Connection options for Temporal (address, TLS or mTLS, API key) from the resolved settings, in
 * the shape both `Connection.connect` (client) and `NativeConnection.connect` (worker) take.
 */
export function temporalConnectionOptions(t: WorkerConfig['temporal']): {
  address: string;
  tls?: { serverRootCACertificate?: Buffer; serverNameOverride?: string; clientCertPair?: { crt: Buffer; key: Buffer } };
  apiKey?: string;
} {
  return {
    address: t.address,
    ...(t.tls
      ? {
          tls: {
            ...(t.tls.ca ? { serverRootCACertificate: t.tls.ca } : {}),
            ...(t.tls.serverName ? { serverNameOverride: t.tls.serverName } : {}),
            ...(t.tls.cert && t.tls.key ? { clientCertPair: { crt: t.tls.cert, key: t.tls.key } } : {}),
          },
        }
      : {}),
    ...(t.apiKey ? { apiKey: t.apiKey } : {}),
  };
}

/** Resolves clusterIds to KubeConfigs, loading each kubeconfig file once. */
export class ClusterRegistry {
  private readonly cache = new Map<string, KubeConfig>();
  constructor(private readonly clusters: Map<string, ClusterEntry>) {}

  /** The configured cluster IDs, sorted. */
  ids(): string[] {
    return [...this.clusters.keys()].sort();
  }

  /** True when `clusterId` is configured. */
  has(clusterId: string): boolean {
    return this.clusters.has(clusterId);
  }

  /** The KubeConfig of `clusterId`; throws ConfigError naming the known IDs when it is unknown. */
  kubeConfig(clusterId: string): KubeConfig {
    const hit = this.cache.get(clusterId);
    if (hit) return hit;
    const entry = this.clusters.get(clusterId);
    if (!entry) {
      const known = this.ids();
      throw new ConfigError(
        `unknown cluster "${clusterId}": this worker knows ${known.length ? known.join(', ') : 'no clusters'}` +
          ' (configure it in EDGE_UPGRADE_CLUSTERS or the config file)',
      );
    }
    let kc: KubeConfig;
    try {
      kc = loadKubeconfig(entry.kubeconfig, entry.context);
    } catch (err) {
      // Never the error of a YAML parser: it would quote the file, tokens and keys included.
      throw new ConfigError(
        `cluster "${clusterId}": ${err instanceof KubeconfigError ? err.message : `cannot load kubeconfig ${entry.kubeconfig}`}`,
      );
    }
    this.cache.set(clusterId, kc);
    return kc;
  }
}
