/**
 * What upgrade-1000 reads from the upgrade's histories: events and workflow tasks per run and per batch
 * child workflow, each node's activity times (a worker's are in its batch child's history), and how long
 * the largest run takes to replay.
 */
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { childHistories, runsOf } from '../../test/helpers/histories.js';
import { eventMs, failedTasks, type HistoryEvent } from '../lib/histories.js';

/** The node steps whose times are read, in the order a node goes through them. */
export type Activity = 'cordonNode' | 'drainNode' | 'runUpgradePod' | 'uncordonNode';
export const STEPS: Activity[] = ['cordonNode', 'drainNode', 'runUpgradePod', 'uncordonNode'];

/** When one step's activity was scheduled, started and completed (ms since the epoch). */
export interface ActivityTimes {
  scheduled: number;
  started?: number;
  completed?: number;
}

/** One node's role and step times. */
export interface NodeHistory {
  role: string;
  steps: Partial<Record<Activity, ActivityTimes>>;
}

/** A run's first workflow task, in ms after the run started: a query sent then waits for it. */
export interface FirstTask {
  inputBytes: number;
  started?: number;
  completed?: number;
  /** Activities the first task scheduled. */
  activities: number;
  /** Set once the events after the first task's completion (its commands) have all been counted. */
  counted?: boolean;
}

/** Everything {@link readHistories} read. */
export interface Histories {
  runs: Array<{ runId: string; events: number; startedAt: number; failedTasks: number; firstTask: FirstTask }>;
  children: Array<{ workflowId: string; events: number; failedTasks: number }>;
  nodes: Map<string, NodeHistory>;
  /** Every node step's wait in the task queue (scheduled → started, ms). */
  scheduleToStart: number[];
  /** Every workflow task's time on the worker (started → completed, ms): a consistent query waits out the one in flight. */
  taskOnWorker: number[];
  /** The run with the most events: a query that reaches a closed run makes the worker replay all of it. */
  largest: { events: number; history: unknown };
}

/** Reads every run of the continue-as-new chain of `workflowId` from `firstRunId`, and every batch child workflow they started. */
export async function readHistories(client: Client, workflowId: string, firstRunId: string): Promise<Histories> {
  const h: Histories = {
    runs: [],
    children: [],
    nodes: new Map(),
    scheduleToStart: [],
    taskOnWorker: [],
    largest: { events: 0, history: undefined },
  };
  const upgradeRuns = await runsOf(client, workflowId, firstRunId);
  for (const { runId, events } of upgradeRuns) {
    if (events.length > h.largest.events) h.largest = { events: events.length, history: { events } };
    const input = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    const firstTask: FirstTask = { inputBytes: input.reduce((a, p) => a + (p.data?.length ?? 0), 0), activities: 0 };
    h.runs.push({ runId, events: events.length, startedAt: eventMs(events[0]), failedTasks: failedTasks(events), firstTask });
    readOne(h, events, firstTask);
  }
  for (const child of await childHistories(client, upgradeRuns)) {
    h.children.push({ workflowId: child.workflowId, events: child.events.length, failedTasks: failedTasks(child.events) });
    readOne(h, child.events);
  }
  return h;
}

/** Reads one history's workflow tasks and node steps into `h` (`firstTask`: a run of the upgrade's). */
function readOne(h: Histories, events: HistoryEvent[], firstTask?: FirstTask): void {
  const startedAt = eventMs(events[0]);
  let taskStartedAt = NaN;
  const byScheduledId = new Map<string, { node: string; activity: Activity }>();
  for (const e of events) {
    const at = eventMs(e);
    if (e.workflowTaskStartedEventAttributes) {
      taskStartedAt = at;
      if (firstTask) firstTask.started ??= at - startedAt;
    }
    if (e.workflowTaskCompletedEventAttributes) {
      h.taskOnWorker.push(at - taskStartedAt);
      if (firstTask) firstTask.completed ??= at - startedAt;
    } else if (firstTask?.completed !== undefined && !firstTask.counted) {
      // The events right after the first task completed are its commands, up to the next task scheduled.
      if (e.workflowTaskScheduledEventAttributes) firstTask.counted = true;
      else if (e.activityTaskScheduledEventAttributes) firstTask.activities++;
    }
    if (e.activityTaskScheduledEventAttributes) activityScheduled(h, e, at, byScheduledId);
    else activityProgressed(h, e, at, byScheduledId);
  }
}

/** A node step's activity scheduled: its first scheduling is kept (a retry within one activity is the same event). */
function activityScheduled(
  h: Histories,
  e: HistoryEvent,
  at: number,
  byScheduledId: Map<string, { node: string; activity: Activity }>,
): void {
  const sched = e.activityTaskScheduledEventAttributes!;
  const activity = sched.activityType?.name as Activity;
  if (!STEPS.includes(activity)) return;
  const arg = defaultPayloadConverter.fromPayload<{ node: string; role: string }>(sched.input!.payloads![0]!);
  const n = h.nodes.get(arg.node) ?? { role: arg.role, steps: {} };
  h.nodes.set(arg.node, n);
  n.steps[activity] ??= { scheduled: at };
  byScheduledId.set(String(e.eventId), { node: arg.node, activity });
}

/** A node step's activity started or completed. */
function activityProgressed(
  h: Histories,
  e: HistoryEvent,
  at: number,
  byScheduledId: Map<string, { node: string; activity: Activity }>,
): void {
  const actStarted = e.activityTaskStartedEventAttributes;
  const completed = e.activityTaskCompletedEventAttributes;
  const ref = actStarted?.scheduledEventId ?? completed?.scheduledEventId;
  if (ref === undefined || ref === null) return;
  const hit = byScheduledId.get(String(ref));
  if (!hit) return;
  const t = h.nodes.get(hit.node)!.steps[hit.activity]!;
  if (actStarted) {
    t.started = at;
    h.scheduleToStart.push(at - t.scheduled);
  } else t.completed = at;
}

/**
 * How long the worker's code takes to replay `history` from its first event, best of three (ms). A
 * query that reaches a run as it continues as new is answered on the closed run, which the worker
 * has evicted: it replays the whole run for that one answer (plus the fetch of its history pages).
 */
export async function timeReplay(history: unknown): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const codePath = fileURLToPath(new URL('../../dist/workflow-bundle.js', import.meta.url));
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await Worker.runReplayHistory({ workflowBundle: { codePath } }, history as never, `bench-replay-${i}`);
    times.push(performance.now() - t);
  }
  return Math.min(...times);
}
