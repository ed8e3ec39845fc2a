/**
 * Worker batch sizes: 1, 2, 4, … doubling, capped at `max(1, floor(percent/100 × workers))`.
 * After a resume, a pause or an error the next batch starts at {@link firstBatchSize} again (the workflow's state class resets it).
 */

/** Default cap on a batch, as a percentage of all workers. */
export const DEFAULT_MAX_BATCH_PERCENT = 10;

/**
 * Largest batch allowed for `workers` workers when batches may hold at most `percent` % of them:
 * `max(1, floor(percent × workers / 100))`, multiplied first so that e.g. 29 % of 100 is 29, not
 * the 28 that `0.29 × 100 = 28.999…` would give.
 */
export function maxBatchSize(workers: number, percent: number = DEFAULT_MAX_BATCH_PERCENT): number {
  return Math.max(1, Math.floor((percent * workers) / 100));
}

/** Size of the first batch (also the first after a resume). */
export function firstBatchSize(): number {
  return 1;
}

/** Size of the batch after one of `previous` nodes: doubled, but never above `cap`. */
export function nextBatchSize(previous: number, cap: number): number {
  return Math.max(1, Math.min(previous * 2, cap));
}

/**
 * The whole batch schedule for `workers` workers with no pause in between: the sizes sum to
 * `workers`, and the last batch holds what is left.
 */
export function batchPlan(workers: number, percent: number = DEFAULT_MAX_BATCH_PERCENT): number[] {
  return batchSizes(workers, maxBatchSize(workers, percent));
}

/**
 * Sizes of the batches for `count` workers still to upgrade when no batch may exceed `cap` (the cap
 * comes from the cluster's total worker count, so a re-run caps like the first run did).
 */
export function batchSizes(count: number, cap: number): number[] {
  const sizes: number[] = [];
  let left = count;
  let size = Math.min(firstBatchSize(), cap);
  while (left > 0) {
    const take = Math.min(size, left);
    sizes.push(take);
    left -= take;
    size = nextBatchSize(size, cap);
  }
  return sizes;
}

/**
 * Why a batch child workflow's cancel is ignored, and what to do instead: the message of its
 * `UpgradeBatchCancelIgnored` Events and of the refusal in progress.
 */
export function batchCancelIgnoredMessage(workflowId: string, upgradeId: string): string {
  return (
    `the batch workflow ${workflowId} was cancelled by hand; the cancel is ignored and its nodes finish their steps ` +
    `(a node stopped mid-step would be left cordoned or half-upgraded): to stop the upgrade, pause or cancel ${upgradeId}`
  );
}
