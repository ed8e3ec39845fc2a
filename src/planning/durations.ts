/**
 * Durations in requests: strings in Temporal's duration format ('15 days', '10m', '90s') or
 * numbers of milliseconds. Parsed with `msToNumber` from @temporalio/common, as the SDK does.
 */
import { msToNumber, type Duration } from '@temporalio/common';
import { InvalidUpgradeRequestError } from './errors.js';

/** Default `pauseTimeout`: a pause not resumed within it cancels the upgrade. */
export const DEFAULT_PAUSE_TIMEOUT = '15 days';
/** Default `drainTimeout`: a drain blocked longer is an error naming the blocking PDB and pod. */
export const DEFAULT_DRAIN_TIMEOUT = '10m';
/** Default `nodeTimeout`: the longest one node's upgrade pod may take until the node is Ready at the target. */
export const DEFAULT_NODE_TIMEOUT = '30m';

/** The longest duration a request may carry: 365 days (ms). Longer is almost surely a typo. */
export const MAX_DURATION_MS = 365 * 24 * 3600_000;

/**
 * Parses `value` (or `fallback` when it is undefined) into milliseconds. Throws
 * {@link InvalidUpgradeRequestError} naming `field` when it is malformed, not positive, under
 * `minMs` or over {@link MAX_DURATION_MS}.
 */
export function parseDuration(field: string, value: string | number | undefined, fallback: string, minMs = 1000): number {
  const raw = value ?? fallback;
  let ms: number;
  try {
    ms = msToNumber(raw as Duration);
  } catch {
    throw new InvalidUpgradeRequestError(
      field,
      `${field} '${String(raw)}' is not a duration; use e.g. '15 days', '10m', '90s' or a number of milliseconds`,
    );
  }
  if (!Number.isFinite(ms) || ms < minMs) {
    throw new InvalidUpgradeRequestError(field, `${field} '${String(raw)}' is too short; it must be at least ${minMs / 1000}s`);
  }
  if (ms > MAX_DURATION_MS) {
    throw new InvalidUpgradeRequestError(field, `${field} '${String(raw)}' is too long; it must be at most 365 days`);
  }
  return Math.round(ms);
}
