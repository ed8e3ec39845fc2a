/**
 * Reading an upgrade's histories: the runs of its continue-as-new chain, and the batch child
 * workflows (`upgradeNodeBatch`) those runs started, where the worker node steps' events are.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';

/** One event of a fetched history. */
export type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** A workflow execution: a run of the upgrade, or a batch child. */
export interface Execution {
  workflowId: string;
  runId: string;
}

/** The child workflows started in `events`, in the order they started. */
export function childrenIn(events: HistoryEvent[]): Execution[] {
  return events.flatMap((e) => {
    const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    return child?.workflowId && child.runId ? [{ workflowId: child.workflowId, runId: child.runId }] : [];
  });
}

/** The runs of `workflowId` from `firstRunId` on, following continue-as-new, each with its events. */
export async function runsOf(
  client: Client,
  workflowId: string,
  firstRunId: string,
): Promise<Array<Execution & { events: HistoryEvent[] }>> {
  const runs: Array<Execution & { events: HistoryEvent[] }> = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const events: HistoryEvent[] = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    runs.push({ workflowId, runId, events });
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

/** The batch children that `runs` started, each with its events, in the order they started. */
export function childHistories(
  client: Client,
  runs: Array<{ events: HistoryEvent[] }>,
): Promise<Array<Execution & { events: HistoryEvent[] }>> {
  const children = runs.flatMap((r) => childrenIn(r.events));
  return Promise.all(
    children.map(async (c) => ({ ...c, events: (await client.workflow.getHandle(c.workflowId, c.runId).fetchHistory()).events ?? [] })),
  );
}

/** The batch children the upgrade's runs started, each with its events, in the order they started. */
export async function batchChildrenOf(
  client: Client,
  handle: { workflowId: string; firstExecutionRunId: string },
): Promise<Array<Execution & { events: HistoryEvent[] }>> {
  return childHistories(client, await runsOf(client, handle.workflowId, handle.firstExecutionRunId));
}
