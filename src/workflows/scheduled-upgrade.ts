/**
 * `scheduledUpgrade`: what a Temporal Schedule starts for a maintenance trigger. Schedules add a
 * timestamp to the workflow IDs they start, so this workflow starts the real upgrade as a child
 * with the contract's ID `edge-upgrade-<clusterId>` (abandoned, so it outlives this one). If the
 * cluster already has an upgrade running, it records that and starts nothing.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, startChild } from '@temporalio/workflow';
import type { UpgradeRequest } from '../planning/types.js';
import { initialSearchAttributes, workflowIdFor } from './definitions.js';
import { upgradeCluster } from './upgrade-cluster.js';

/** The result of one scheduled trigger. */
export interface ScheduledUpgradeResult {
  started: boolean;
  workflowId: string;
  message: string;
}

/** Starts `request`'s upgrade unless one is already running for the cluster. */
export async function scheduledUpgrade(request: UpgradeRequest): Promise<ScheduledUpgradeResult> {
  const workflowId = workflowIdFor(request.clusterId);
  try {
    await startChild(upgradeCluster, {
      workflowId,
      args: [request],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: initialSearchAttributes(request.clusterId, request.targetVersion),
    });
    return { started: true, workflowId, message: `started ${workflowId}` };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return { started: false, workflowId, message: `skipped: ${workflowId} is already running` };
    }
    throw err;
  }
}
