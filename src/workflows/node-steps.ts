/**
 * One node's upgrade, cordon → drain → upgrade pod → uncordon, as the runner runs it for a master
 * and as a batch child workflow (./upgrade-batch.ts) runs it for each of its workers.
 */
import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { NodeStepArgs, UpgradeRef } from '../activities/types.js';
import type { NodeRole, NodeStep } from '../planning/types.js';
import {
  REMOVED,
  isNodeOffline,
  isNodeRemoved,
  offlineError,
  stepError,
  type ActivityProxies,
  type NodeResult,
} from './upgrade-activities.js';

/**
 * Events one node's upgrade may add to history in the worst case: four activities of three events
 * each, plus a workflow task (three events) after each completion when nothing else batches them.
 */
export const EVENTS_PER_NODE = 24;

/**
 * Our own ceiling on a run's history, below the server's 10,240-event warning, leaving room for
 * signals, updates, timers and the continue-as-new itself. No node starts if its worst case would cross it.
 */
export const RUN_EVENT_BUDGET = 9_000;

/**
 * Most nodes a fresh run (of `upgradeCluster`, or a batch child) can have in flight within
 * {@link RUN_EVENT_BUDGET} (a fresh run starts with a few dozen events).
 */
export const NODES_PER_RUN = Math.floor((RUN_EVENT_BUDGET - 100) / EVENTS_PER_NODE);

/** What a node's steps need of the request: its time limits and agent image. */
export interface NodeLimits {
  drainTimeoutMs: number;
  nodeTimeoutMs: number;
  upgradeImage?: string;
}

/** Where the node steps run: the activity proxies and the upgrade (whose target is the current hop's version). */
export interface NodeSteps {
  activities: ActivityProxies;
  ref: UpgradeRef;
  limits: NodeLimits;
}

/**
 * Upgrades the nodes side by side. A node's result is null on success, {@link REMOVED} when the
 * node was deleted from the cluster, or the error to record. A started node always finishes: a
 * Temporal cancel does not interrupt it (it would leave the node half-upgraded, and cleanup would
 * then make it schedulable). `owners` collects the controllers of the pods the drains evicted.
 *
 * One scope for all the nodes, not one each: the SDK records a stack trace for every promise a
 * workflow makes, so each promise saved is workflow-thread time saved, and replay time too.
 */
export function upgradeNodes(steps: NodeSteps, nodes: string[], role: NodeRole, owners: string[]): Promise<NodeResult[]> {
  return CancellationScope.nonCancellable(() => Promise.all(nodes.map((node) => upgradeNode(steps, node, role, owners))));
}

async function upgradeNode({ activities, ref, limits }: NodeSteps, node: string, role: NodeRole, owners: string[]): Promise<NodeResult> {
  const args: NodeStepArgs = { ...ref, node, role };
  let step: NodeStep = 'cordon';
  try {
    try {
      await activities.within1Minute.cordonNode.executeWithOptions({ summary: `cordon ${node}` }, [args]);
    } catch (err) {
      if (isNodeOffline(err)) return offlineError(err, node);
      throw err;
    }
    step = 'drain';
    try {
      const drained = await activities.untilDrainTimeout.drainNode.executeWithOptions({ summary: `drain ${node}` }, [
        { ...args, drainTimeoutMs: limits.drainTimeoutMs },
      ]);
      owners.push(...(drained.owners ?? []));
    } catch (err) {
      return await drainFailed(activities, err, args);
    }
    step = 'upgrade-pod';
    try {
      await activities.untilNodeTimeout.runUpgradePod.executeWithOptions({ summary: `upgrade pod on ${node} (${role})` }, [
        { ...args, upgradeImage: limits.upgradeImage, nodeTimeoutMs: limits.nodeTimeoutMs },
      ]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (isNodeRemoved(err)) return REMOVED;
      const e = stepError(err, node, step);
      const next = 'the node is left cordoned and may be half-upgraded; fix it and delete the failed pod in kube-upgrade, then resume';
      return { ...e, message: `${e.message} — ${next}` };
    }
    step = 'uncordon';
    await activities.within1Minute.uncordonNode.executeWithOptions({ summary: `uncordon ${node}` }, [args]);
    return null;
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (isNodeRemoved(err)) return REMOVED;
    return stepError(err, node, step);
  }
}

/** A failed drain changed nothing on the node: uncordon it again, and say whether that worked. */
async function drainFailed(activities: ActivityProxies, err: unknown, args: NodeStepArgs): Promise<NodeResult> {
  if (isCancellation(err)) throw err;
  if (isNodeRemoved(err)) return REMOVED;
  const e = stepError(err, args.node, 'drain');
  let undo = 'the node was uncordoned; nothing was changed on it';
  try {
    await activities.within1Minute.uncordonNode.executeWithOptions({ summary: `uncordon ${args.node} (drain failed)` }, [args]);
  } catch (uncordonErr) {
    if (isCancellation(uncordonErr)) throw uncordonErr;
    undo = `uncordoning it failed too (${stepError(uncordonErr, args.node, 'uncordon').message}); it stays cordoned`;
  }
  return { ...e, message: `${e.message} — ${undo}` };
}
