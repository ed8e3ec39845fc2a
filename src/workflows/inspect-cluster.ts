/**
 * `inspectCluster`: a short workflow the CLI's `precheck` and `plan` use to read a cluster through
 * the worker, which alone holds the cluster's credentials. It touches nothing.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { UpgradeActivities } from '../activities/types.js';
import { ErrorType } from '../planning/errors.js';
import { precheckVerdict } from '../planning/precheck.js';
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

/** Reads the cluster's nodes and, with `runPrecheck`, runs the pre-check for `targetVersion`. */
export async function inspectCluster(args: { clusterId: string; targetVersion: string; runPrecheck: boolean }): Promise<ClusterInspection> {
  const inv = await inventory(args.clusterId);
  if (!args.runPrecheck) return { inventory: inv, precheck: null };
  const items = await precheck({ clusterId: args.clusterId, targetVersion: args.targetVersion, upgradeId: workflowIdFor(args.clusterId) });
  return { inventory: inv, precheck: { status: precheckVerdict(items), items } };
}
