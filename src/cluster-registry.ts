/**
 * The worker's clusters: clusterId → KubeConfig, each kubeconfig file loaded once, on first use. Kept
 * apart from ./config.ts because it loads @kubernetes/client-node (about a second of start-up), which
 * CLI commands that only talk to Temporal do without.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, type ClusterEntry } from './config.js';
import { KubeconfigError, loadKubeconfig } from './kubeconfig.js';

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
