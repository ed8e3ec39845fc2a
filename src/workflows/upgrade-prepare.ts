/**
 * The prepare phase of `upgradeCluster` (the product's "node-preprocess … [Nodes in the cloud]"):
 * after the pre-check and before the masters, each cloud worker (those the worker's
 * `cloudNodeLabel` marks) runs the agent in prepare mode: package repository switched to the target
 * minor, packages downloaded, images pre-pulled, free space checked. Nothing is cordoned, drained,
 * installed or restarted; the cloud workers are upgraded later in the workers phase like any worker.
 *
 * At most {@link PREPARE_CONCURRENCY} nodes are prepared at once, with a safe point (pause, resume,
 * cancel, continue-as-new) between groups. A failed node pauses the upgrade like any node failure
 * (step 'prepare', with the pod's log tail) and is retried first after the resume, which deletes the
 * failed prepare pod. An offline node pauses the upgrade (step 'offline'), or with offline 'defer'
 * is skipped: its own upgrade later follows the offline rules. Without cloud workers the phase is
 * skipped and issues no command, so such upgrades' histories are what they were before.
 */
import { isCancellation, patched } from '@temporalio/workflow';
import type { CancelReason, LastError } from '../planning/types.js';
import { REMOVED, isNodeOffline, isNodeRemoved, offlineError, stepError, type NodeResult } from './upgrade-activities.js';
import { Patch } from './upgrade-plan.js';
import type { UpgradeRun } from './upgrade-run.js';

/**
 * Most cloud nodes prepared at once. Each pulls packages and images from the same mirrors, so not
 * all at once; but a fleet may have a hundred cloud workers, and three at a time took minutes there.
 */
export const PREPARE_CONCURRENCY = 10;

/** What the runner's safe point decided: go on, or end cancelled. */
type Next = 'go' | CancelReason;

/**
 * Runs the prepare phase when it is due (entering it from the pre-check, or still in it after a
 * pause or continue-as-new). Returns 'go' once no cloud node is left to prepare, or what a safe
 * point ended the upgrade with.
 */
export async function preparePhase(run: UpgradeRun, safePoint: (nextNodes: () => number) => Promise<Next>): Promise<Next> {
  const { state, publish } = run;
  if (state.phase === 'precheck') {
    // No cloud workers: no new command. Older histories (before the phase) replay without it.
    if (state.todoPrepare.length === 0 || !patched(Patch.PreparePhase)) return 'go';
    state.setPhase('prepare');
    publish();
  }
  while (state.phase === 'prepare' && state.todoPrepare.length > 0) {
    const next = await safePoint(() => Math.min(PREPARE_CONCURRENCY, state.todoPrepare.length));
    if (next !== 'go') return next;
    await prepareGroup(run);
  }
  return 'go';
}

/** Prepares the next group of cloud nodes; pauses when one failed (after the others finished). */
async function prepareGroup(run: UpgradeRun): Promise<void> {
  const { state, request, publish } = run;
  const nodes = state.takePrepare(PREPARE_CONCURRENCY);
  publish();
  const results = await Promise.all(nodes.map(async (node) => [node, await prepareNode(run, node)] as const));
  const errors: LastError[] = [];
  for (const [node, result] of results) {
    if (result === null) state.prepareEnded(node, 'prepared');
    else if (result === REMOVED) state.prepareEnded(node, { skipped: `${node} was deleted from the cluster` });
    else if (result.step === 'offline' && request.offline === 'defer') state.prepareEnded(node, { skipped: result.message });
    else errors.push(result);
  }
  // Failed nodes go first in the queue, in group order, so a resume retries them first.
  for (const e of [...errors].reverse()) state.prepareEnded(e.node, 'failed');
  if (errors.length > 0) {
    const first = errors[0]!;
    const others =
      errors.length > 1
        ? ` (${errors.length - 1} more cloud node(s) failed too: ${errors
            .slice(1)
            .map((e) => e.node)
            .join(', ')})`
        : '';
    state.recordError({ ...first, message: first.message + others });
    state.pause('error', new Date().toISOString(), `error on ${first.node} (${first.step})`);
  }
  publish();
}

/** Runs one node's prepare pod; null when it is prepared, else why not. */
async function prepareNode(run: UpgradeRun, node: string): Promise<NodeResult> {
  const { activities, request, ref } = run;
  try {
    await activities.untilNodeTimeout.runPreparePod.executeWithOptions({ summary: `prepare ${node} for ${ref.targetVersion}` }, [
      { ...ref, node, role: 'worker', upgradeImage: request.request.upgradeImage, nodeTimeoutMs: request.nodeTimeoutMs },
    ]);
    return null;
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (isNodeRemoved(err)) return REMOVED;
    if (isNodeOffline(err)) return offlineError(err, node);
    return stepError(err, node, 'prepare');
  }
}
