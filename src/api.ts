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
  EdgeClusterId,
  EdgeUpgradePhase,
  EdgeUpgradeState,
  EdgeUpgradeTarget,
  cancelUpdate,
  initialSearchAttributes,
  pauseUpdate,
  progressQuery,
  PROGRESS_MEMO,
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

/**
 * How a cluster's upgrade workflow closed when it closed without reaching a final state of its own
 * ('terminated', 'timed out'), or null while it runs. A run that ended completed, failed or cancelled
 * answers its own final state to the progress query; the handle follows continue-as-new to the latest run.
 */
export async function upgradeClosedAs(client: Client, clusterId: string): Promise<string | null> {
  const status = (await upgradeHandle(client, clusterId).describe()).status.name;
  return status === 'RUNNING' || status === 'CONTINUED_AS_NEW' ? null : status.toLowerCase().replace(/_/g, ' ');
}

/** Options of {@link getProgress}. */
export interface GetProgressOptions {
  /**
   * How long to wait for the `progress` query before answering with the progress the run last
   * published in its memo, in ms; without it, the query is always awaited.
   */
  patienceMs?: number;
}

/**
 * How long `status` waits for the `progress` query before showing the run's published progress, in
 * ms: with the describe() that follows, it answers within about a second.
 */
export const STATUS_PATIENCE_MS = 700;

/** A progress reading: from the query, or from the run's memo when the query was slow. */
export interface ProgressReading {
  progress: Progress;
  source: 'query' | 'memo';
  /** The query itself (settles later than `progress` when the memo answered). */
  query: Promise<Progress>;
}

/**
 * The `progress` of a cluster's upgrade. Throws {@link UpgradeCommandError} when there is none.
 * With `patienceMs`, a query that has not answered by then gives way to the progress the run last
 * published (memo {@link PROGRESS_MEMO}: the same object, as of its last change).
 */
export async function getProgress(client: Client, clusterId: string, opts: GetProgressOptions = {}): Promise<Progress> {
  return (await readProgress(client, clusterId, opts)).progress;
}

/** {@link getProgress}, saying where the answer came from. */
export async function readProgress(client: Client, clusterId: string, opts: GetProgressOptions = {}): Promise<ProgressReading> {
  const handle = upgradeHandle(client, clusterId);
  const query = handle.query(progressQuery).catch((err: unknown) => {
    throw commandError('status', handle.workflowId, clusterId, err);
  });
  if (opts.patienceMs === undefined) return { progress: await query, source: 'query', query };
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<'slow'>((resolve) => (timer = setTimeout(() => resolve('slow'), opts.patienceMs)));
  const first = await Promise.race([query, slow]).finally(() => clearTimeout(timer));
  if (first !== 'slow') return { progress: first, source: 'query', query };
  query.catch(() => undefined); // settles later; the caller may still await it
  const published = await publishedProgress(handle);
  return published ? { progress: published, source: 'memo', query } : { progress: await query, source: 'query', query };
}

/** The progress a running upgrade last published in its memo, or undefined (finished, older run, unreadable). */
async function publishedProgress(handle: UpgradeHandle): Promise<Progress | undefined> {
  try {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') return undefined;
    const p = d.memo?.[PROGRESS_MEMO] as Progress | undefined;
    return p && typeof p === 'object' && typeof p.state === 'string' ? p : undefined;
  } catch {
    return undefined;
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

/** One upgrade as `edge-upgrade list` shows it: from the search attributes, and the memo's pause. */
export interface UpgradeListing {
  clusterId: string;
  targetVersion: string;
  phase: string;
  /** The upgrade's state; for a workflow that closed without one (terminated, timed out), how it closed. */
  state: string;
  startedAt: string;
  /** When the current pause began (null unless paused). */
  pausedSince: string | null;
  workflowId: string;
}

/** The upgrade states `listUpgrades` can filter on. */
export const LISTABLE_STATES = ['running', 'paused', 'succeeded', 'cancelled', 'failed'] as const;

/**
 * Every upgrade the namespace's visibility knows of (the current run of each, not the runs it
 * continued from), newest first; with `state`, only those in it.
 */
export async function listUpgrades(client: Client, opts: { state?: (typeof LISTABLE_STATES)[number] } = {}): Promise<UpgradeListing[]> {
  let query = `WorkflowType = '${WORKFLOW_TYPE}' AND ExecutionStatus != 'ContinuedAsNew'`;
  if (opts.state) query += ` AND ${EdgeUpgradeState.name} = '${opts.state}'`;
  // A workflow terminated while running or paused keeps that state in its search attributes: it is neither now.
  if (opts.state === 'running' || opts.state === 'paused') query += ` AND ExecutionStatus = 'Running'`;
  const found: UpgradeListing[] = [];
  for await (const w of client.workflow.list({ query })) {
    const sa = w.typedSearchAttributes;
    const progress = w.memo?.[PROGRESS_MEMO] as Partial<Progress> | undefined;
    const state = sa.get(EdgeUpgradeState) ?? '';
    const closedWithout = w.status.name !== 'RUNNING' && (state === 'running' || state === 'paused');
    found.push({
      clusterId: sa.get(EdgeClusterId) ?? '',
      targetVersion: sa.get(EdgeUpgradeTarget) ?? '',
      phase: sa.get(EdgeUpgradePhase) ?? '',
      state: closedWithout ? w.status.name.toLowerCase().replace(/_/g, ' ') : state,
      startedAt: w.startTime.toISOString(),
      pausedSince: !closedWithout && state === 'paused' ? (progress?.pause?.since ?? null) : null,
      workflowId: w.workflowId,
    });
  }
  return found.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
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
