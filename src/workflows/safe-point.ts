/**
 * The safe point of `upgradeCluster`: between nodes and batches, with nothing in flight. Here a
 * running upgrade goes on (or is due to continue as new); a paused one waits for the maintenance
 * window, carries out a resume, or waits out its pause timeout; a cancel ends it. It never calls
 * `continueAsNew` itself: it says so, and `upgradeCluster` alone continues as new.
 */
import {
  ActivityFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  deprecatePatch,
  isCancellation,
  workflowInfo,
} from '@temporalio/workflow';
import type { CancelReason } from '../planning/types.js';
import { isoSeconds, nextOpen } from '../planning/window.js';
import { EVENTS_PER_NODE, NODES_PER_RUN, RUN_EVENT_BUDGET } from './node-steps.js';
import { Patch } from './patches.js';
import type { UpgradeRun } from './upgrade-run.js';

/** The outcome that ends a run to continue the upgrade in a fresh one (`upgradeCluster` does it). */
export const CONTINUE_AS_NEW = 'continue-as-new';

/** How a run stops short of the end: cancelled (by the user, or by the pause timeout), or to continue as new. */
export type Exit = CancelReason | typeof CONTINUE_AS_NEW;

/** What a safe point decided: go on with the next node(s), or leave the run. */
export type Next = 'go' | Exit;

/** The safe point of one run. */
export class SafePoint {
  constructor(private readonly run: UpgradeRun) {}

  /**
   * Goes on when running (unless history asks for continue-as-new, or the next `nextNodes()` nodes
   * would not fit in this run but would in a fresh one); otherwise waits for the window, carries out
   * a resume, or waits out a pause, until one of them lets it go on or the run must end.
   */
  async at(nextNodes: () => number): Promise<Next> {
    const { state } = this.run;
    for (;;) {
      throwIfCancelledThroughTemporal();
      if (state.state === 'running') {
        if (this.pauseIfWindowClosed()) continue;
        if (state.retryQuarantinedRequested) await this.retryQuarantined();
        return dueToContinueAsNew(nextNodes()) ? CONTINUE_AS_NEW : 'go';
      }
      if (state.cancelRequested) return 'user';
      if (state.waitingForWindow) {
        if ((await this.waitForWindow()) === CONTINUE_AS_NEW) return CONTINUE_AS_NEW;
      } else if (state.resumeRequested) {
        await this.carryOutResume();
      } else {
        const woke = await this.waitOutPause();
        if (woke !== 'woke') return woke;
      }
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
  private async waitForWindow(): Promise<'woke' | typeof CONTINUE_AS_NEW> {
    const { state, publish } = this.run;
    const left = Date.parse(state.progress.pause!.opensAt!) - Date.now();
    const woke = () => state.cancelRequested || !state.waitingForWindow || workflowInfo().continueAsNewSuggested;
    if (left <= 0 || !(await condition(woke, left))) {
      const again = this.windowClosedUntil();
      if (again === null) state.windowOpened();
      else state.windowPause(new Date().toISOString(), again);
      publish();
      return 'woke';
    }
    return !state.cancelRequested && state.waitingForWindow && dueToContinueAsNew(0) ? CONTINUE_AS_NEW : 'woke';
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
      state.workers.closeBatch();
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
  private async waitOutPause(): Promise<'pause-timeout' | 'woke' | typeof CONTINUE_AS_NEW> {
    const { state } = this.run;
    const autoCancelAt = state.progress.pause?.autoCancelAt;
    const woke = () => state.resumeRequested || state.cancelRequested || workflowInfo().continueAsNewSuggested;
    if (autoCancelAt == null) {
      await condition(woke);
    } else {
      const left = Date.parse(autoCancelAt) - Date.now();
      if (left <= 0 || !(await condition(woke, left))) return 'pause-timeout';
    }
    return !state.resumeRequested && !state.cancelRequested && dueToContinueAsNew(0) ? CONTINUE_AS_NEW : 'woke';
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
}

/**
 * Whether this run should continue as new before the next `nextNodes` nodes: history asks for it,
 * or their events would not fit in this run's budget. A batch in child workflows adds a few events
 * per child here (a master fewer than a node's worst case).
 */
function dueToContinueAsNew(nextNodes: number): boolean {
  const info = workflowInfo();
  // Runs of code before the support window (./patches.ts) upgraded workers in their own history. Every run
  // reaches a safe point before its first batch, so the patch is marked here, once per run.
  deprecatePatch(Patch.BatchChildren);
  const needed = Math.ceil(Math.max(nextNodes, 1) / NODES_PER_RUN) * EVENTS_PER_NODE;
  return info.continueAsNewSuggested || info.historyLength + needed > RUN_EVENT_BUDGET;
}

/**
 * Throws when the workflow was cancelled through Temporal. Checked wherever a new node could
 * start, since node upgrades run in non-cancellable scopes and would otherwise go on.
 */
export function throwIfCancelledThroughTemporal(): void {
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('the upgrade was cancelled through Temporal');
}

/** Now, as an ISO string. */
export function nowIso(): string {
  return new Date().toISOString();
}
