/**
 * The `upgradeCluster` workflow: precheck → masters (one at a time) → workers (batches of 1, 2, 4, …)
 * → done, with pause, resume and cancel, auto-pause on error, a durable pause timeout, and
 * continue-as-new so no run's history grows past Temporal's limits. All I/O is in activities.
 *
 * This function only wires things: the state, the handlers (./upgrade-handlers.ts), one run context
 * (./upgrade-run.ts), the planning step (./upgrade-plan.ts) and the runner (./upgrade-runner.ts).
 */
import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  deprecatePatch,
  isCancellation,
  makeContinueAsNewFunc,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { DEFAULT_PAUSE_TIMEOUT, parseDuration } from '../planning/durations.js';
import { ErrorType } from '../planning/errors.js';
import { validateUpgradeRequest, type ValidatedRequest } from '../planning/request.js';
import type { CancelReason, Progress, UpgradeRequest } from '../planning/types.js';
import { PROGRESS_MEMO } from './definitions.js';
import { activityProxies, cleanUp } from './upgrade-activities.js';
import { registerHandlers } from './upgrade-handlers.js';
import { Patch } from './patches.js';
import { planUpgrade } from './upgrade-plan.js';
import { failInvalid, publisher, type UpgradeRun } from './upgrade-run.js';
import { Runner } from './upgrade-runner.js';
import { CONTINUE_AS_NEW } from './safe-point.js';
import { UpgradeState } from './upgrade-state.js';
import type { StoredSnapshot } from './upgrade-snapshot.js';

export { EVENTS_PER_NODE, RUN_EVENT_BUDGET } from './node-steps.js';

/**
 * Upgrades the cluster in `input`. `carried` is set only by continue-as-new. Returns the final
 * progress when the upgrade succeeded or was cancelled; fails with 'InvalidUpgradeRequest' or
 * 'PrecheckFailed' before any node is touched.
 */
export async function upgradeCluster(input: UpgradeRequest, carried?: StoredSnapshot): Promise<Progress> {
  const state = new UpgradeState(carried ?? UpgradeState.initial(String(input?.clusterId ?? ''), String(input?.targetVersion ?? '')));
  const publish = publisher(state);
  // Validate before any handler is set: signals and Updates that reached the run before its first
  // workflow task (sent while no worker polled, or right after continue-as-new) are delivered as
  // soon as their handler is set, and a pause needs the pause timeout then.
  let request: ValidatedRequest | undefined;
  let invalidInput: unknown;
  try {
    request = validateUpgradeRequest(input);
  } catch (err) {
    invalidInput = err;
  }
  state.setPauseTimeout(request?.pauseTimeoutMs ?? parseDuration('pauseTimeout', undefined, DEFAULT_PAUSE_TIMEOUT));
  registerHandlers(state, () => new Date().toISOString(), publish);
  publish();
  if (!request) throw failInvalid(state, publish, invalidInput);

  const run: UpgradeRun = {
    state,
    request,
    input,
    ref: upgradeRef(request),
    activities: activityProxies(request),
    publish,
  };
  try {
    if (!state.planned) {
      await planUpgrade(run);
      if (state.state === 'failed')
        throw ApplicationFailure.nonRetryable(state.progress.failure ?? 'pre-check failed', ErrorType.PrecheckFailed);
    }
    const outcome = await new Runner(run).upgrade();
    if (outcome === CONTINUE_AS_NEW) return await continueAsNewFrom(run);
    if (outcome === 'done') {
      state.succeeded();
      publish();
    } else {
      // Nothing is rolled back: only cordons this upgrade made are restored (and, on timeout, its records deleted).
      await cancel(run, outcome);
    }
    // Let a waiting resume Update see the final state before the workflow closes.
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    return state.progress;
  } catch (err) {
    if (isCancellation(err) && !state.finished) {
      // Cancelled through Temporal (Web UI, `temporal workflow cancel`): nodes in flight have
      // finished (they run in non-cancellable scopes); now restore cordons, then close as cancelled.
      await cancel(run, 'user');
    } else if (!(err instanceof ContinueAsNew) && !state.finished) {
      state.failed(err instanceof Error ? err.message : String(err));
      publish();
    }
    throw err;
  }
}

/**
 * The one continue-as-new of `upgradeCluster`, when the runner says the run is due: once update
 * handlers finished (a resume waiting for `running` gets its answer), the next run starts from the
 * state's snapshot, with the progress memo there before its first task completes.
 */
async function continueAsNewFrom(run: UpgradeRun): Promise<never> {
  await condition(allHandlersFinished);
  const snapshot = run.state.snapshot();
  deprecatePatch(Patch.ProgressMemo);
  return makeContinueAsNewFunc<typeof upgradeCluster>({ memo: { [PROGRESS_MEMO]: snapshot.progress } })(run.input, snapshot);
}

/**
 * The upgrade as activities see it: the cluster, the target, the workflow ID, and the first run ID of this
 * chain of runs (the same after continue-as-new), which tells this upgrade's cordons from an earlier one's.
 */
function upgradeRef(request: ValidatedRequest): UpgradeRun['ref'] {
  const { workflowId, firstExecutionRunId } = workflowInfo();
  const ref = { clusterId: request.request.clusterId, targetVersion: request.targetVersion, upgradeId: workflowId };
  return patched(Patch.CordonOwner) ? { ...ref, runChain: firstExecutionRunId } : ref;
}

/** Cancels: cleanup first (it never gives up, and a Temporal cancel cannot interrupt it), then the final state. */
async function cancel(run: UpgradeRun, reason: CancelReason): Promise<void> {
  const { state, publish } = run;
  state.beginCancel(reason);
  publish();
  const problem = await CancellationScope.nonCancellable(() =>
    cleanUp(run.activities, run.ref, reason === 'pause-timeout', state.hopVersions),
  );
  if (problem) state.recordError(problem);
  state.cancelled(reason);
  publish();
}
