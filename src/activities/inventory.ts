/** The `inventory` and `precheck` activities: read the cluster, judge it with the pure rules in planning. */
import { Health, VersionApi, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { controlPlaneVersion, toClusterNode } from '../planning/cluster.js';
import { nodesToUpgrade, evaluatePrecheck, type PrecheckInput } from '../planning/precheck-items.js';
import { UPGRADE_NAMESPACE } from '../planning/labels.js';
import type { ClusterInventory, PrecheckItem } from '../planning/types.js';
import { apiMessage, statusOf, type Kube, type KubeClients } from './kube.js';
import type { UpgradeRef } from './types.js';

/** Every item of a paginated list call. */
export async function listAll<T>(page: (cont: string | undefined) => Promise<{ items: T[]; metadata?: { _continue?: string } }>): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const res = await page(cont);
    out.push(...res.items);
    cont = res.metadata?._continue || undefined;
  } while (cont);
  return out;
}

/** All nodes, 500 per page (a 10,000-node cluster in 20 requests). */
export function listNodes(kube: Kube): Promise<V1Node[]> {
  return listAll((cont) => kube.core.listNode({ limit: 500, _continue: cont }));
}

async function inventoryOf(kube: Kube, clusterId: string): Promise<{ inv: ClusterInventory; raw: V1Node[] }> {
  const raw = await listNodes(kube);
  const nodes = raw.map(toClusterNode);
  let apiVersion = '';
  if (!nodes.some((n) => n.kind === 'control-plane')) {
    apiVersion = (await kube.kc.makeApiClient(VersionApi).getCode()).gitVersion;
  }
  return { inv: { clusterId, controlPlaneVersion: controlPlaneVersion(nodes, apiVersion), nodes }, raw };
}

/** Implements `inventory`. */
export async function inventory(clients: KubeClients, clusterId: string): Promise<ClusterInventory> {
  return (await inventoryOf(clients.for(clusterId), clusterId)).inv;
}

/** Implements `precheck`: one read of nodes, pods, PDBs and kube-upgrade, then {@link evaluatePrecheck}. */
export async function precheck(clients: KubeClients, ref: UpgradeRef): Promise<PrecheckItem[]> {
  const kube = clients.for(ref.clusterId);
  let apiServer: PrecheckInput['apiServer'];
  try {
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
      (ns) => (ns.metadata?.deletionTimestamp || ns.status?.phase === 'Terminating' ? 'terminating' : 'active') as PrecheckInput['namespace'],
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
  });
}
