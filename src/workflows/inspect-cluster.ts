/**
 * `inspectCluster`: a short workflow the CLI's `precheck` and `plan` use to read a cluster through
 * the worker, which alone holds the cluster's credentials. It touches nothing.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { UpgradeActivities } from '../activities/types.js';
import { ErrorType } from '../planning/errors.js';
import { needsHops, planHops } from '../planning/hops.js';
import { precheckVerdict } from '../planning/precheck.js';
import { parseVersion } from '../planning/versions.js';
import type { ClusterInventory, PrecheckReport } from '../planning/types.js';
import { workflowIdFor } from './definitions.js';

const { inventory, precheck } = proxyActivities<UpgradeActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: [ErrorType.UnknownCluster, ErrorType.InvalidUpgradeRequest] },
});

/** What `inspectCluster` returns. */
export interface ClusterInspection {
  inventory: ClusterInventory;
  precheck: PrecheckReport | null;
}

/**
 * Reads the cluster's nodes and, with `runPrecheck`, runs the pre-check for `targetVersion`; for a
 * multi-minor target through the hops `via` and the worker's `versions` allow (when they cannot
 * plan the path, the pre-check's version item says why).
 */
export async function inspectCluster(args: {
  clusterId: string;
  targetVersion: string;
  runPrecheck: boolean;
  via?: string[];
}): Promise<ClusterInspection> {
  const inv = await inventory(args.clusterId);
  if (!args.runPrecheck) return { inventory: inv, precheck: null };
  const ref = { clusterId: args.clusterId, targetVersion: args.targetVersion, upgradeId: workflowIdFor(args.clusterId) };
  const items = await precheck({ ...ref, ...hopsFor(inv, args.targetVersion, args.via) });
  return { inventory: inv, precheck: { status: precheckVerdict(items), items } };
}

/** `{ hops }` when the target needs hops and they can be planned; else nothing. */
function hopsFor(inv: ClusterInspection['inventory'], targetVersion: string, via: string[] | undefined): { hops?: string[] } {
  try {
    if (!needsHops(parseVersion(targetVersion), parseVersion(inv.controlPlaneVersion, 'controlPlaneVersion'))) return {};
    const steps = planHops({
      controlPlane: inv.controlPlaneVersion,
      target: targetVersion,
      nodes: inv.nodes,
      via,
      configured: inv.versions,
    });
    return { hops: steps.map((h) => h.version) };
  } catch {
    return {};
  }
}
