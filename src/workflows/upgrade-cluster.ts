/**
 * The `upgradeCluster` workflow: precheck → masters (one at a time) → workers (batches of 1, 2, 4, …)
 * → done, with pause, resume and cancel, auto-pause on error, a durable pause timeout, and
 * continue-as-new so no run's history grows past Temporal's limits. All I/O is in activities.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ContinueAsNew,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { NodeStepArgs, NodeStepFailureDetails, UpgradeActivities, UpgradeRef } from '../activities/types.js';
import { maxBatchSize, nextBatchSize } from '../planning/batches.js';
import { ErrorType, isInvalidUpgradeRequest, nonRetryableActivityErrors } from '../planning/errors.js';
import { planNodes } from '../planning/plan.js';
import { precheckBlocker, precheckVerdict } from '../planning/precheck.js';
import { validateUpgradeRequest, type ValidatedRequest } from '../planning/request.js';
import { summarize } from '../planning/summary.js';
import { isoSeconds, nextOpen } from '../planning/window.js';
import { DEFAULT_PAUSE_TIMEOUT, parseDuration } from '../planning/durations.js';
import { CORDONED_BY_ANNOTATION } from '../planning/labels.js';
import type { CancelReason, ClusterInventory, LastError, NodeRole, NodeStep, Progress, UpgradeRequest } from '../planning/types.js';
import { checkNoNodeDowngrade, checkTargetVersion, checkVersionSkew, parseVersion } from '../planning/versions.js';
import {
  EdgeClusterId,
  EdgeUpgradePhase,
  EdgeUpgradeState,
  EdgeUpgradeTarget,
  cancelSignal,
  cancelUpdate,
  pauseSignal,
  pauseUpdate,
  progressQuery,
  resumeSignal,
  resumeUpdate,
} from './definitions.js';
import { UpgradeState, type Command, type UpgradeSnapshot } from './upgrade-state.js';

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

/** Most nodes a fresh run can have in flight within {@link RUN_EVENT_BUDGET} (a fresh run starts with a few dozen events). */
const FRESH_RUN_NODES = Math.floor((RUN_EVENT_BUDGET - 100) / EVENTS_PER_NODE);

const MINUTE = 60_000;

/**
 * Patch IDs for `patched()`: each guards a change that would make a recorded history of older code
 * take a different path (a new command, or a command no longer issued). Keep them until no upgrade
 * started before the change can still be running, then remove the check with `deprecatePatch()`.
 */
const Patch = {
  /** checkVersionSkew: a managed control plane's kubelets may not pass kube-apiserver; no kubelet over three minors behind. */
  VersionSkew: 'version-skew-check',
} as const;

/** How long a long-running activity may go without a heartbeat before Temporal retries it elsewhere (ms). */
const HEARTBEAT_TIMEOUT = 30_000;

/**
 * Upgrades the cluster in `request`. `carried` is set only by continue-as-new. Returns the final
 * progress when the upgrade succeeded or was cancelled; fails with 'InvalidUpgradeRequest' or
 * 'PrecheckFailed' before any node is touched.
 */
export async function upgradeCluster(request: UpgradeRequest, carried?: UpgradeSnapshot): Promise<Progress> {
  const s = new UpgradeState(carried ?? UpgradeState.initial(String(request?.clusterId ?? ''), String(request?.targetVersion ?? '')));
  const now = () => new Date().toISOString();
  let published: { phase: string; state: string } | null = null;

  /** Upserts the search attributes when phase or state changed, and refreshes the one-line summary. */
  const publish = () => {
    const p = s.progress;
    if (!published || published.phase !== p.phase || published.state !== p.state) {
      upsertSearchAttributes([
        { key: EdgeClusterId, value: p.clusterId },
        { key: EdgeUpgradeTarget, value: p.targetVersion },
        { key: EdgeUpgradePhase, value: p.phase },
        { key: EdgeUpgradeState, value: p.state },
      ]);
      published = { phase: p.phase, state: p.state };
    }
    setCurrentDetails(summarize(p));
  };

  // Validate before any handler is set: signals and Updates that reached the run before its first
  // workflow task (sent while no worker polled, or right after continue-as-new) are delivered as
  // soon as their handler is set, and a pause needs the pause timeout then.
  let v: ValidatedRequest | undefined;
  let invalidInput: unknown;
  try {
    v = validateUpgradeRequest(request);
  } catch (err) {
    invalidInput = err;
  }
  s.setPauseTimeout(v?.pauseTimeoutMs ?? parseDuration('pauseTimeout', undefined, DEFAULT_PAUSE_TIMEOUT));
  registerHandlers(s, now, publish);
  publish();
  if (!v) throw invalid(s, publish, invalidInput);

  const ref: UpgradeRef = { clusterId: v.request.clusterId, targetVersion: v.targetVersion, upgradeId: workflowInfo().workflowId };
  const acts = activities(v);
  /** Cancels: cleanup first (it never gives up, and a Temporal cancel cannot interrupt it), then the final state. */
  const cancelUpgrade = async (reason: CancelReason) => {
    s.beginCancel(reason);
    publish();
    const problem = await CancellationScope.nonCancellable(() => cleanup(acts, ref, reason === 'pause-timeout'));
    if (problem) s.recordError(problem);
    s.cancelled(reason);
    publish();
  };

  try {
    if (!s.planned) {
      await planUpgrade(s, v, ref, acts, publish);
      if (s.state === 'failed') {
        throw ApplicationFailure.nonRetryable(s.progress.failure ?? 'pre-check failed', ErrorType.PrecheckFailed);
      }
    }
    const runner = new Runner(s, v, ref, acts, publish, request);
    const outcome = await runner.run();
    if (outcome === 'done') {
      s.succeeded();
      publish();
    } else {
      // Nothing is rolled back: only cordons this upgrade made are restored (and, on timeout, its records deleted).
      await cancelUpgrade(outcome);
    }
    // Let a waiting resume Update see the final state before the workflow closes.
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    return s.progress;
  } catch (err) {
    if (isCancellation(err) && !s.finished) {
      // Cancelled through Temporal (Web UI, `temporal workflow cancel`): nodes in flight have
      // finished (they run in non-cancellable scopes); now restore cordons, then close as cancelled.
      await cancelUpgrade('user');
    } else if (!(err instanceof ContinueAsNew) && !s.finished) {
      s.failed(err instanceof Error ? err.message : String(err));
      publish();
    }
    throw err;
  }
}

/**
 * Sets the query, signal and Update handlers. Signals and Updates share one rule book,
 * `UpgradeState.refusal()`: a refused signal is recorded in progress, a refused Update is rejected
 * by its (synchronous) validator and never reaches history.
 */
function registerHandlers(s: UpgradeState, now: () => string, publish: () => void): void {
  const pauseNow = (reason?: string) => {
    s.pause('user', now(), reason);
    publish();
  };
  const refusedSignal = (command: Command): boolean => {
    const reason = s.refusal(command);
    if (reason) s.refuse(command, reason, now());
    return reason !== null;
  };
  const check = (command: Command): void => {
    const reason = s.refusal(command);
    if (reason) throw new Error(`${command} refused: ${reason}`);
  };
  setHandler(progressQuery, () => s.progress);
  setHandler(pauseSignal, (reason?: string) => {
    if (!refusedSignal('pause')) pauseNow(reason);
  });
  setHandler(resumeSignal, () => {
    if (!refusedSignal('resume')) s.requestResume();
  });
  setHandler(cancelSignal, () => {
    if (!refusedSignal('cancel')) s.requestCancel();
  });
  setHandler(
    pauseUpdate,
    (reason: string | null) => {
      pauseNow(reason ?? undefined);
      return s.progress;
    },
    { validator: (_reason: string | null) => check('pause') },
  );
  setHandler(
    resumeUpdate,
    async () => {
      s.requestResume();
      await condition(() => s.state !== 'paused' || !s.resumeRequested);
      // Running again, finished by it, or (resumed while the maintenance window is closed) waiting for the window.
      if (s.state === 'running' || s.state === 'succeeded' || s.waitingForWindow) return s.progress;
      const why = s.state === 'paused' ? (s.progress.refusals?.findLast((r) => r.command === 'resume')?.reason ?? 'the resume was not carried out') : `the upgrade was ${s.state} before the resume took effect`;
      throw ApplicationFailure.create({ message: `resume failed: ${why}`, nonRetryable: true });
    },
    { validator: () => check('resume') },
  );
  setHandler(
    cancelUpdate,
    () => {
      s.requestCancel();
      return s.progress;
    },
    { validator: () => check('cancel') },
  );
}

type Activities = ReturnType<typeof activities>;

/** Activity proxies with bounded retries and timeouts derived from the request (ms). */
function activities(v: ValidatedRequest) {
  const retry: ActivityOptions['retry'] = {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: nonRetryableActivityErrors,
  };
  const longRetry = { ...retry, maximumAttempts: 3 };
  return {
    // Cleanup never gives up: unbounded attempts, at most 10 s apart, heartbeating per node.
    cleanup: proxyActivities<UpgradeActivities>({
      startToCloseTimeout: 10 * MINUTE,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: { ...retry, maximumAttempts: Number.POSITIVE_INFINITY, maximumInterval: '10s', nonRetryableErrorTypes: [ErrorType.UnknownCluster] },
    }),
    short: proxyActivities<UpgradeActivities>({ startToCloseTimeout: 5 * MINUTE, retry }),
    // Cordon and uncordon are a read and a patch: a worker that dies during one is replaced within a minute.
    quick: proxyActivities<UpgradeActivities>({ startToCloseTimeout: MINUTE, retry }),
    // The long activities heartbeat every second or so; a worker that dies mid-node is noticed
    // after HEARTBEAT_TIMEOUT and the node's step retries on another worker, finding its own pod.
    drain: proxyActivities<UpgradeActivities>({
      startToCloseTimeout: v.drainTimeoutMs + 2 * MINUTE,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: longRetry,
    }),
    pod: proxyActivities<UpgradeActivities>({
      startToCloseTimeout: v.nodeTimeoutMs + 5 * MINUTE,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: longRetry,
    }),
  };
}

/**
 * Restores the cordons this upgrade made; with `deleteRecords` also deletes its pods and Events
 * (pause-timeout). It never gives up on a transient fault (unbounded retries with capped backoff);
 * returns the error to record when it cannot succeed at all (e.g. the cluster was removed from the
 * worker's configuration), so the final state is set whatever happens.
 */
async function cleanup(acts: Activities, ref: UpgradeRef, deleteRecords: boolean): Promise<LastError | null> {
  const summary = deleteRecords ? `clean up ${ref.clusterId}: uncordon, delete upgrade records` : `clean up ${ref.clusterId}: uncordon`;
  try {
    await acts.cleanup.cleanupUpgrade.executeWithOptions({ summary }, [{ ...ref, deleteRecords }]);
    return null;
  } catch (err) {
    const e = stepError(err, '', 'cleanup');
    return { ...e, message: `cleanup could not finish: ${e.message}; nodes this upgrade cordoned may still be cordoned (annotation ${CORDONED_BY_ANNOTATION}=${ref.upgradeId})` };
  }
}

/** Marks the upgrade failed for invalid input and returns the non-retryable failure to throw. */
function invalid(s: UpgradeState, publish: () => void, err: unknown): ApplicationFailure {
  const message = err instanceof Error ? err.message : String(err);
  s.failed(message);
  publish();
  return ApplicationFailure.nonRetryable(message, ErrorType.InvalidUpgradeRequest);
}

/** Inventory, version rules and the pre-check; fixes the node order and roles. Runs once per upgrade, not per run. */
async function planUpgrade(s: UpgradeState, v: ValidatedRequest, ref: UpgradeRef, acts: Activities, publish: () => void): Promise<void> {
  let inv: ClusterInventory;
  try {
    inv = await acts.short.inventory.executeWithOptions({ summary: `inventory ${ref.clusterId}` }, [ref.clusterId, { upgradeImage: v.request.upgradeImage }]);
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && (err.cause.type === ErrorType.UnknownCluster || err.cause.type === ErrorType.InvalidUpgradeRequest)) {
      throw invalid(s, publish, new Error(err.cause.message || `unknown cluster '${ref.clusterId}'`));
    }
    throw err;
  }
  const target = parseVersion(v.targetVersion);
  try {
    const controlPlane = parseVersion(inv.controlPlaneVersion, 'controlPlaneVersion');
    checkTargetVersion(target, controlPlane);
    checkNoNodeDowngrade(inv.nodes, target);
    // Added after upgrades had started with the older code: those replay without it (see README, "Changing workflow code").
    if (patched(Patch.VersionSkew)) checkVersionSkew(target, controlPlane, inv.nodes);
  } catch (err) {
    if (isInvalidUpgradeRequest(err)) throw invalid(s, publish, err);
    throw err;
  }

  // Order, serials and roles (who runs `kubeadm upgrade apply`) come from the plan `edge-upgrade plan` previews.
  const plan = planNodes(inv, target);
  s.plan(plan.masters, plan.workers);
  publish();

  const items = await acts.short.precheck.executeWithOptions({ summary: `precheck ${ref.clusterId} → ${ref.targetVersion}` }, [ref]);
  const report = { status: precheckVerdict(items), items };
  s.setPrecheck(report);
  const blocker = precheckBlocker(report, v.request.acceptWarnings ?? false);
  if (blocker) s.failed(blocker);
  publish();
}

type Outcome = 'done' | CancelReason;

/** Drives masters and workers; returns how the upgrade ended (or continues-as-new). */
class Runner {
  private readonly workerCap: number;

  constructor(
    private readonly s: UpgradeState,
    private readonly v: ValidatedRequest,
    private readonly ref: UpgradeRef,
    private readonly acts: Activities,
    private readonly publish: () => void,
    private readonly request: UpgradeRequest,
  ) {
    this.workerCap = maxBatchSize(s.progress.workers.total, v.maxBatchPercent);
  }

  async run(): Promise<Outcome> {
    const s = this.s;
    if (s.phase === 'precheck') {
      s.setPhase('masters');
      this.publish();
    }
    while (s.phase === 'masters' && s.todoMasters.length > 0) {
      const go = await this.safePoint(() => 1);
      if (go !== 'go') return go;
      const m = s.todoMasters[0]!;
      s.startMaster(m);
      this.publish();
      const err = await this.upgradeNode(m.name, m.role);
      if (err === REMOVED) {
        s.nodeRemoved(m.name, 'master');
      } else if (err) {
        s.recordError(err);
        this.pauseForError(err);
      } else {
        s.masterDone();
      }
      this.publish();
    }
    if (s.phase === 'masters') {
      s.setPhase('workers');
      this.publish();
    }
    while (s.todoWorkers.length > 0) {
      const go = await this.safePoint(() => (s.openBatchRemaining > 0 ? s.openBatchRemaining : s.nextBatchSize));
      if (go !== 'go') return go;
      await this.runBatch();
    }
    // A cancel accepted while the last nodes were in flight still cancels; so does a Temporal cancel.
    throwIfCancelledThroughTemporal();
    return s.cancelRequested ? 'user' : 'done';
  }

  /** Auto-pause after a node failed (called once nothing is in flight). A resume still pending is dropped and fails with the error. */
  private pauseForError(err: LastError): void {
    this.s.pause('error', new Date().toISOString(), `error on ${err.node} (${err.step})`);
  }

  /** One worker batch (or the part of it this run's history budget allows). */
  private async runBatch(): Promise<void> {
    const s = this.s;
    const nodes = s.takeBatch();
    const room = Math.max(1, Math.floor((RUN_EVENT_BUDGET - workflowInfo().historyLength) / EVENTS_PER_NODE));
    const now = nodes.slice(0, room);
    s.putBack(nodes.slice(room));
    this.publish();
    const results = await Promise.all(now.map(async (n) => [n, await this.upgradeNode(n, 'worker')] as const));
    const errors: LastError[] = [];
    for (const [n, result] of results) {
      if (result === REMOVED) s.nodeRemoved(n, 'worker');
      else if (result) errors.push(result);
      else s.workerDone();
    }
    if (errors.length > 0) {
      // Failed nodes go first in the queue, in batch order, so a resume retries them first.
      for (const e of [...errors].reverse()) s.workerFailed(e.node);
      const first = errors[0]!;
      const others = errors.length > 1 ? ` (${errors.length - 1} more node(s) in this batch failed too: ${errors.slice(1).map((e) => e.node).join(', ')})` : '';
      s.recordError({ ...first, message: first.message + others });
      s.closeBatch();
      this.pauseForError(first);
    } else if (s.state === 'paused') {
      s.closeBatch();
    } else if (s.openBatchRemaining === 0) {
      s.batchFinished(nextBatchSize(s.progress.workers.batch?.size ?? 1, this.workerCap));
    }
    this.publish();
  }

  /**
   * Between nodes and batches, with nothing in flight: waits out a pause (resume, cancel or the
   * pause timeout, whichever comes first) and continues-as-new when history asks for it or the
   * next `nextNodes()` nodes would not fit in this run but would in a fresh one.
   *
   * Outside the request's maintenance window it pauses with reason 'window' and waits on a durable
   * timer until the window opens (no auto-cancel), then goes on by itself. A user pause replaces a
   * window pause; when the user resumes and the window is still closed, it waits for the window again.
   */
  private async safePoint(nextNodes: () => number): Promise<'go' | CancelReason> {
    const s = this.s;
    for (;;) {
      throwIfCancelledThroughTemporal();
      if (s.state === 'running') {
        const opensAt = this.windowClosedUntil();
        if (opensAt !== null) {
          s.windowPause(new Date().toISOString(), opensAt);
          this.publish();
          continue;
        }
        await this.continueAsNewIfDue(nextNodes());
        return 'go';
      }
      if (s.cancelRequested) return 'user';
      if (s.waitingForWindow) {
        const left = Date.parse(s.progress.pause!.opensAt!) - Date.now();
        const woke = () => s.cancelRequested || !s.waitingForWindow || workflowInfo().continueAsNewSuggested;
        // A durable timer racing cancel and a user pause: it survives worker and server restarts.
        if (left <= 0 || !(await condition(woke, left))) {
          const again = this.windowClosedUntil();
          if (again === null) s.windowOpened();
          else s.windowPause(new Date().toISOString(), again);
          this.publish();
          continue;
        }
        if (!s.cancelRequested && s.waitingForWindow) await this.continueAsNewIfDue(0);
        continue;
      }
      if (s.resumeRequested) {
        try {
          await this.acts.short.deleteFailedUpgradePods.executeWithOptions({ summary: `delete failed upgrade pods of ${this.ref.clusterId}` }, [this.ref]);
          // A pause that arrived meanwhile wins: it dropped the resume, and the upgrade stays paused.
          if (s.resumeRequested) s.resumed();
        } catch (err) {
          if (isCancellation(err)) throw err;
          // The seed requires the failed pods gone before a resume: stay paused and say why.
          const why = err instanceof ActivityFailure && err.cause ? err.cause.message : String(err);
          s.resumeFailed(`could not delete the failed upgrade pods in kube-upgrade (${why}); still paused, resume again`, new Date().toISOString());
        }
        this.publish();
        continue;
      }
      const autoCancelAt = s.progress.pause?.autoCancelAt;
      const woke = () => s.resumeRequested || s.cancelRequested || workflowInfo().continueAsNewSuggested;
      if (autoCancelAt == null) {
        await condition(woke);
      } else {
        const left = Date.parse(autoCancelAt) - Date.now();
        // The durable timer racing resume and cancel: it survives worker and server restarts.
        if (left <= 0 || !(await condition(woke, left))) return 'pause-timeout';
      }
      if (!s.resumeRequested && !s.cancelRequested) await this.continueAsNewIfDue(0);
    }
  }

  /** When the maintenance window next opens (ISO, whole seconds), or null when there is none or it is open now. */
  private windowClosedUntil(): string | null {
    const w = this.v.request.window;
    if (!w) return null;
    const now = new Date();
    const at = nextOpen(now, w);
    // A window that never opens cannot pass validation; treat it as no window rather than pausing forever.
    if (at === null || at.getTime() <= now.getTime()) return null;
    return isoSeconds(at);
  }

  private async continueAsNewIfDue(nextNodes: number): Promise<void> {
    const info = workflowInfo();
    const needed = Math.min(Math.max(nextNodes, 1), FRESH_RUN_NODES) * EVENTS_PER_NODE;
    if (!info.continueAsNewSuggested && info.historyLength + needed <= RUN_EVENT_BUDGET) return;
    // Let update handlers (e.g. a resume waiting for `running`) finish so callers get their answer.
    await condition(allHandlersFinished);
    await continueAsNew<typeof upgradeCluster>(this.request, this.s.snapshot());
  }

  /**
   * Upgrades one node: cordon → drain → upgrade pod → uncordon. Returns null on success,
   * {@link REMOVED} when the node was deleted from the cluster, or the error to record. A failed
   * drain uncordons (nothing changed on the node); a failed upgrade pod leaves it cordoned
   * (half-upgraded). A started node always finishes: a Temporal cancel does not interrupt it (it
   * would leave the node half-upgraded, and cleanup would then make it schedulable).
   */
  private upgradeNode(node: string, role: NodeRole): Promise<NodeResult> {
    return CancellationScope.nonCancellable(() => this.upgradeNodeSteps(node, role));
  }

  private async upgradeNodeSteps(node: string, role: NodeRole): Promise<NodeResult> {
    const args: NodeStepArgs = { ...this.ref, node, role };
    let step: NodeStep = 'cordon';
    try {
      await this.acts.quick.cordonNode.executeWithOptions({ summary: `cordon ${node}` }, [args]);
      step = 'drain';
      try {
        await this.acts.drain.drainNode.executeWithOptions({ summary: `drain ${node}` }, [{ ...args, drainTimeoutMs: this.v.drainTimeoutMs }]);
      } catch (err) {
        if (isCancellation(err)) throw err;
        if (isNodeRemoved(err)) return REMOVED;
        const e = stepError(err, node, step);
        let undo = 'the node was uncordoned; nothing was changed on it';
        try {
          await this.acts.quick.uncordonNode.executeWithOptions({ summary: `uncordon ${node} (drain failed)` }, [args]);
        } catch (uncordonErr) {
          if (isCancellation(uncordonErr)) throw uncordonErr;
          undo = `uncordoning it failed too (${stepError(uncordonErr, node, 'uncordon').message}); it stays cordoned`;
        }
        return { ...e, message: `${e.message} — ${undo}` };
      }
      step = 'upgrade-pod';
      try {
        await this.acts.pod.runUpgradePod.executeWithOptions({ summary: `upgrade pod on ${node} (${role})` }, [
          { ...args, upgradeImage: this.v.request.upgradeImage, nodeTimeoutMs: this.v.nodeTimeoutMs },
        ]);
      } catch (err) {
        if (isCancellation(err)) throw err;
        if (isNodeRemoved(err)) return REMOVED;
        const e = stepError(err, node, step);
        return {
          ...e,
          message: `${e.message} — the node is left cordoned and may be half-upgraded; fix it and delete the failed pod in kube-upgrade, then resume`,
        };
      }
      step = 'uncordon';
      await this.acts.quick.uncordonNode.executeWithOptions({ summary: `uncordon ${node}` }, [args]);
      return null;
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (isNodeRemoved(err)) return REMOVED;
      return stepError(err, node, step);
    }
  }
}

/** A node step's result when the node was deleted from the cluster mid-upgrade. */
const REMOVED = 'removed';

/** What one node's upgrade came to: null on success, {@link REMOVED}, or the error to record. */
type NodeResult = LastError | typeof REMOVED | null;

/** True for an activity failure saying the node is gone from the cluster ('NodeRemoved'). */
function isNodeRemoved(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type === ErrorType.NodeRemoved;
}

/**
 * Throws when the workflow was cancelled through Temporal. Checked wherever a new node could
 * start, since node upgrades run in non-cancellable scopes and would otherwise go on.
 */
function throwIfCancelledThroughTemporal(): void {
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('the upgrade was cancelled through Temporal');
}

/** The {@link LastError} for an activity failure: from 'NodeStepFailed' details when present, else from the failure chain. */
function stepError(err: unknown, node: string, step: NodeStep): LastError {
  const at = new Date().toISOString();
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type === ErrorType.NodeStepFailed) {
    const d = cause.details?.[0] as NodeStepFailureDetails | undefined;
    if (d && typeof d === 'object') {
      return { node: d.node || node, step: d.step || step, message: d.message || cause.message, ...(d.logTail ? { logTail: d.logTail } : {}), at };
    }
  }
  let message: string;
  if (cause instanceof TimeoutFailure) message = `${step} timed out: ${cause.message || 'activity timeout'}`;
  else if (cause instanceof Error) message = cause.message || String(cause);
  else message = String(cause);
  return { node, step, message, at };
}
