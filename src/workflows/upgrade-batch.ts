/**
 * `upgradeNodeBatch`: a child workflow of `upgradeCluster` that upgrades one worker batch (or a
 * part of a large one) side by side and returns each node's result. The node steps' events live in
 * its history, so the parent's history grows by a few events per batch: the parent need not
 * continue-as-new, and a query that reaches its closed run replays a small history, not thousands
 * of events. It has no handlers: pause, resume and cancel stay with the parent, which starts no
 * batch while paused and lets a started one finish.
 */
import type { UpgradeRef } from '../activities/types.js';
import type { NodeRole } from '../planning/types.js';
import { activityProxies, type NodeResult } from './upgrade-activities.js';
import { upgradeNodes, type NodeLimits } from './node-steps.js';

/** The input of one batch child workflow. Like the parent's, it carries no credentials: the worker maps `clusterId` to them. */
export interface NodeBatch {
  /** The parent's upgrade: its workflow ID as `upgradeId`, and the target of the current hop. */
  ref: UpgradeRef;
  role: NodeRole;
  nodes: string[];
  limits: NodeLimits;
}

/** Each node's result in `nodes` order, and the controllers of the pods the drains evicted (for the health gate). */
export interface NodeBatchResult {
  results: NodeResult[];
  owners: string[];
}

/** Upgrades the batch's nodes, each cordon → drain → upgrade pod → uncordon; a Temporal cancel never interrupts a started node. */
export async function upgradeNodeBatch(batch: NodeBatch): Promise<NodeBatchResult> {
  const owners: string[] = [];
  const steps = { activities: activityProxies(batch.limits), ref: batch.ref, limits: batch.limits };
  const results = await upgradeNodes(steps, batch.nodes, batch.role, owners);
  return { results, owners };
}
