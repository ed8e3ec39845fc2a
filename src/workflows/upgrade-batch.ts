/**
 * `upgradeNodeBatch`: a child workflow of `upgradeCluster` that upgrades one worker batch (or a
 * part of a large one) side by side and returns each node's result. The node steps' events live in
 * its history, so the parent's history grows by a few events per batch: the parent need not
 * continue-as-new, and a query that reaches its closed run replays a small history, not thousands
 * of events. It has no handlers: pause, resume and cancel stay with the parent, which starts no
 * batch while paused and lets a started one finish. A cancel of the child itself (by hand, from the
 * Web UI or `temporal workflow cancel`) is ignored the same way: its nodes finish. It says so: a
 * warning in the worker's log, a Warning Event on each of its nodes, and a refusal in the parent's
 * progress.
 */
import { CancellationScope, isCancellation, log, patched, workflowInfo } from '@temporalio/workflow';
import type { UpgradeRef } from '../activities/types.js';
import { batchCancelIgnoredMessage } from '../planning/batches.js';
import type { NodeRole } from '../planning/types.js';
import { activityProxies, type NodeResult } from './upgrade-activities.js';
import { upgradeNodes, type NodeLimits } from './node-steps.js';
import { Patch } from './patches.js';

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
  /** When the child was cancelled by hand (ISO); the cancel was ignored. Absent when it was not. */
  cancelIgnoredAt?: string;
}

/** Upgrades the batch's nodes, each cordon → drain → upgrade pod → uncordon; a Temporal cancel never interrupts a started node. */
export async function upgradeNodeBatch(batch: NodeBatch): Promise<NodeBatchResult> {
  const owners: string[] = [];
  const activities = activityProxies(batch.limits);
  const steps = { activities, ref: batch.ref, limits: batch.limits };
  // Older children let a cancel pass unnoticed; their recorded histories have no Event activity for it.
  const ignored = patched(Patch.BatchCancelIgnored) ? reportIgnoredCancel(batch, activities) : undefined;
  const results = await upgradeNodes(steps, batch.nodes, batch.role, owners);
  const cancelIgnoredAt = await ignored?.settled();
  return { results, owners, ...(cancelIgnoredAt ? { cancelIgnoredAt } : {}) };
}

/**
 * Once the child is cancelled: logs that the cancel is ignored and records its Warning Events (in a
 * scope the cancel cannot reach). `settled()` waits for the Events and says when the cancel came.
 */
function reportIgnoredCancel(batch: NodeBatch, activities: ReturnType<typeof activityProxies>): { settled(): Promise<string | undefined> } {
  let at: string | undefined;
  let recorded: Promise<unknown> = Promise.resolve();
  CancellationScope.current().cancelRequested.catch((err: unknown) => {
    if (!isCancellation(err)) return;
    at = new Date().toISOString();
    const { workflowId } = workflowInfo();
    log.warn(`${batchCancelIgnoredMessage(workflowId, batch.ref.upgradeId)} (${batch.nodes.length} node(s))`);
    const args = { ...batch.ref, nodes: batch.nodes, workflowId, at };
    recorded = CancellationScope.nonCancellable(() => activities.within1Minute.recordBatchCancelIgnored(args)).catch(() => undefined);
  });
  return {
    async settled() {
      await recorded;
      return at;
    },
  };
}
