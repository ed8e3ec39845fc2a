/** Readings from workflow histories shared by the benchmarks. */
import type { HistoryEvent } from '../../test/helpers/histories.js';

export type { HistoryEvent };

/** When `event` happened, in ms since the epoch (NaN when it has no time). */
export function eventMs(event: HistoryEvent | undefined): number {
  const t = event?.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : NaN;
}

/**
 * Workflow tasks failed or timed out in `events`, e.g. failed by the server (FORCE_CLOSE_COMMAND) when
 * more than history.maximumBufferedEventsBatch events arrived while the task was on the worker; each
 * one costs the worker a replay of the run so far.
 */
export function failedTasks(events: HistoryEvent[]): number {
  return events.filter((e) => e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes).length;
}
