/**
 * The run context of one `upgradeCluster` run: its state, the validated request, the activity
 * proxies and the publisher, passed as one object to the planning step and the runner.
 */
import { ApplicationFailure, deprecatePatch, setCurrentDetails, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { UpgradeRef } from '../activities/types.js';
import { ErrorType } from '../planning/errors.js';
import type { ValidatedRequest } from '../planning/request.js';
import { summarize } from '../planning/summary.js';
import type { UpgradeRequest } from '../planning/types.js';
import { EdgeClusterId, EdgeUpgradePhase, EdgeUpgradeState, EdgeUpgradeTarget, PROGRESS_MEMO } from './definitions.js';
import type { ActivityProxies } from './upgrade-activities.js';
import { Patch } from './patches.js';
import type { UpgradeState } from './upgrade-state.js';

/** Everything one run works with. */
export interface UpgradeRun {
  state: UpgradeState;
  /** The request with defaults applied and durations in ms. */
  request: ValidatedRequest;
  /** The request as it was started; handed on unchanged through continue-as-new. */
  input: UpgradeRequest;
  ref: UpgradeRef;
  activities: ActivityProxies;
  /** Makes the state visible: search attributes when phase or state changed, and the Web UI's current details. */
  publish(): void;
}

/**
 * The publisher of `state`: upserts the search attributes when phase or state changed, the progress
 * memo ({@link PROGRESS_MEMO}) when progress changed, and refreshes the one-line summary.
 */
export function publisher(state: UpgradeState): () => void {
  let published: { phase: string; state: string } | null = null;
  let memo = '';
  return () => {
    const p = state.progress;
    if (!published || published.phase !== p.phase || published.state !== p.state) {
      upsertSearchAttributes([
        { key: EdgeClusterId, value: p.clusterId },
        { key: EdgeUpgradeTarget, value: p.targetVersion },
        { key: EdgeUpgradePhase, value: p.phase },
        { key: EdgeUpgradeState, value: p.state },
      ]);
      published = { phase: p.phase, state: p.state };
    }
    const json = JSON.stringify(p);
    if (json !== memo) {
      deprecatePatch(Patch.ProgressMemo);
      upsertMemo({ [PROGRESS_MEMO]: p });
      memo = json;
    }
    setCurrentDetails(summarize(p));
  };
}

/** Marks the upgrade failed for invalid input and returns the non-retryable failure to throw. */
export function failInvalid(state: UpgradeState, publish: () => void, err: unknown): ApplicationFailure {
  const message = err instanceof Error ? err.message : String(err);
  state.failed(message);
  publish();
  return ApplicationFailure.nonRetryable(message, ErrorType.InvalidUpgradeRequest);
}
