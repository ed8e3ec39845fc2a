/**
 * The `inventory` and `precheck` activities: read the cluster, judge it with the pure rules in
 * planning. Both only read, so an API server outage is ridden out inside the activity (for
 * {@link READ_RETRY_MS}) before Temporal's retry policy takes over.
 */
import { Health, VersionApi, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { formatCloudNodeLabel, isCloudNode, type CloudNodeSelector } from '../planning/cloud-nodes.js';
import { controlPlaneVersion, toClusterNode } from '../planning/cluster.js';
import { nodesToUpgrade, evaluatePrecheck, type PrecheckInput } from '../planning/precheck-items.js';
import { KUBE_APISERVER_SELECTOR, KUBE_SYSTEM_NAMESPACE, UPGRADE_NAMESPACE } from '../planning/labels.js';
import type { ClusterInventory, PrecheckItem } from '../planning/types.js';
import { listAll, makeClient } from '../kube/clients.js';
import { apiMessage, statusOf } from '../kube/errors.js';
import { withApiRetry, type Kube, type KubeClients } from './kube.js';
import type { PrecheckArgs } from './types.js';

/** How long inventory and precheck retry transient API errors within one attempt, in ms (their start-to-close timeout is 5 minutes). */
export const READ_RETRY_MS = 120_000;

/** All nodes, 500 per page (a 10,000-node cluster in 20 requests). */
export function listNodes(kube: Kube): Promise<V1Node[]> {
  return listAll((cont) => kube.core.listNode({ limit: 500, _continue: cont }));
}

async function inventoryOf(kube: Kube, clusterId: string): Promise<{ inv: ClusterInventory; raw: V1Node[] }> {
  const raw = await listNodes(kube);
  const nodes = raw.map(toClusterNode);
  let apiVersion = '';
  let apiServerPods: V1Pod[] = [];
  if (!nodes.some((n) => n.kind === 'control-plane')) {
    apiVersion = (await makeClient(kube.kc, VersionApi, kube.clientOptions).getCode()).gitVersion;
  } else {
    // kubeadm: each master's kube-apiserver static pod, seen through its mirror pod.
    apiServerPods = (await kube.core.listNamespacedPod({ namespace: KUBE_SYSTEM_NAMESPACE, labelSelector: KUBE_APISERVER_SELECTOR })).items;
  }
  return { inv: { clusterId, controlPlaneVersion: controlPlaneVersion(nodes, apiVersion, apiServerPods), nodes }, raw };
}

/**
 * Implements `inventory`. Workers carrying the `cloud` selector's label are marked `cloud` (the
 * prepare phase runs on them), and the inventory names the label; without a selector none is.
 * `versions` are the worker configuration's versions for multi-minor hops.
 */
export async function inventory(
  clients: KubeClients,
  clusterId: string,
  cloud: CloudNodeSelector | null = null,
  versions: string[] = [],
): Promise<ClusterInventory> {
  const kube = clients.for(clusterId);
  const { inv: read, raw } = await withApiRetry(kube, () => inventoryOf(kube, clusterId), { forMs: READ_RETRY_MS });
  const inv = versions.length > 0 ? { ...read, versions } : read;
  if (!cloud) return inv;
  const labelled = new Set(raw.filter((n) => isCloudNode(n.metadata?.labels, cloud)).map((n) => n.metadata?.name));
  const nodes = inv.nodes.map((n) => (n.kind === 'worker' && labelled.has(n.name) ? { ...n, cloud: true } : n));
  return { ...inv, nodes, cloudNodeLabel: formatCloudNodeLabel(cloud) };
}

/** Implements `precheck`: one read of nodes, pods, PDBs and kube-upgrade, then {@link evaluatePrecheck}. */
export async function precheck(clients: KubeClients, ref: PrecheckArgs): Promise<PrecheckItem[]> {
  const kube = clients.for(ref.clusterId);
  return withApiRetry(kube, () => precheckOnce(kube, ref), { forMs: READ_RETRY_MS });
}

async function precheckOnce(kube: Kube, ref: PrecheckArgs): Promise<PrecheckItem[]> {
  let apiServer: PrecheckInput['apiServer'];
  try {
    kube.clientOptions.count?.('GET', '/readyz');
    apiServer = { ready: await new Health(kube.kc).readyz({ timeout: 10_000 }) };
  } catch (err) {
    apiServer = { ready: false, detail: apiMessage(err) };
  }
  const { inv, raw } = await inventoryOf(kube, ref.clusterId);
  const todo = new Set(nodesToUpgrade(raw, ref.targetVersion));
  const [allPods, pdbs, namespace] = await Promise.all([
    listAll<V1Pod>((cont) => kube.core.listPodForAllNamespaces({ limit: 1000, _continue: cont })),
    listAll((cont) => kube.policy.listPodDisruptionBudgetForAllNamespaces({ limit: 500, _continue: cont })),
    kube.core.readNamespace({ name: UPGRADE_NAMESPACE }).then(
      (ns) =>
        (ns.metadata?.deletionTimestamp || ns.status?.phase === 'Terminating' ? 'terminating' : 'active') as PrecheckInput['namespace'],
      (err: unknown) => {
        if (statusOf(err) === 404) return 'absent' as const;
        throw err;
      },
    ),
  ]);
  return evaluatePrecheck({
    targetVersion: ref.targetVersion,
    upgradeId: ref.upgradeId,
    controlPlaneVersion: inv.controlPlaneVersion,
    apiServer,
    nodes: raw,
    upgradePods: allPods.filter((p) => p.metadata?.namespace === UPGRADE_NAMESPACE),
    pods: allPods.filter((p) => p.metadata?.namespace !== UPGRADE_NAMESPACE && todo.has(p.spec?.nodeName ?? '')),
    pdbs,
    namespace,
    deferOffline: ref.deferOffline ?? false,
    ...(ref.hops ? { hops: ref.hops } : {}),
    ...(ref.drainTimeoutMs !== undefined ? { drainTimeoutMs: ref.drainTimeoutMs } : {}),
    ...(ref.runChain ? { runChain: ref.runChain } : {}),
  });
}
