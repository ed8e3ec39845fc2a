/**
 * The runner of `upgradeCluster`: masters one at a time, then worker batches, with a safe point
 * between nodes and batches where pauses, the maintenance window, resume, cancel and continue-as-new
 * are handled. Nodes in flight always finish; a Temporal cancel is honoured at the next safe point.
 */
import {
  ActivityFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowFailure,
  allHandlersFinished,
  condition,
  deprecatePatch,
  executeChild,
  isCancellation,
  makeContinueAsNewFunc,
  patched,
  sleep,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { batchCancelIgnoredMessage, maxBatchSize, nextBatchSize } from '../planning/batches.js';
import type { CancelReason, LastError } from '../planning/types.js';
import { isoSeconds, nextOpen } from '../planning/window.js';
import { REMOVED, stepError, type NodeResult } from './upgrade-activities.js';
import { upgradeNodeBatch } from './upgrade-batch.js';
import { EVENTS_PER_NODE, NODES_PER_RUN, RUN_EVENT_BUDGET, upgradeNodes, type NodeLimits, type NodeSteps } from './node-steps.js';
import type { upgradeCluster } from './upgrade-cluster.js';
import { PROGRESS_MEMO, workflowIdFor } from './definitions.js';
import { runGate } from './upgrade-gate.js';
import { Patch } from './patches.js';
import { prepareGroup, preparePhase } from './upgrade-prepare.js';
import { quarantineWithinBudget } from './upgrade-quarantine.js';
import type { UpgradeRun } from './upgrade-run.js';

/** How the upgrade ended: all nodes done, or cancelled (by the user, or by the pause timeout). */
export type Outcome = 'done' | CancelReason;

/** What a safe point decided: go on with the next node(s), or end cancelled. */
type Next = 'go' | CancelReason;

/** Drives masters and workers; returns how the upgrade ended (or continues-as-new). */
export class Runner {
  private readonly workerCap: number;

  constructor(private readonly run: UpgradeRun) {
    this.workerCap = maxBatchSize(run.state.progress.workers.total, run.request.maxBatchPercent);
  }

  async upgrade(): Promise<Outcome> {
    const { state, publish } = this.run;
    const prepared = await preparePhase(this.run, (nextNodes) => this.safePoint(nextNodes));
    if (prepared !== 'go') return prepared;
    if (state.phase === 'precheck' || state.phase === 'prepare') {
      state.setPhase('masters');
      publish();
    }
    // One pass for a single-minor upgrade; a multi-minor one hops: masters (and, when planned, workers) per hop.
    for (;;) {
      const ended = (await this.upgradeMasters()) ?? (await this.upgradeWorkers());
      if (ended) return ended;
      if (!state.hasNextHop) break;
      if (state.leftBehind.length > 0) {
        const next = await this.holdForLeftBehind();
        if (next !== 'go') return next;
        continue;
      }
      state.nextHop();
      publish();
    }
    // A cancel accepted while the last nodes were in flight still cancels; so does a Temporal cancel.
    throwIfCancelledThroughTemporal();
    return state.cancelRequested ? 'user' : 'done';
  }

  /**
   * A worker pass left workers behind that the next hop would leave more than three minors behind
   * the API server: pauses naming them, and after a resume retries them (then the hop goes on).
   */
  private async holdForLeftBehind(): Promise<Next> {
    const { state, publish } = this.run;
    const behind = state.leftBehind;
    const names = behind.slice(0, 10).join(', ') + (behind.length > 10 ? ` and ${behind.length - 10} more` : '');
    const message =
      `${behind.length} worker(s) are not at ${state.hopVersion} (quarantined, or offline past the defer timeout): ${names}; ` +
      'the control plane cannot take its next hop without leaving them more than three minors behind. Fix them and resume ' +
      '(they are retried first), or cancel';
    state.recordError({ node: behind[0]!, step: 'version-skew', message, at: nowIso() });
    this.pauseForError(state.progress.lastError!);
    publish();
    const next = await this.safePoint(() => 1);
    if (next === 'go') {
      state.requeueLeftBehind();
      publish();
    }
    return next;
  }

  /** The masters one at a time, each followed by its health gate; then on to the workers (unless this hop has none). */
  private async upgradeMasters(): Promise<CancelReason | null> {
    const { state, publish } = this.run;
    while (state.phase === 'masters' && (state.todoMasters.length > 0 || state.pendingGate)) {
      const next = await this.safePoint(() => 1);
      if (next !== 'go') return next;
      if (state.pendingGate) await runGate(this.hopRun());
      else await this.upgradeMaster();
    }
    if (state.phase === 'masters' && state.hopHasWorkers) {
      state.setPhase('workers');
      publish();
    }
    return null;
  }

  /** The worker batches, then the deferred workers as they come back. */
  private async upgradeWorkers(): Promise<CancelReason | null> {
    const { state } = this.run;
    if (state.phase !== 'workers') return null;
    for (;;) {
      while (state.todoWorkers.length > 0 || state.pendingGate || state.retryQuarantinedRequested || this.pausedWithNothingLeft()) {
        const next = await this.safePoint(() => state.nextBatchSize);
        if (next !== 'go') return next;
        if (state.pendingGate) await runGate(this.hopRun());
        // Quarantined cloud workers whose prepare failed, queued again by a resume: prepared before their upgrade.
        else if (state.todoPrepare.length > 0) await prepareGroup(this.run);
        else if (state.todoWorkers.length > 0) await this.runBatch();
      }
      if (state.waitingDeferred.length === 0) return null;
      const next = await this.safePoint(() => 1);
      if (next !== 'go') return next;
      await waitForDeferred(this.run);
    }
  }

  /**
   * An error pause with no worker left to start: failures over the budget in the last batch, whose
   * workers stay quarantined rather than queued. It is waited out at the safe point like any other
   * pause (a resume retries them first); older code ended the upgrade `succeeded` here.
   */
  private pausedWithNothingLeft(): boolean {
    const { state } = this.run;
    return state.state === 'paused' && state.progress.pause?.reason === 'error' && patched(Patch.PauseAfterLastBatch);
  }

  /** The run as a node step sees it: in a multi-minor upgrade, the target is the current hop's version. */
  private hopRun(): UpgradeRun {
    const version = this.run.state.hopVersion;
    return version ? { ...this.run, ref: { ...this.run.ref, targetVersion: version } } : this.run;
  }

  /** The next master, alone. */
  private async upgradeMaster(): Promise<void> {
    const { state, publish } = this.run;
    const master = state.todoMasters[0]!;
    state.startMaster(master);
    publish();
    const owners: string[] = [];
    const [result] = await upgradeNodes(this.nodeSteps(), [master.name], master.role, owners);
    if (result === REMOVED) {
      state.nodeRemoved(master.name, 'master');
    } else if (result) {
      state.recordError(result);
      this.pauseForError(result);
    } else {
      state.masterDone();
      this.gateNext('masters', [master.name], owners);
    }
    publish();
  }

  /** Sets the health gate that must pass before the next node starts, when the request has one. */
  private gateNext(kind: 'masters' | 'workers', nodes: string[], owners: string[]): void {
    if (nodes.length === 0 || this.run.request.gate.stableForMs === 0) return;
    deprecatePatch(Patch.HealthGate);
    this.run.state.setPendingGate({ kind, nodes, owners: [...new Set(owners)] });
  }

  /** Auto-pause after a node failed (called once nothing is in flight). A resume still pending is dropped and fails with the error. */
  private pauseForError(err: LastError): void {
    this.run.state.pause('error', new Date().toISOString(), `error on ${err.node} (${err.step})`);
  }

  /** The activities and the current hop's upgrade, as one node's steps need them. */
  private nodeSteps(): NodeSteps {
    const { activities, request } = this.run;
    return { activities, ref: this.hopRun().ref, limits: nodeLimits(request) };
  }

  /** One worker batch, in child workflows (./upgrade-batch.ts). */
  private async runBatch(): Promise<void> {
    const { state, publish } = this.run;
    const nodes = state.takeBatch();
    // Runs of code before the support window (src/workflows/patches.ts) upgraded workers in their own history.
    deprecatePatch(Patch.BatchChildren);
    publish();
    const owners: string[] = [];
    const results = await this.upgradeInChildren(nodes, owners);
    const errors: LastError[] = [];
    const upgraded: string[] = [];
    for (const [i, node] of nodes.entries()) {
      const result = results[i];
      if (result === REMOVED) state.nodeRemoved(node, 'worker');
      else if (result?.step === 'offline' && this.run.request.offline === 'defer') state.defer(node, result.at ?? nowIso(), result.message);
      else if (result) errors.push(result);
      else {
        state.workerDone();
        upgraded.push(node);
      }
    }
    this.gateNext('workers', upgraded, owners);
    const unbudgeted = await quarantineWithinBudget(this.hopRun(), errors);
    if (unbudgeted.length > 0) this.pauseForBatchErrors(unbudgeted);
    else if (state.state === 'paused') state.closeBatch();
    else state.batchFinished(nextBatchSize(state.progress.workers.batch?.size ?? 1, this.workerCap));
    publish();
  }

  /**
   * Upgrades the batch's workers in child workflows, side by side, each with at most
   * {@link NODES_PER_RUN} nodes so its history stays within the run budget. Like nodes upgraded
   * here, they always finish: a Temporal cancel of this workflow does not reach them, and a child
   * cancelled by hand finishes too (its refusal is recorded here). A child that ended without a
   * result (terminated, say) fails each of its nodes, which pauses the upgrade.
   */
  private async upgradeInChildren(nodes: string[], owners: string[]): Promise<NodeResult[]> {
    const { ref, limits } = this.nodeSteps();
    const batch = this.run.state.progress.workers.batch?.number ?? 0;
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
              this.run.state.refuse('cancel', batchCancelIgnoredMessage(workflowId, ref.upgradeId), result.cancelIgnoredAt);
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
  private pauseForBatchErrors(errors: LastError[]): void {
    const { state } = this.run;
    for (const e of [...errors].reverse()) if (!state.quarantined.includes(e.node)) state.workerFailed(e.node);
    const first = errors[0]!;
    const names = errors
      .slice(1)
      .map((e) => e.node)
      .join(', ');
    const others = errors.length > 1 ? ` (${errors.length - 1} more node(s) in this batch failed too: ${names})` : '';
    state.recordError({ ...first, message: first.message + others });
    state.closeBatch();
    this.pauseForError(first);
  }

  /**
   * Between nodes and batches, with nothing in flight: goes on when running (continuing-as-new
   * first when history asks for it, or when the next `nextNodes()` nodes would not fit in this run
   * but would in a fresh one); otherwise waits for the window, carries out a resume, or waits out
   * a pause, until one of them lets it go on or the upgrade is cancelled.
   */
  private async safePoint(nextNodes: () => number): Promise<Next> {
    const { state } = this.run;
    for (;;) {
      throwIfCancelledThroughTemporal();
      if (state.state === 'running') {
        if (this.pauseIfWindowClosed()) continue;
        if (state.retryQuarantinedRequested) await this.retryQuarantined();
        await this.continueAsNewIfDue(nextNodes());
        return 'go';
      }
      if (state.cancelRequested) return 'user';
      if (state.waitingForWindow) await this.waitForWindow();
      else if (state.resumeRequested) await this.carryOutResume();
      else if ((await this.waitOutPause()) === 'pause-timeout') return 'pause-timeout';
    }
  }

  /** Outside the request's maintenance window: pauses with reason 'window' (no auto-cancel). Returns whether it did. */
  private pauseIfWindowClosed(): boolean {
    const opensAt = this.windowClosedUntil();
    if (opensAt === null) return false;
    this.run.state.windowPause(new Date().toISOString(), opensAt);
    this.run.publish();
    return true;
  }

  /**
   * Waits on a durable timer until the window opens, racing cancel and a user pause (which
   * replaces the window pause); then runs again, or waits for the next opening.
   */
  private async waitForWindow(): Promise<void> {
    const { state, publish } = this.run;
    const left = Date.parse(state.progress.pause!.opensAt!) - Date.now();
    const woke = () => state.cancelRequested || !state.waitingForWindow || workflowInfo().continueAsNewSuggested;
    if (left <= 0 || !(await condition(woke, left))) {
      const again = this.windowClosedUntil();
      if (again === null) state.windowOpened();
      else state.windowPause(new Date().toISOString(), again);
      publish();
      return;
    }
    if (!state.cancelRequested && state.waitingForWindow) await this.continueAsNewIfDue(0);
  }

  /** Deletes the failed upgrade pods (the seed requires it before a resume), then runs again, unless a pause came meanwhile. */
  private async carryOutResume(): Promise<void> {
    const { state, publish } = this.run;
    const problem = await this.deleteFailedPods();
    if (problem) {
      state.resumeFailed(`${problem}; still paused, resume again`, nowIso());
    } else if (state.resumeRequested) {
      // A pause that arrived meanwhile wins: it dropped the resume, and the upgrade stays paused.
      state.resumed();
      state.requeueQuarantined();
    }
    publish();
  }

  /** Carries out a `retryQuarantined` Update: deletes the failed upgrade pods, then queues the quarantined workers first. */
  private async retryQuarantined(): Promise<void> {
    const { state, publish } = this.run;
    const problem = await this.deleteFailedPods();
    if (problem) {
      state.refuse('retryQuarantined', `${problem}; try again`, nowIso());
      state.dropRetryQuarantined();
    } else {
      state.requeueQuarantined();
      state.closeBatch();
    }
    publish();
  }

  /** Deletes this upgrade's failed upgrade pods; returns why it could not, or null. */
  private async deleteFailedPods(): Promise<string | null> {
    const { ref, activities } = this.run;
    try {
      await activities.within5Minutes.deleteFailedUpgradePods.executeWithOptions(
        { summary: `delete failed upgrade pods of ${ref.clusterId}` },
        [ref],
      );
      return null;
    } catch (err) {
      if (isCancellation(err)) throw err;
      const why = err instanceof ActivityFailure && err.cause ? err.cause.message : String(err);
      return `could not delete the failed upgrade pods in kube-upgrade (${why})`;
    }
  }

  /** The durable timer of the pause timeout racing resume and cancel: it survives worker and server restarts. */
  private async waitOutPause(): Promise<'pause-timeout' | 'woke'> {
    const { state } = this.run;
    const autoCancelAt = state.progress.pause?.autoCancelAt;
    const woke = () => state.resumeRequested || state.cancelRequested || workflowInfo().continueAsNewSuggested;
    if (autoCancelAt == null) {
      await condition(woke);
    } else {
      const left = Date.parse(autoCancelAt) - Date.now();
      if (left <= 0 || !(await condition(woke, left))) return 'pause-timeout';
    }
    if (!state.resumeRequested && !state.cancelRequested) await this.continueAsNewIfDue(0);
    return 'woke';
  }

  /** When the maintenance window next opens (ISO, whole seconds), or null when there is none or it is open now. */
  private windowClosedUntil(): string | null {
    const w = this.run.request.request.window;
    if (!w) return null;
    const now = new Date();
    const at = nextOpen(now, w);
    // A window that never opens cannot pass validation; treat it as no window rather than pausing forever.
    if (at === null || at.getTime() <= now.getTime()) return null;
    return isoSeconds(at);
  }

  private async continueAsNewIfDue(nextNodes: number): Promise<void> {
    const info = workflowInfo();
    // A batch in child workflows adds a few events per child here (a master fewer than a node's worst case).
    deprecatePatch(Patch.BatchChildren);
    const needed = Math.ceil(Math.max(nextNodes, 1) / NODES_PER_RUN) * EVENTS_PER_NODE;
    if (!info.continueAsNewSuggested && info.historyLength + needed <= RUN_EVENT_BUDGET) return;
    // Let update handlers (e.g. a resume waiting for `running`) finish so callers get their answer.
    await condition(allHandlersFinished);
    const snapshot = this.run.state.snapshot();
    // The new run starts with the progress memo, so it is there before the new run's first task completes.
    deprecatePatch(Patch.ProgressMemo);
    await makeContinueAsNewFunc<typeof upgradeCluster>({ memo: { [PROGRESS_MEMO]: snapshot.progress } })(this.run.input, snapshot);
  }
}

/** What a node's steps need of the request. */
function nodeLimits(request: UpgradeRun['request']): NodeLimits {
  const { drainTimeoutMs, nodeTimeoutMs } = request;
  return { drainTimeoutMs, nodeTimeoutMs, ...(request.request.upgradeImage ? { upgradeImage: request.request.upgradeImage } : {}) };
}

/** Now, as an ISO string. */
function nowIso(): string {
  return new Date().toISOString();
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
    Date.parse(state.progress.workers.deferred!.find((d) => d.node === node)!.since) + request.deferTimeoutMs;
  const expired = state.waitingDeferred.filter((node) => deadlineOf(node) <= now);
  for (const node of expired) state.deferExpired(node);
  // Older runs left a deferred worker we had cordoned cordoned for good; their histories have no release.
  if (expired.length > 0 && patched(Patch.ReleaseExpiredDeferred)) await releaseExpired(run, expired);
  const waiting = state.waitingDeferred;
  state.setWaiting(waiting.length > 0 ? 'deferred' : null);
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
  for (const node of back.removed) state.deferredRemoved(node);
  if (back.online.length > 0) state.deferredBack(back.online);
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
      state.deferKept(k.node, k.reason);
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

/**
 * Throws when the workflow was cancelled through Temporal. Checked wherever a new node could
 * start, since node upgrades run in non-cancellable scopes and would otherwise go on.
 */
function throwIfCancelledThroughTemporal(): void {
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('the upgrade was cancelled through Temporal');
}
