/**
 * Names of the public contract on the Temporal side: task queue, workflow type, signals, queries,
 * updates and search attributes. Scripts and the Web UI depend on these; keep them stable.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Progress } from '../planning/types.js';

/** Task queue the worker polls. */
export const TASK_QUEUE = 'edge-upgrade';

/** Workflow type name. */
export const WORKFLOW_TYPE = 'upgradeCluster';

/** Workflow type a Schedule starts; it starts {@link WORKFLOW_TYPE} unless the cluster already has one running. */
export const SCHEDULED_WORKFLOW_TYPE = 'scheduledUpgrade';

/** Workflow type of the read-only inspection behind `precheck` and `plan`. */
export const INSPECT_WORKFLOW_TYPE = 'inspectCluster';

/** Workflow ID of one inspection of a cluster (`at`: ms since the epoch, so inspections never collide). */
export const inspectWorkflowIdFor = (clusterId: string, at: number): string => `edge-upgrade-inspect-${clusterId}-${at}`;

/** Workflow ID of a cluster's upgrade: one upgrade per cluster at a time. */
export const workflowIdFor = (clusterId: string): string => `edge-upgrade-${clusterId}`;

/** Search attribute: the cluster being upgraded. */
export const EdgeClusterId = defineSearchAttributeKey('EdgeClusterId', 'KEYWORD');
/** Search attribute: the target version, e.g. 'v1.34.4'. */
export const EdgeUpgradeTarget = defineSearchAttributeKey('EdgeUpgradeTarget', 'KEYWORD');
/** Search attribute: the current phase ('precheck', 'masters', 'workers', 'done'). */
export const EdgeUpgradePhase = defineSearchAttributeKey('EdgeUpgradePhase', 'KEYWORD');
/** Search attribute: the current state ('running', 'paused', …). */
export const EdgeUpgradeState = defineSearchAttributeKey('EdgeUpgradeState', 'KEYWORD');

/** All four search attributes, for registering them on a namespace or dev server. */
export const searchAttributeDefinitions = [EdgeClusterId, EdgeUpgradeTarget, EdgeUpgradePhase, EdgeUpgradeState];

/** The search attributes an upgrade starts with (phase 'precheck', state 'running'), so it is listed before its first task. */
export function initialSearchAttributes(clusterId: string, targetVersion: string) {
  return [
    { key: EdgeClusterId, value: clusterId },
    { key: EdgeUpgradeTarget, value: targetVersion },
    { key: EdgeUpgradePhase, value: 'precheck' },
    { key: EdgeUpgradeState, value: 'running' },
  ];
}

/**
 * Signal `pause`: pause the upgrade; in-flight nodes finish, no new node starts. Optional reason string.
 * Accepted while waiting for the maintenance window: it becomes a user pause with its own pause timeout.
 */
export const pauseSignal = defineSignal<[reason?: string]>('pause');
/**
 * Signal `resume`: delete failed upgrade pods, then go on, retrying a failed node first. Ignored (and
 * recorded) unless paused, and while waiting for the maintenance window (the upgrade resumes by itself
 * when it opens). Resuming a user pause while the window is closed goes back to waiting for the window.
 */
export const resumeSignal = defineSignal('resume');
/**
 * Signal `cancel`: cancel a paused upgrade (any pause, including waiting for the maintenance window).
 * Ignored unless paused; the refusal is recorded in `progress.refusals`.
 */
export const cancelSignal = defineSignal('cancel');

/** Query `progress`: the {@link Progress} of the public contract. */
export const progressQuery = defineQuery<Progress>('progress');

/**
 * Memo key under which a run publishes its {@link Progress} whenever it changes (and hands it on
 * through continue-as-new), so a client can read it from `describe()` when the `progress` query is
 * slow: a query waits for the workflow task in flight, which can take seconds while a large batch starts.
 */
export const PROGRESS_MEMO = 'progress';

/**
 * Update `pauseUpdate`: like the `pause` signal (reason or null), but rejected with a reason when
 * already paused or finished. Returns progress.
 */
export const pauseUpdate = defineUpdate<Progress, [reason: string | null]>('pauseUpdate');
/**
 * Update `resumeUpdate`: rejected unless paused, and while waiting for the maintenance window;
 * completes once the upgrade runs again (failed pods deleted), or waits for the window again when it
 * is closed (then the returned progress shows pause reason 'window' and `opensAt`). Returns progress.
 */
export const resumeUpdate = defineUpdate<Progress>('resumeUpdate');
/**
 * Update `cancelUpdate`: rejected unless paused; completes when the cancel is accepted (in-flight
 * nodes still finish, then cordons are restored). Returns progress.
 */
export const cancelUpdate = defineUpdate<Progress>('cancelUpdate');
/**
 * Update `retryQuarantined`: while running with quarantined workers (failure budget), delete their
 * failed upgrade pods and retry them first, at the next safe point. Rejected when none is
 * quarantined or the upgrade is paused (a resume retries them anyway). Returns progress.
 */
export const retryQuarantinedUpdate = defineUpdate<Progress>('retryQuarantined');
