/**
 * The workers' pass of `upgradeCluster` (per hop in a multi-minor upgrade): batches of 1, 2, 4, …
 * up to the cap, each in child workflows (./upgrade-batch.ts), failures quarantined within the
 * failure budget or pausing the upgrade, and the deferred workers waited for as they come back.
 * A safe point comes before every batch and every wait.
 */
import {
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  executeChild,
  isCancellation,
  patched,
  sleep,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { batchCancelIgnoredMessage, nextBatchSize } from '../planning/batches.js';
import type { LastError } from '../planning/types.js';
import { workflowIdFor } from './definitions.js';
import { NODES_PER_RUN, type NodeSteps } from './node-steps.js';
import { Patch } from './patches.js';
import { nowIso, type Exit, type Next } from './safe-point.js';
import { REMOVED, stepError, type NodeResult } from './upgrade-activities.js';
import { upgradeNodeBatch } from './upgrade-batch.js';
import { runGate } from './upgrade-gate.js';
import { prepareGroup } from './upgrade-prepare.js';
import { quarantineWithinBudget } from './upgrade-quarantine.js';
import type { UpgradeRun } from './upgrade-run.js';

/** What the pass needs of the runner around it. */
export interface PassContext {
  run: UpgradeRun;
  /** Most workers in one batch (the request's max percent of all workers). */
  workerCap: number;
  safePoint(nextNodes: () => number): Promise<Next>;
  /** The run as a node step sees it (in a multi-minor upgrade, with the current hop's version as the target). */
  hopRun(): UpgradeRun;
  nodeSteps(): NodeSteps;
  /** Sets the health gate that must pass before the next batch. */
  gateNext(kind: 'masters' | 'workers', nodes: string[], owners: string[]): void;
  pauseForError(err: LastError): void;
}

/** The worker batches, then the deferred workers as they come back; null when the pass is done. */
export async function upgradeWorkers(pass: PassContext): Promise<Exit | null> {
  const { state } = pass.run;
  if (state.phase !== 'workers') return null;
  for (;;) {
    while (state.todoWorkers.length > 0 || state.pendingGate || state.retryQuarantinedRequested || pausedWithNothingLeft(pass.run)) {
      const next = await pass.safePoint(() => state.nextBatchSize);
      if (next !== 'go') return next;
      if (state.pendingGate) await runGate(pass.hopRun());
      // Quarantined cloud workers whose prepare failed, queued again by a resume: prepared before their upgrade.
      else if (state.todoPrepare.length > 0) await prepareGroup(pass.run);
      else if (state.todoWorkers.length > 0) await runBatch(pass);
    }
    if (state.workers.waitingDeferred.length === 0) return null;
    const next = await pass.safePoint(() => 1);
    if (next !== 'go') return next;
    await waitForDeferred(pass.run);
  }
}

/**
 * An error pause with no worker left to start: failures over the budget in the last batch, whose
 * workers stay quarantined rather than queued. It is waited out at the safe point like any other
 * pause (a resume retries them first); older code ended the upgrade `succeeded` here.
 */
function pausedWithNothingLeft(run: UpgradeRun): boolean {
  const { state } = run;
  return state.state === 'paused' && state.progress.pause?.reason === 'error' && patched(Patch.PauseAfterLastBatch);
}

/** One worker batch, in child workflows. */
async function runBatch(pass: PassContext): Promise<void> {
  const { state, publish } = pass.run;
  const nodes = state.workers.takeBatch();
  publish();
  const owners: string[] = [];
  const results = await upgradeInChildren(pass, nodes, owners);
  const errors: LastError[] = [];
  const upgraded: string[] = [];
  for (const [i, node] of nodes.entries()) {
    const result = results[i];
    if (result === REMOVED) state.nodeRemoved(node, 'worker');
    else if (result?.step === 'offline' && pass.run.request.offline === 'defer') {
      state.workers.defer(node, result.at ?? nowIso(), result.message);
    } else if (result) errors.push(result);
    else {
      state.workers.done();
      upgraded.push(node);
    }
  }
  pass.gateNext('workers', upgraded, owners);
  const unbudgeted = await quarantineWithinBudget(pass.hopRun(), errors);
  if (unbudgeted.length > 0) pauseForBatchErrors(pass, unbudgeted);
  else if (state.state === 'paused') state.workers.closeBatch();
  else state.workers.batchFinished(nextBatchSize(state.workers.view.batch?.size ?? 1, pass.workerCap));
  publish();
}

/**
 * Upgrades the batch's workers in child workflows, side by side, each with at most
 * {@link NODES_PER_RUN} nodes so its history stays within the run budget. Like masters, they
 * always finish: a Temporal cancel of this workflow does not reach them, and a child cancelled by
 * hand finishes too (its refusal is recorded here). A child that ended without a result
 * (terminated, say) fails each of its nodes, which pauses the upgrade.
 */
async function upgradeInChildren(pass: PassContext, nodes: string[], owners: string[]): Promise<NodeResult[]> {
  const { ref, limits } = pass.nodeSteps();
  const batch = pass.run.state.workers.view.batch?.number ?? 0;
  const parts: string[][] = [];
  for (let i = 0; i < nodes.length; i += NODES_PER_RUN) parts.push(nodes.slice(i, i + NODES_PER_RUN));
  const done = await CancellationScope.nonCancellable(() =>
    Promise.all(
      parts.map(async (part, i) => {
        const of = parts.length > 1 ? `, part ${i + 1} of ${parts.length}` : '';
        // From the cluster, not this run's workflow ID, so that a replay under another ID (the replay test's) issues the same command.
        const workflowId = `${workflowIdFor(ref.clusterId)}-batch-${batch}-${uuid4().slice(0, 8)}`;
        try {
          const result = await executeChild(upgradeNodeBatch, {
            workflowId,
            args: [{ ref, role: 'worker', nodes: part, limits }],
            staticSummary: `upgrade ${part.length} worker(s) of ${ref.clusterId} to ${ref.targetVersion}: batch ${batch}${of}`,
          });
          if (result.cancelIgnoredAt)
            pass.run.state.refuse('cancel', batchCancelIgnoredMessage(workflowId, ref.upgradeId), result.cancelIgnoredAt);
          return result;
        } catch (err) {
          const why = err instanceof ChildWorkflowFailure && err.cause ? err.cause.message : String(err);
          const message =
            `the batch workflow ${workflowId} ended without a result (${why}); ` +
            'the node may be cordoned or half-upgraded: check it, then resume';
          return { results: part.map((node): LastError => ({ node, step: 'batch', message, at: nowIso() })), owners: [] };
        }
      }),
    ),
  );
  for (const d of done) owners.push(...d.owners);
  return done.flatMap((d) => d.results);
}

/** Pauses for the batch's failed workers, which go first in the queue (in batch order), so a resume retries them first. */
function pauseForBatchErrors(pass: PassContext, errors: LastError[]): void {
  const { state } = pass.run;
  for (const e of [...errors].reverse()) if (!state.quarantined.includes(e.node)) state.workers.failed(e.node);
  const first = errors[0]!;
  const names = errors
    .slice(1)
    .map((e) => e.node)
    .join(', ');
  const others = errors.length > 1 ? ` (${errors.length - 1} more node(s) in this batch failed too: ${names})` : '';
  state.recordError({ ...first, message: first.message + others });
  state.workers.closeBatch();
  pass.pauseForError(first);
}

/**
 * Waits for deferred workers (every other worker is done): deferred nodes past `deferTimeout` are
 * left out; the others are watched until at least one is online again, and those go to the front
 * of the queue. The wait gives way to a pause, a cancel or continue-as-new (the loop comes back).
 */
async function waitForDeferred(run: UpgradeRun): Promise<void> {
  const { state, request, publish } = run;
  const now = Date.now();
  const deadlineOf = (node: string) =>
    Date.parse(state.workers.view.deferred!.find((d) => d.node === node)!.since) + request.deferTimeoutMs;
  const expired = state.workers.waitingDeferred.filter((node) => deadlineOf(node) <= now);
  for (const node of expired) state.workers.deferExpired(node);
  // Older runs left a deferred worker we had cordoned cordoned for good; their histories have no release.
  if (expired.length > 0 && patched(Patch.ReleaseExpiredDeferred)) await releaseExpired(run, expired);
  const waiting = state.workers.waitingDeferred;
  state.workers.setWaiting(waiting.length > 0 ? 'deferred' : null);
  publish();
  if (waiting.length === 0) return;
  const timeoutMs = Math.max(1000, Math.min(DEFER_WAIT_MS, Math.min(...waiting.map(deadlineOf)) - now));
  let back: { online: string[]; removed: string[] } | null;
  try {
    back = await watchDeferred(run, waiting, timeoutMs);
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The watch failed (e.g. a long API outage): look again shortly; deadlines still apply.
    state.recordError(stepError(err, waiting[0]!, 'offline'));
    publish();
    await sleep(DEFER_RETRY_MS);
    return;
  }
  if (!back) return;
  for (const node of back.removed) state.workers.deferredRemoved(node);
  if (back.online.length > 0) state.workers.deferredBack(back.online);
  publish();
}

/**
 * Deferred workers just left out: lifts this upgrade's cordon from each (the worker may have died
 * between its cordon and the node going offline), unless its upgrade pod failed or has not finished.
 * Those stay cordoned, named in their `deferred` entry and in lastError, with a Warning Event.
 */
async function releaseExpired(run: UpgradeRun, nodes: string[]): Promise<void> {
  const { state, activities, ref, publish } = run;
  const summary = `uncordon ${nodes.length} deferred worker(s) left out`;
  try {
    const args = { ...ref, targetVersion: state.hopVersion ?? ref.targetVersion, nodes };
    const done = await activities.untilDone.releaseExpiredDeferred.executeWithOptions({ summary }, [args]);
    for (const k of done.kept) {
      state.workers.deferKept(k.node, k.reason);
      const message = `${k.node} was left out (offline past the defer timeout), but stays cordoned: ${k.reason}; fix it, then uncordon it`;
      state.recordError({ node: k.node, step: 'cleanup', message, at: nowIso() });
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    state.recordError(stepError(err, nodes[0]!, 'cleanup'));
  }
  publish();
}

/**
 * Runs `waitForNodesOnline`, racing a pause, a cancel or continue-as-new (then the activity is
 * cancelled and null returned, so the safe point deals with it). A Temporal cancel propagates.
 */
async function watchDeferred(run: UpgradeRun, nodes: string[], timeoutMs: number): Promise<{ online: string[]; removed: string[] } | null> {
  const { state, activities, ref } = run;
  const scope = new CancellationScope();
  return scope.run(async () => {
    const wait = activities.untilDeferWait.waitForNodesOnline.executeWithOptions(
      { summary: `wait for ${nodes.length} deferred worker(s) to come back` },
      [{ ...ref, nodes, timeoutMs }],
    );
    const stop = condition(() => state.state !== 'running' || state.cancelRequested || workflowInfo().continueAsNewSuggested);
    const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
    const winner = await Promise.race([wait, stop.then(() => null)]);
    scope.cancel();
    await Promise.all([quiet(wait), quiet(stop)]);
    return winner;
  });
}

/** Pause between attempts when watching deferred workers failed, in ms. */
const DEFER_RETRY_MS = 10_000;

/** Longest one wait for deferred workers lasts before the workflow looks again (deadlines, commands), in ms. */
const DEFER_WAIT_MS = 5 * 60_000;
