/**
 * Worker configuration: the clusters (clusterId → kubeconfig, the only place credentials live; loaded
 * by ./cluster-registry.ts), the Temporal connection and defaults, from a YAML file plus the environment.
 * Nothing here loads @kubernetes/client-node, so CLI commands that only talk to Temporal start quickly.
 *
 * File (EDGE_UPGRADE_CONFIG or --config):
 *   temporal: { address: 127.0.0.1:7233, namespace: default, tls: { caFile, certFile, keyFile, serverName }, apiKeyFile }
 *   upgradeImage: registry.example.com/edge-upgrade/agent@sha256:…   # used when a request names none
 *   allowedImages: [registry.example.com/edge-upgrade/agent@sha256:…] # other images a request may name
 *   allowTaggedImages: false        # opt in to tag-only entries (a tag can be moved)
 *   metricsAddress: 0.0.0.0:9464   # Prometheus endpoint of the SDK runtime (optional)
 *   healthAddress: 0.0.0.0:8080    # /livez and /readyz for the worker's probes (optional, see ./health-server.ts)
 *   cloudNodeLabel: alibabacloud.com/is-edge-worker=false   # workers prepared before the masters (key=value or key; '' = none)
 *   healthChecks:                  # extra health-gate checks a request may name (`gate.checks`); URLs stay here
 *     shop-api:   { http: { url: https://shop.example.com/healthz, timeoutSeconds: 5 } }   # GET must return 2xx
 *     error-rate: { prometheus: { url: http://prometheus:9090, query: 'up{job="pos"} == 1', timeoutSeconds: 5 } }
 *                                  # instant query (GET <url>/api/v1/query) must succeed with a non-empty result
 *   versions: [v1.32.9, v1.33.5]  # versions a multi-minor upgrade may hop through (newest patch of each minor)
 *   clusters:
 *     - id: shop-17
 *       kubeconfig: /etc/edge-upgrade/shop-17.kubeconfig
 *       context: shop-17        # optional
 *       upgradeImage: …         # optional: this cluster's own default, replacing the worker's
 *       allowedImages: […]      # optional: this cluster's own list, replacing the worker's
 *       healthChecks: {…}       # optional: added to the worker's, replacing same-named ones
 *       cloudNodeLabel: …       # optional: this cluster's own, replacing the worker's
 *       versions: […]           # optional: this cluster's own hop versions, replacing the worker's
 * Check names: letters, digits, '.', '_', '-', not a built-in gate check (nodes, daemonsets, workloads,
 * restarts); timeoutSeconds defaults to 5, at most 20.
 * Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_CA, TEMPORAL_TLS_CERT,
 * TEMPORAL_TLS_KEY, TEMPORAL_TLS_SERVER_NAME, EDGE_UPGRADE_IMAGE, EDGE_UPGRADE_ALLOWED_IMAGES (comma-separated),
 * EDGE_UPGRADE_ALLOW_TAGGED_IMAGES=true, EDGE_UPGRADE_METRICS_ADDRESS, EDGE_UPGRADE_HEALTH_ADDRESS, EDGE_UPGRADE_CLOUD_NODE_LABEL and
 * EDGE_UPGRADE_CLUSTERS="id=/path/kubeconfig[#context],id2=..." (added to, and overriding, the file's clusters).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatCloudNodeLabel, parseCloudNodeLabel } from './planning/cloud-nodes.js';
import { BUILTIN_GATE_CHECKS } from './planning/health.js';
import { allowListProblem, type ImagePolicy } from './planning/images.js';

/**
 * Image of the node upgrade agent (agent/) that the demo uses. It is a tag, so a worker never uses
 * it by default: the operator configures a digest-pinned image (see {@link imagePolicyFor}).
 */
export const DEFAULT_UPGRADE_IMAGE = 'ghcr.io/edge-upgrade/agent:0.1.0';

/** Default and largest timeout of one extra health check, in seconds (the gate's activity must answer well under 30 s). */
export const HEALTH_CHECK_TIMEOUT_SECONDS = { default: 5, max: 20 };

const probeUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });
const probeTimeout = z.number().positive().max(HEALTH_CHECK_TIMEOUT_SECONDS.max).optional();
const healthCheckSchema = z
  .strictObject({
    http: z.strictObject({ url: probeUrl, timeoutSeconds: probeTimeout }).optional(),
    prometheus: z.strictObject({ url: probeUrl, query: z.string().min(1), timeoutSeconds: probeTimeout }).optional(),
  })
  .refine((c) => (c.http ? 1 : 0) + (c.prometheus ? 1 : 0) === 1, { error: 'expected exactly one of http or prometheus' });
const checkName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'may only hold letters, digits, ".", "_" and "-"' })
  .refine((n) => !(BUILTIN_GATE_CHECKS as readonly string[]).includes(n), {
    error: `is taken by a built-in gate check (${BUILTIN_GATE_CHECKS.join(', ')})`,
  });
const healthChecksSchema = z.record(checkName, healthCheckSchema);

/** One extra health-gate check: an HTTP GET that must return 2xx, or a Prometheus instant query that must return a non-empty result. */
export type HealthCheckSpec = z.infer<typeof healthCheckSchema>;
/** The extra health-gate checks by name. */
export type HealthChecks = Record<string, HealthCheckSpec>;

/** A Kubernetes version such as v1.33.5, for `versions`. */
const kubeVersion = z.string().regex(/^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$/, { error: 'expected a Kubernetes version like v1.33.5' });

const hostPort = z.string().regex(/^[^:\s]+:\d+$/, { error: 'expected host:port' });

const clusterSchema = z.strictObject({
  id: z.string().min(1),
  kubeconfig: z.string().min(1),
  context: z.string().optional(),
  upgradeImage: z.string().min(1).optional(),
  allowedImages: z.array(z.string().min(1)).optional(),
  healthChecks: healthChecksSchema.optional(),
  cloudNodeLabel: z.string().optional(),
  versions: z.array(kubeVersion).optional(),
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
    metricsAddress: hostPort.optional(),
    healthAddress: hostPort.optional(),
    healthChecks: healthChecksSchema.optional(),
    cloudNodeLabel: z.string().optional(),
    versions: z.array(kubeVersion).optional(),
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
  /** host:port of the worker's own /livez and /readyz (./health-server.ts), when wanted. */
  healthAddress?: string;
  /** Extra health-gate checks a request may name (a cluster's own `healthChecks` add to these, see {@link healthChecksFor}). */
  healthChecks?: HealthChecks;
  /** Workers prepared before the masters (`key=value` or `key`; '' for none); default {@link DEFAULT_CLOUD_NODE_LABEL}. */
  cloudNodeLabel?: string;
  /** Versions a multi-minor upgrade may hop through (a cluster's own `versions` replace these, see {@link versionsFor}). */
  versions?: string[];
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

/** The extra health-gate checks of `clusterId`: the worker's, plus (replacing same-named ones) the cluster's own. */
export function healthChecksFor(config: Pick<WorkerConfig, 'healthChecks' | 'clusters'>, clusterId: string): HealthChecks {
  return { ...config.healthChecks, ...config.clusters.get(clusterId)?.healthChecks };
}

/**
 * The cloud-node label of `clusterId` as `key=value` or `key` ('' when it prepares no nodes): the
 * cluster's own, else the worker's, else the default `alibabacloud.com/is-edge-worker=false`.
 */
export function cloudNodeLabelFor(config: Pick<WorkerConfig, 'cloudNodeLabel' | 'clusters'>, clusterId: string): string {
  const sel = parseCloudNodeLabel(config.clusters.get(clusterId)?.cloudNodeLabel ?? config.cloudNodeLabel);
  return sel ? formatCloudNodeLabel(sel) : '';
}

/** Checks every cloudNodeLabel setting; throws ConfigError naming the one to fix. */
function checkCloudNodeLabels(raw: ConfigFile, env: NodeJS.ProcessEnv, file: string | undefined): string | undefined {
  const where = (key: string) => (file ? `config file ${file}: ${key}` : key);
  const check = (value: string | undefined, name: string) => {
    try {
      parseCloudNodeLabel(value);
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`);
    }
  };
  const envValue = env.EDGE_UPGRADE_CLOUD_NODE_LABEL;
  check(envValue ?? raw.cloudNodeLabel, envValue !== undefined ? 'EDGE_UPGRADE_CLOUD_NODE_LABEL' : where('cloudNodeLabel'));
  (raw.clusters ?? []).forEach((c, i) => check(c.cloudNodeLabel, where(`clusters.${i}.cloudNodeLabel`)));
  return envValue ?? raw.cloudNodeLabel;
}

/** The versions a multi-minor upgrade of `clusterId` may hop through: the cluster's own `versions` where set, else the worker's. */
export function versionsFor(config: Pick<WorkerConfig, 'versions' | 'clusters'>, clusterId: string): string[] {
  return config.clusters.get(clusterId)?.versions ?? config.versions ?? [];
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
  const metrics = addressSetting('EDGE_UPGRADE_METRICS_ADDRESS', env.EDGE_UPGRADE_METRICS_ADDRESS ?? raw.metricsAddress);
  const health = addressSetting('EDGE_UPGRADE_HEALTH_ADDRESS', env.EDGE_UPGRADE_HEALTH_ADDRESS ?? raw.healthAddress);
  const cloudNodeLabel = checkCloudNodeLabels(raw, env, file);
  return {
    temporal,
    ...(upgradeImage !== undefined ? { upgradeImage } : {}),
    ...(allowedImages !== undefined ? { allowedImages } : {}),
    ...(metrics ? { metricsAddress: metrics } : {}),
    ...(health ? { healthAddress: health } : {}),
    ...(raw.healthChecks ? { healthChecks: raw.healthChecks } : {}),
    ...(cloudNodeLabel !== undefined ? { cloudNodeLabel } : {}),
    ...(raw.versions ? { versions: raw.versions } : {}),
    clusters,
  };
}

/** A host:port setting (`name` is its environment variable), or undefined when unset. */
function addressSetting(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && !/^[^:\s]+:\d+$/.test(value)) throw new ConfigError(`${name} "${value}" is not host:port`);
  return value;
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
    // A record key's own problem (healthChecks names) is nested; say it, not "Invalid key in record".
    const message = issue.code === 'invalid_key' ? `check name ${issue.issues[0]?.message ?? issue.message}` : issue.message;
    throw new ConfigError(`config file ${file}: ${issue.path.join('.') || '(top)'}: ${message}`);
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
