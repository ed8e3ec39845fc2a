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
 * failed prepare pod. Under a failure budget it is quarantined instead, like a failed worker, and
 * its upgrade skipped; a resume or `retryQuarantined` prepares it again before its upgrade. An
 * offline node pauses the upgrade (step 'offline'), or with offline 'defer' is skipped: its own
 * upgrade later follows the offline rules. Without cloud workers the phase is
 * skipped and issues no command, so such upgrades' histories are what they were before.
 */
import { deprecatePatch, isCancellation, patched } from '@temporalio/workflow';
import type { LastError } from '../planning/types.js';
import { REMOVED, isNodeOffline, isNodeRemoved, offlineError, stepError, type NodeResult } from './upgrade-activities.js';
import { Patch } from './patches.js';
import { budgetOf, quarantineWithinBudget } from './upgrade-quarantine.js';
import type { UpgradeRun } from './upgrade-run.js';
import type { Next } from './safe-point.js';

/**
 * Most cloud nodes prepared at once. Each pulls packages and images from the same mirrors, so not
 * all at once; but a fleet may have a hundred cloud workers, and three at a time took minutes there.
 */
export const PREPARE_CONCURRENCY = 10;

/**
 * Runs the prepare phase when it is due (entering it from the pre-check, or still in it after a
 * pause or continue-as-new). Returns 'go' once no cloud node is left to prepare, or what a safe
 * point ended the upgrade with.
 */
export async function preparePhase(run: UpgradeRun, safePoint: (nextNodes: () => number) => Promise<Next>): Promise<Next> {
  const { state, publish } = run;
  if (state.phase === 'precheck') {
    // No cloud workers: no new command, no marker.
    if (state.todoPrepare.length === 0) return 'go';
    deprecatePatch(Patch.PreparePhase);
    state.setPhase('prepare');
    publish();
  }
  while (state.phase === 'prepare' && (state.todoPrepare.length > 0 || pausedOnQuarantined(run))) {
    const next = await safePoint(() => Math.min(PREPARE_CONCURRENCY, state.todoPrepare.length));
    if (next !== 'go') return next;
    if (state.todoPrepare.length > 0) await prepareGroup(run);
  }
  return 'go';
}

/**
 * Paused over the failure budget with every failed node quarantined, none queued: the phase waits
 * for the resume, which queues them to be prepared again (before the masters).
 */
function pausedOnQuarantined(run: UpgradeRun): boolean {
  const { state } = run;
  return state.state === 'paused' && state.progress.pause?.reason === 'error' && state.quarantined.length > 0;
}

/**
 * Prepares the next group of cloud nodes. A failed node pauses the upgrade (after the others
 * finished), unless a failure budget quarantines it: then its upgrade is skipped too, and the
 * upgrade goes on until more workers are quarantined than the budget allows. The runner also calls
 * this in the workers phase, for quarantined cloud workers a resume or `retryQuarantined` queued again.
 */
export async function prepareGroup(run: UpgradeRun): Promise<void> {
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
  const unbudgeted = quarantines(run, errors) ? await quarantineWithinBudget(run, errors) : errors;
  for (const e of errors) if (state.quarantined.includes(e.node)) state.prepareEnded(e.node, 'quarantined');
  // Failed nodes go first in the queue, in group order, so a resume retries them first.
  for (const e of [...unbudgeted].reverse()) if (!state.quarantined.includes(e.node)) state.prepareEnded(e.node, 'failed');
  if (unbudgeted.length > 0) pauseForPrepareErrors(run, unbudgeted);
  publish();
}

/** Whether a failure budget quarantines these failed nodes: with a budget, and a failure other than offline among them. */
function quarantines(run: UpgradeRun, errors: LastError[]): boolean {
  if (budgetOf(run) === 0 || !errors.some((e) => e.step !== 'offline')) return false;
  // Older code paused on every prepare failure: their recorded histories have no quarantineNode here.
  return patched(Patch.PrepareQuarantine);
}

/** Pauses on the first error, naming the other failed nodes. */
function pauseForPrepareErrors(run: UpgradeRun, errors: LastError[]): void {
  const first = errors[0]!;
  const names = errors
    .slice(1)
    .map((e) => e.node)
    .join(', ');
  const others = errors.length > 1 ? ` (${errors.length - 1} more cloud node(s) failed too: ${names})` : '';
  run.state.recordError({ ...first, message: first.message + others });
  run.state.pause('error', new Date().toISOString(), `error on ${first.node} (${first.step})`);
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
