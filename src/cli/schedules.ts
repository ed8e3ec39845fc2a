/**
 * Maintenance triggers as Temporal Schedules: each fires the `scheduledUpgrade` workflow, which
 * starts `edge-upgrade-<clusterId>` unless one already runs. Overlapping triggers are skipped.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { validateUpgradeRequest } from '../planning/request.js';
import type { UpgradeRequest } from '../planning/types.js';
import { SCHEDULED_WORKFLOW_TYPE, TASK_QUEUE } from '../workflows/definitions.js';

/** Schedule ID used when none is given. */
export const scheduleIdFor = (clusterId: string): string => `edge-upgrade-schedule-${clusterId}`;

/** Options of {@link createSchedule}. `cron` is a standard 5-field cron expression. */
export interface CreateScheduleOptions {
  scheduleId?: string;
  cron: string[];
  timezone?: string;
  /** Start the first action at once (useful for testing a trigger). */
  triggerImmediately?: boolean;
}

/** Creates a schedule that upgrades `request.clusterId`. Returns its ID. */
export async function createSchedule(client: Client, request: UpgradeRequest, opts: CreateScheduleOptions): Promise<string> {
  validateUpgradeRequest(request);
  const scheduleId = opts.scheduleId ?? scheduleIdFor(request.clusterId);
  try {
    await client.schedule.create({
      scheduleId,
      spec: { cronExpressions: opts.cron, timezone: opts.timezone ?? 'UTC' },
      action: {
        type: 'startWorkflow',
        workflowType: SCHEDULED_WORKFLOW_TYPE,
        args: [request],
        taskQueue: TASK_QUEUE,
        workflowId: `${scheduleId}-trigger`,
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
      state: {
        triggerImmediately: opts.triggerImmediately ?? false,
        note: `edge-upgrade ${request.clusterId} → ${request.targetVersion}`,
      },
      // The server stores cron as calendar specs; keep the operator's own words for `schedule list`.
      memo: { clusterId: request.clusterId, targetVersion: request.targetVersion, cron: opts.cron },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) throw new Error(`schedule ${scheduleId} already exists; delete it first or pass --id`);
    throw err;
  }
  return scheduleId;
}

/** One schedule as listed. */
export interface ScheduleSummary {
  scheduleId: string;
  clusterId?: string;
  targetVersion?: string;
  cron: string[];
  timezone?: string;
  nextRun?: string;
  paused: boolean;
}

/** Lists the edge-upgrade schedules (those whose action is `scheduledUpgrade`). */
export async function listSchedules(client: Client): Promise<ScheduleSummary[]> {
  const out: ScheduleSummary[] = [];
  for await (const s of client.schedule.list()) {
    if (s.action?.type !== 'startWorkflow' || s.action.workflowType !== SCHEDULED_WORKFLOW_TYPE) continue;
    const desc = await client.schedule.getHandle(s.scheduleId).describe();
    out.push({
      scheduleId: s.scheduleId,
      clusterId: desc.memo?.clusterId as string | undefined,
      targetVersion: desc.memo?.targetVersion as string | undefined,
      cron: (desc.memo?.cron as string[] | undefined) ?? [],
      timezone: desc.spec.timezone,
      nextRun: s.info.nextActionTimes[0]?.toISOString(),
      paused: s.state.paused,
    });
  }
  return out;
}

/** Deletes a schedule. Running upgrades it started are not affected. */
export async function deleteSchedule(client: Client, scheduleId: string): Promise<void> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new Error(`no schedule ${scheduleId}`);
    throw err;
  }
}
