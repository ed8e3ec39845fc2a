/**
 * What each node in flight is waiting for, for `edge-upgrade status`: the node steps' heartbeat
 * details (drain: the pods refused or still terminating; upgrade: the pod's phase and the node's
 * state), which the workflow never sees. Read through DescribeWorkflowExecution of the upgrade and
 * of its running batch children, as `temporal workflow describe` shows them.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { upgradeHandle } from './api.js';

/** One node step in flight. */
export interface InFlightNode {
  node: string;
  /** As in `lastError.step`: 'drain', 'upgrade-pod' or 'prepare'. */
  step: string;
  /** When the step began (its first attempt), ISO 8601. */
  since: string;
  attempt: number;
  /** What it waits on now, in a line. */
  waitingOn: string;
}

/** The activities whose heartbeats name their node, and the step each is. */
const STEPS: Record<string, string> = { drainNode: 'drain', runUpgradePod: 'upgrade-pod', runPreparePod: 'prepare' };

/** What the node steps put in their heartbeats (see activities/drain.ts, upgrade-pod.ts, prepare.ts). */
interface StepDetails {
  node?: string;
  startedAt?: number;
  apiOutage?: string;
  // drain
  pending?: string[];
  refused?: Array<{ pod: string; refusal: string }>;
  terminating?: string[];
  // upgrade-pod, prepare
  pod?: string;
  phase?: string;
  waiting?: string;
}

type PendingActivity = temporal.api.workflow.v1.IPendingActivityInfo;

/**
 * The node steps in flight in a cluster's upgrade and its running batch children, ordered by node;
 * [] when there are none or the upgrade is not running.
 */
export async function readInFlight(client: Client, clusterId: string): Promise<InFlightNode[]> {
  const parent = await upgradeHandle(client, clusterId).describe();
  if (parent.status.name !== 'RUNNING') return [];
  const pending = [...(parent.raw.pendingActivities ?? [])];
  for (const child of parent.raw.pendingChildren ?? []) {
    if (!child.workflowId) continue;
    const d = await client.workflow.getHandle(child.workflowId, child.runId ?? undefined).describe();
    if (d.status.name === 'RUNNING') pending.push(...(d.raw.pendingActivities ?? []));
  }
  return pending
    .map(inFlightNode)
    .filter((n): n is InFlightNode => n !== undefined)
    .sort((a, b) => a.node.localeCompare(b.node));
}

function inFlightNode(a: PendingActivity): InFlightNode | undefined {
  const step = STEPS[a.activityType?.name ?? ''];
  const details = decodeDetails(a);
  if (!step || !details?.node) return undefined;
  const started = details.startedAt ?? msOf(a.lastStartedTime) ?? msOf(a.scheduledTime) ?? Date.now();
  return { node: details.node, step, since: new Date(started).toISOString(), attempt: a.attempt ?? 1, waitingOn: waitingOn(step, details) };
}

/** The last heartbeat's details, or undefined before the first one. */
function decodeDetails(a: PendingActivity): StepDetails | undefined {
  const payload = a.heartbeatDetails?.payloads?.[0];
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload<StepDetails>(payload);
  } catch {
    return undefined;
  }
}

/** A line saying what the step waits on, from its details. */
export function waitingOn(step: string, d: StepDetails): string {
  const parts: string[] = [];
  if (d.apiOutage) parts.push(`the ${d.apiOutage}`);
  if (step === 'drain') {
    for (const r of d.refused ?? []) parts.push(`eviction of ${r.pod} refused: ${r.refusal}`);
    if (d.terminating?.length) parts.push(`${d.terminating.length} pod(s) still terminating: ${d.terminating.join(', ')}`);
    const toEvict = (d.pending?.length ?? 0) - (d.refused?.length ?? 0) - (d.terminating?.length ?? 0);
    if (toEvict > 0) parts.push(`${toEvict} pod(s) to evict`);
    if (!parts.length) parts.push('listing the pods to evict');
  } else if (d.waiting) {
    parts.push(d.waiting);
  } else if (d.pod) {
    parts.push(`pod ${d.pod} ${d.phase ?? 'being created'}`);
  }
  return parts.join('; ');
}

function msOf(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  if (!ts?.seconds) return undefined;
  return Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}
