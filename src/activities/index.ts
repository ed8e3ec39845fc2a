/**
 * The Kubernetes implementation of {@link UpgradeActivities}. `createActivities(deps)` injects the
 * cluster registry, so the worker and the tests pass their own (tests point it at the local control
 * plane). One file per concern: inventory/precheck, cordon, drain, upgrade pod, cleanup.
 */
import type { ClusterRegistry } from '../config.js';
import { cleanupUpgrade, deleteFailedUpgradePods } from './cleanup.js';
import { cordonNode, uncordonNode } from './cordon.js';
import { drainNode } from './drain.js';
import { inventory, precheck } from './inventory.js';
import { KubeClients } from './kube.js';
import type { UpgradeActivities } from './types.js';
import { runUpgradePod } from './upgrade-pod.js';

export type { UpgradeActivities } from './types.js';

/** What the activities need: where the clusters are, and the default agent image. */
export interface ActivityDeps {
  clusters: ClusterRegistry;
  /** Image of the node upgrade agent, used unless the request names one. */
  upgradeImage: string;
}

/** Builds the activities the worker registers. */
export function createActivities(deps: ActivityDeps): UpgradeActivities {
  const clients = new KubeClients(deps.clusters);
  return {
    inventory: (clusterId) => inventory(clients, clusterId),
    precheck: (args) => precheck(clients, args),
    cordonNode: (args) => cordonNode(clients, args),
    drainNode: (args) => drainNode(clients, args),
    runUpgradePod: (args) => runUpgradePod(clients, deps.upgradeImage, args),
    uncordonNode: (args) => uncordonNode(clients, args),
    deleteFailedUpgradePods: (args) => deleteFailedUpgradePods(clients, args),
    cleanupUpgrade: (args) => cleanupUpgrade(clients, args),
  };
}
