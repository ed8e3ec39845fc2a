/**
 * The failure budget (`maxFailures`): a failed worker is quarantined (labelled, with the reason
 * annotated, listed in `workers.quarantined`) and the upgrade goes on, until more workers are
 * quarantined than the budget allows. Shared by the worker batches and the prepare phase.
 */
import { isCancellation } from '@temporalio/workflow';
import { failureBudget } from '../planning/request.js';
import type { LastError } from '../planning/types.js';
import { stepError } from './upgrade-activities.js';
import type { UpgradeRun } from './upgrade-run.js';

/** How many workers may be quarantined before the upgrade pauses; 0 without a budget. */
export function budgetOf(run: UpgradeRun): number {
  return failureBudget(run.request.maxFailures, run.state.workers.view.total);
}

/**
 * Under a failure budget, quarantines the failed workers and returns the errors that must pause
 * the upgrade: all of them without a budget, an offline worker's (it was never touched, so there is
 * nothing to quarantine), one whose quarantine failed, or, once more workers are quarantined than the
 * budget allows, one naming every quarantined worker.
 */
export async function quarantineWithinBudget(run: UpgradeRun, errors: LastError[]): Promise<LastError[]> {
  const { state, activities, ref } = run;
  const budget = budgetOf(run);
  const offline = errors.filter((e) => e.step === 'offline');
  const failed = errors.filter((e) => e.step !== 'offline');
  if (budget === 0 || failed.length === 0) return errors;
  const notQuarantined: LastError[] = [];
  await Promise.all(
    failed.map(async (e) => {
      try {
        const args = {
          ...ref,
          node: e.node,
          role: 'worker' as const,
          message: e.message,
          ...(e.step === 'prepare' ? { step: 'prepare' as const } : {}),
        };
        await activities.within1Minute.quarantineNode.executeWithOptions({ summary: `quarantine ${e.node}` }, [args]);
        state.workers.quarantine(e);
      } catch (err) {
        if (isCancellation(err)) throw err;
        const q = stepError(err, e.node, 'quarantine');
        notQuarantined.push({ ...e, message: `${e.message}; quarantining it failed: ${q.message}` });
      }
    }),
  );
  const over = state.quarantined.length > budget;
  state.recordError(failed[failed.length - 1]!);
  if (!over) return [...offline, ...notQuarantined];
  const all = state.workers.view.quarantined ?? [];
  const names = all.map((q) => `${q.node} (${q.step})`).join(', ');
  const message = `${all.length} workers failed, over the failure budget of ${budget}: ${names}`;
  return [...offline, ...notQuarantined, { ...failed[0]!, message }];
}
