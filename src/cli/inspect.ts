/** Reads a cluster through the worker (which alone holds its credentials) for `precheck` and `plan`. */
import { WorkflowFailedError } from '@temporalio/client';
import { INSPECT_WORKFLOW_TYPE, TASK_QUEUE, inspectWorkflowIdFor } from '../workflows/definitions.js';
import type { ClusterInspection, InspectArgs, inspectCluster } from '../workflows/inspect-cluster.js';
import type { CliContext } from './context.js';

/**
 * Runs the read-only `inspectCluster` workflow: the inventory and, with `runPrecheck`, the pre-check.
 * A failure is reported with the activity's own message (an unknown cluster, a broken kubeconfig).
 */
export async function inspect(
  ctx: CliContext,
  clusterId: string,
  targetVersion: string,
  runPrecheck: boolean,
  via?: string[],
  nodeProbes?: InspectArgs['nodeProbes'],
  drainTimeoutMs?: number,
): Promise<ClusterInspection> {
  const client = await ctx.client();
  try {
    return await client.workflow.execute<typeof inspectCluster>(INSPECT_WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUE,
      workflowId: inspectWorkflowIdFor(clusterId, Date.now()),
      args: [
        {
          clusterId,
          targetVersion,
          runPrecheck,
          ...(via?.length ? { via } : {}),
          ...(nodeProbes ? { nodeProbes } : {}),
          ...(drainTimeoutMs !== undefined ? { drainTimeoutMs } : {}),
        },
      ],
      // The node probes of a large cluster take their time (nodes ÷ concurrency × timeout at worst).
      workflowExecutionTimeout: nodeProbes ? '2 hours' : '5 minutes',
    });
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    // The activity's own message, not "Workflow execution failed".
    let cause: unknown = err;
    while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
    throw new Error(`cannot read cluster ${clusterId}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
