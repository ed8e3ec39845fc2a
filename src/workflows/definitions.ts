/**
 * Names of the public contract on the Temporal side: task queue, workflow type, signals, queries,
 * updates and search attributes. Scripts and the Web UI depend on these; keep them stable.
 */
import { defineSearchAttributeKey } from '@temporalio/common';

/** Task queue the worker polls. */
export const TASK_QUEUE = 'edge-upgrade';

/** Workflow type name. */
export const WORKFLOW_TYPE = 'upgradeCluster';

/** Workflow ID of a cluster's upgrade: one upgrade per cluster at a time. */
export const workflowIdFor = (clusterId: string): string => `edge-upgrade-${clusterId}`;

export const EdgeClusterId = defineSearchAttributeKey('EdgeClusterId', 'KEYWORD');
export const EdgeUpgradeTarget = defineSearchAttributeKey('EdgeUpgradeTarget', 'KEYWORD');
export const EdgeUpgradePhase = defineSearchAttributeKey('EdgeUpgradePhase', 'KEYWORD');
export const EdgeUpgradeState = defineSearchAttributeKey('EdgeUpgradeState', 'KEYWORD');

/** All four search attributes, for registering them on a namespace or dev server. */
export const searchAttributeDefinitions = [EdgeClusterId, EdgeUpgradeTarget, EdgeUpgradePhase, EdgeUpgradeState];
