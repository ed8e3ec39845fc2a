/**
 * The activity proxies of `upgradeCluster`, named by their time limits, and how their failures
 * become `lastError`. Retries are bounded everywhere but in cleanup, which never gives up.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { NodeStepFailureDetails, UpgradeActivities, UpgradeRef } from '../activities/types.js';
import { ErrorType, nonRetryableActivityErrors } from '../planning/errors.js';
import { CORDONED_BY_ANNOTATION } from '../planning/labels.js';
import type { ValidatedRequest } from '../planning/request.js';
import type { LastError, NodeStep } from '../planning/types.js';

const MINUTE = 60_000;

/**
 * How long a long-running activity may go without a heartbeat before Temporal retries it elsewhere
 * (ms). The worker heartbeats for an activity that waits (src/activities/kube.ts, keepHeartbeating,
 * every 2.5 s), so this is how long a dead worker holds a node's step. Activity options issue the
 * same commands: recorded histories replay whatever it is.
 */
const HEARTBEAT_TIMEOUT = 10_000;

/** The proxies of one run. */
export type ActivityProxies = ReturnType<typeof activityProxies>;

/** Activity proxies with timeouts derived from the request (ms); a batch child workflow has only the two node limits. */
export function activityProxies(request: Pick<ValidatedRequest, 'drainTimeoutMs' | 'nodeTimeoutMs'>) {
  const retry: ActivityOptions['retry'] = {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: nonRetryableActivityErrors,
  };
  const longRetry = { ...retry, maximumAttempts: 3 };
  return {
    /** Inventory, pre-check, deleting failed pods: reads and a few writes. */
    within5Minutes: proxyActivities<UpgradeActivities>({ startToCloseTimeout: 5 * MINUTE, retry }),
    /** Cordon and uncordon, a read and a patch: a worker that dies during one is replaced within a minute. */
    within1Minute: proxyActivities<UpgradeActivities>({ startToCloseTimeout: MINUTE, retry }),
    // The long activities heartbeat at least every few seconds; a worker that dies mid-node is noticed
    // after HEARTBEAT_TIMEOUT and the node's step retries on another worker, finding its own pod.
    /** The drain, bounded by the request's drainTimeout. */
    untilDrainTimeout: proxyActivities<UpgradeActivities>({
      startToCloseTimeout: request.drainTimeoutMs + 2 * MINUTE,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: longRetry,
    }),
    /** The upgrade pod, bounded by the request's nodeTimeout. */
    untilNodeTimeout: proxyActivities<UpgradeActivities>({
      startToCloseTimeout: request.nodeTimeoutMs + 5 * MINUTE,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: longRetry,
    }),
    /** Waiting for deferred workers to come back: a watch, bounded by the wait's own timeout (at most a few minutes). */
    untilDeferWait: proxyActivities<UpgradeActivities>({
      startToCloseTimeout: 7 * MINUTE,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry,
    }),
    /** Cleanup never gives up: unbounded attempts, at most 10 s apart, heartbeating per node. */
    untilDone: proxyActivities<UpgradeActivities>({
      startToCloseTimeout: 10 * MINUTE,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: {
        ...retry,
        maximumAttempts: Number.POSITIVE_INFINITY,
        maximumInterval: '10s',
        nonRetryableErrorTypes: [ErrorType.UnknownCluster],
      },
    }),
  };
}

/**
 * Restores the cordons this upgrade made; with `deleteRecords` also deletes its pods and Events
 * (pause-timeout). It never gives up on a transient fault (unbounded retries with capped backoff);
 * returns the error to record when it cannot succeed at all (e.g. the cluster was removed from the
 * worker's configuration), so the final state is set whatever happens, or when it kept nodes
 * cordoned because they may be half-upgraded (their upgrade pod failed or had not finished).
 */
export async function cleanUp(
  activities: ActivityProxies,
  ref: UpgradeRef,
  deleteRecords: boolean,
  versions: string[] = [],
): Promise<LastError | null> {
  const summary = deleteRecords ? `clean up ${ref.clusterId}: uncordon, delete upgrade records` : `clean up ${ref.clusterId}: uncordon`;
  try {
    const args = { ...ref, deleteRecords, ...(versions.length > 0 ? { versions } : {}) };
    const done = await activities.untilDone.cleanupUpgrade.executeWithOptions({ summary }, [args]);
    // Older cleanups (recorded histories) returned no `kept`.
    const kept = done.kept ?? [];
    if (kept.length === 0) return null;
    const which = kept.map((k) => `${k.node} (${k.reason})`).join('; ');
    const message = `${kept.length} node(s) left cordoned because they may be half-upgraded: ${which}; fix them, then uncordon them`;
    return { node: kept[0]!.node, step: 'cleanup', message, at: new Date().toISOString() };
  } catch (err) {
    const e = stepError(err, '', 'cleanup');
    const left = `nodes this upgrade cordoned may still be cordoned (annotation ${CORDONED_BY_ANNOTATION}=${ref.upgradeId})`;
    return { ...e, message: `cleanup could not finish: ${e.message}; ${left}` };
  }
}

/** A node step's result when the node was deleted from the cluster mid-upgrade. */
export const REMOVED = 'removed';

/** What one node's upgrade came to: null on success, {@link REMOVED}, or the error to record. */
export type NodeResult = LastError | typeof REMOVED | null;

/** True for an activity failure saying the node is gone from the cluster ('NodeRemoved'). */
export function isNodeRemoved(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type === ErrorType.NodeRemoved;
}

/** True for an activity failure saying the node was offline when its turn came ('NodeOffline'): nothing was changed on it. */
export function isNodeOffline(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type === ErrorType.NodeOffline;
}

/** The {@link LastError} (step 'offline') of a node found offline when its turn came. */
export function offlineError(err: unknown, node: string): LastError {
  const cause = (err instanceof ActivityFailure ? err.cause : err) as ApplicationFailure;
  return { node, step: 'offline', message: cause.message, at: new Date().toISOString() };
}

/** The {@link LastError} for an activity failure: from 'NodeStepFailed' details when present, else from the failure chain. */
export function stepError(err: unknown, node: string, step: NodeStep): LastError {
  const at = new Date().toISOString();
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type === ErrorType.NodeStepFailed) {
    const d = cause.details?.[0] as NodeStepFailureDetails | undefined;
    if (d && typeof d === 'object') {
      return {
        node: d.node || node,
        step: d.step || step,
        message: d.message || cause.message,
        ...(d.logTail ? { logTail: d.logTail } : {}),
        at,
      };
    }
  }
  let message: string;
  if (cause instanceof TimeoutFailure) message = `${step} timed out: ${cause.message || 'activity timeout'}`;
  else if (cause instanceof Error) message = cause.message || String(cause);
  else message = String(cause);
  return { node, step, message, at };
}
