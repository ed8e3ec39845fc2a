/**
 * The Kubernetes implementation of {@link UpgradeActivities}. `createActivities(deps)` injects the
 * cluster registry, so the worker and the tests pass their own (tests point it at the local control
 * plane). One file per concern: inventory/precheck, cordon, drain, upgrade pod, cleanup.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ClusterRegistry } from '../cluster-registry.js';
import type { HealthChecks } from '../config.js';
import { ErrorType, isInvalidUpgradeRequest } from '../planning/errors.js';
import { parseCloudNodeLabel } from '../planning/cloud-nodes.js';
import { unknownGateChecks } from '../planning/health.js';
import { resolveUpgradeImage, type ImagePolicy } from '../planning/images.js';
import { cleanupUpgrade, deleteFailedUpgradePods, releaseExpiredDeferred } from './cleanup.js';
import { cordonNode, uncordonNode } from './cordon.js';
import { drainNode } from './drain.js';
import { recordBatchCancelIgnored } from './events.js';
import { evaluateHealth } from './health.js';
import { inventory, precheck } from './inventory.js';
import { probeNodes } from './node-probes.js';
import type { KubeRequestCounter } from '../kube/requests.js';
import { KubeClients, nodeStepFailed } from './kube.js';
import type { UpgradeActivities } from './types.js';
import { quarantineNode, waitForNodesOnline } from './offline.js';
import { runPreparePod } from './prepare.js';
import { runUpgradePod } from './upgrade-pod.js';

export type { UpgradeActivities } from './types.js';

/** What the activities need: where the clusters are, which agent images each may run, and its extra health checks. */
export interface ActivityDeps {
  clusters: ClusterRegistry;
  /** Image of the node upgrade agent, used unless the request names one; the only image allowed when `images` is not given. */
  upgradeImage?: string;
  /** The image allow-list of a cluster (the worker passes its configuration's, see imagePolicyFor). */
  images?: (clusterId: string) => ImagePolicy;
  /**
   * The extra health-gate checks a request may name for a cluster (the worker passes its
   * configuration's, see healthChecksFor); none when not given.
   */
  healthChecks?: (clusterId: string) => HealthChecks;
  /**
   * The label that marks a cluster's cloud workers (`key=value` or `key`; '' for none), which the
   * prepare phase runs on (the worker passes its configuration's, see cloudNodeLabelFor); default
   * `alibabacloud.com/is-edge-worker=false`.
   */
  cloudNodeLabel?: (clusterId: string) => string;
  /** The versions a multi-minor upgrade of a cluster may hop through (the worker passes its configuration's `versions`). */
  versions?: (clusterId: string) => string[];
  /** Counts every Kubernetes API request the activities send (the worker's Prometheus counter). */
  onKubeRequest?: KubeRequestCounter;
}

/** Builds the activities the worker registers. */
export function createActivities(deps: ActivityDeps): UpgradeActivities {
  const clients = new KubeClients(deps.clusters, deps.onKubeRequest);
  const checksOf = deps.healthChecks ?? (() => ({}));
  const policy = deps.images ?? (() => ({ ...(deps.upgradeImage ? { defaultImage: deps.upgradeImage } : {}), allowed: [] }));
  /** The allowed image for the request; throws `refuse(message)` when it is not allowed. */
  const imageFor = (clusterId: string, requested: string | undefined, refuse: (message: string) => Error): string => {
    try {
      return resolveUpgradeImage(policy(clusterId), requested, clusterId);
    } catch (err) {
      if (isInvalidUpgradeRequest(err)) throw refuse(err.message);
      throw err;
    }
  };
  return {
    inventory: async (clusterId, upgrade) => {
      // An unknown cluster or a broken kubeconfig is reported first, then the image.
      clients.for(clusterId);
      if (upgrade) {
        const refuse = (m: string) => ApplicationFailure.nonRetryable(m, ErrorType.InvalidUpgradeRequest);
        imageFor(clusterId, upgrade.upgradeImage, refuse);
        const unknown = unknownGateChecks(upgrade.gateChecks ?? [], Object.keys(checksOf(clusterId)), clusterId);
        if (unknown) throw refuse(unknown);
      }
      const cloud = parseCloudNodeLabel(deps.cloudNodeLabel?.(clusterId));
      return inventory(clients, clusterId, cloud, deps.versions?.(clusterId) ?? []);
    },
    precheck: (args) => precheck(clients, args),
    probeNodes: (args) => {
      const refuse = (m: string) => ApplicationFailure.nonRetryable(m, ErrorType.InvalidUpgradeRequest);
      return probeNodes(clients, imageFor(args.clusterId, args.upgradeImage, refuse), args);
    },
    cordonNode: (args) => cordonNode(clients, args),
    drainNode: (args) => drainNode(clients, args),
    // Checked again per node: the allow-list may have changed since the upgrade started.
    runUpgradePod: async (args) => {
      const image = imageFor(args.clusterId, args.upgradeImage, (message) =>
        nodeStepFailed({ node: args.node, step: 'upgrade-pod', message }),
      );
      return runUpgradePod(clients, image, { ...args, upgradeImage: image });
    },
    runPreparePod: async (args) => {
      const image = imageFor(args.clusterId, args.upgradeImage, (message) => nodeStepFailed({ node: args.node, step: 'prepare', message }));
      return runPreparePod(clients, { ...args, upgradeImage: image });
    },
    uncordonNode: (args) => uncordonNode(clients, args),
    deleteFailedUpgradePods: (args) => deleteFailedUpgradePods(clients, args),
    cleanupUpgrade: (args) => cleanupUpgrade(clients, args),
    releaseExpiredDeferred: (args) => releaseExpiredDeferred(clients, args),
    waitForNodesOnline: (args) => waitForNodesOnline(clients, args),
    quarantineNode: (args) => quarantineNode(clients, args),
    recordBatchCancelIgnored: (args) => recordBatchCancelIgnored(clients, args),
    evaluateHealth: (args) => evaluateHealth(clients, checksOf(args.clusterId), args),
  };
}
