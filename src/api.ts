/**
 * Client-side API of the upgrade workflow, used by the CLI and the integration tests: start an
 * upgrade, read its progress, and pause, resume or cancel it through Updates (so a caller gets a
 * result or a clear one-line refusal).
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { UpgradeAlreadyRunningError, UpgradeCommandError } from './planning/errors.js';
import { validateUpgradeRequest } from './planning/request.js';
import type { Progress, UpgradeRequest } from './planning/types.js';
import {
  TASK_QUEUE,
  WORKFLOW_TYPE,
  cancelUpdate,
  initialSearchAttributes,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
  retryQuarantinedUpdate,
  workflowIdFor,
} from './workflows/definitions.js';
import type { upgradeCluster } from './workflows/upgrade-cluster.js';

export { validateUpgradeRequest } from './planning/request.js';
export { UpgradeAlreadyRunningError, UpgradeCommandError } from './planning/errors.js';

/** Options of {@link startUpgrade}. */
export interface StartUpgradeOptions {
  /** Task queue; defaults to the contract's `edge-upgrade`. */
  taskQueue?: string;
}

/** Handle of a running upgrade. */
export type UpgradeHandle = WorkflowHandle<typeof upgradeCluster>;

/**
 * Starts the upgrade of `request.clusterId`. Validates the request first (throws
 * InvalidUpgradeRequestError without contacting the server), and refuses with
 * {@link UpgradeAlreadyRunningError}, naming the running workflow ID, when the cluster already has one.
 */
export async function startUpgrade(
  client: Client,
  request: UpgradeRequest,
  opts: StartUpgradeOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof upgradeCluster>> {
  const v = validateUpgradeRequest(request);
  const workflowId = workflowIdFor(request.clusterId);
  try {
    return await client.workflow.start<typeof upgradeCluster>(WORKFLOW_TYPE, {
      taskQueue: opts.taskQueue ?? TASK_QUEUE,
      workflowId,
      args: [request],
      // FAIL: never replace or join a running upgrade of the same cluster; the caller must decide.
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: initialSearchAttributes(request.clusterId, v.targetVersion),
      staticSummary: `Upgrade cluster ${request.clusterId} to ${v.targetVersion}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new UpgradeAlreadyRunningError(request.clusterId, workflowId);
    throw err;
  }
}

/** The handle of a cluster's upgrade (its latest run, so it follows continue-as-new). */
export function upgradeHandle(client: Client, clusterId: string): UpgradeHandle {
  return client.workflow.getHandle<typeof upgradeCluster>(workflowIdFor(clusterId));
}

/** The `progress` of a cluster's upgrade. Throws {@link UpgradeCommandError} when there is none. */
export async function getProgress(client: Client, clusterId: string): Promise<Progress> {
  const handle = upgradeHandle(client, clusterId);
  try {
    return await handle.query(progressQuery);
  } catch (err) {
    throw commandError('status', handle.workflowId, clusterId, err);
  }
}

/** Pauses the upgrade; in-flight nodes finish. Returns progress, or throws a one-line {@link UpgradeCommandError} when refused. */
export async function pauseUpgrade(client: Client, clusterId: string, reason?: string): Promise<Progress> {
  const handle = upgradeHandle(client, clusterId);
  try {
    return await handle.executeUpdate(pauseUpdate, { args: [reason ?? null] });
  } catch (err) {
    throw await closedOr(handle, commandError('pause', handle.workflowId, clusterId, err));
  }
}

/** Resumes a paused upgrade; returns once it runs again. Throws a one-line {@link UpgradeCommandError} when refused. */
export async function resumeUpgrade(client: Client, clusterId: string): Promise<Progress> {
  const handle = upgradeHandle(client, clusterId);
  try {
    return await handle.executeUpdate(resumeUpdate);
  } catch (err) {
    throw await closedOr(handle, commandError('resume', handle.workflowId, clusterId, err));
  }
}

/**
 * Retries the quarantined workers (failure budget) of a running upgrade: their failed pods are
 * deleted and they go first. Returns once they are queued again. Throws a one-line {@link UpgradeCommandError} when refused.
 */
export async function retryQuarantined(client: Client, clusterId: string): Promise<Progress> {
  const handle = upgradeHandle(client, clusterId);
  try {
    return await handle.executeUpdate(retryQuarantinedUpdate);
  } catch (err) {
    throw await closedOr(handle, commandError('retry-quarantined', handle.workflowId, clusterId, err));
  }
}

/** Cancels a paused upgrade (in-flight nodes finish, cordons are restored). Throws a one-line {@link UpgradeCommandError} when refused. */
export async function cancelUpgrade(client: Client, clusterId: string): Promise<Progress> {
  const handle = upgradeHandle(client, clusterId);
  try {
    return await handle.executeUpdate(cancelUpdate);
  } catch (err) {
    throw await closedOr(handle, commandError('cancel', handle.workflowId, clusterId, err));
  }
}

/**
 * An Update sent to a finished upgrade fails as "not found" (only running workflows take Updates):
 * say that it has finished, and how, when the workflow can be described.
 */
async function closedOr(handle: UpgradeHandle, err: UpgradeCommandError): Promise<UpgradeCommandError> {
  if (!/no upgrade of cluster/.test(err.message)) return err;
  try {
    const { status } = await handle.describe();
    if (status.name === 'RUNNING') return err;
    const how = status.name.toLowerCase().replace('_', ' ');
    const message = `${err.command} refused: the upgrade has already finished (${how}; workflow ${handle.workflowId})`;
    return new UpgradeCommandError(err.command, handle.workflowId, message);
  } catch {
    return err;
  }
}

function commandError(command: string, workflowId: string, clusterId: string, err: unknown): UpgradeCommandError {
  if (err instanceof WorkflowUpdateFailedError) {
    // The validator's message, e.g. "cancel refused: cancel is accepted only while the upgrade is paused; pause it first".
    return new UpgradeCommandError(command, workflowId, err.cause?.message ?? err.message);
  }
  if (err instanceof WorkflowNotFoundError) {
    return new UpgradeCommandError(
      command,
      workflowId,
      `${command} refused: no upgrade of cluster ${clusterId} found (workflow ${workflowId})`,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/already completed|completed|closed/i.test(message)) {
    return new UpgradeCommandError(
      command,
      workflowId,
      `${command} refused: the upgrade of cluster ${clusterId} has already finished (workflow ${workflowId})`,
    );
  }
  return new UpgradeCommandError(command, workflowId, `${command} failed for workflow ${workflowId}: ${message.split('\n')[0]}`);
}
