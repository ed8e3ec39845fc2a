/**
 * Cordon and uncordon, idempotent as in kubectl: read, compare, act only if needed. "Cordoned by
 * us" is recorded on the Node itself (annotation {@link CORDONED_BY_ANNOTATION}) and checked
 * against managedFields: if anyone else wrote `spec.unschedulable` after us (an operator's
 * `kubectl uncordon` then `kubectl cordon`), the cordon is theirs and we never lift it. The record also
 * names the upgrade's run chain (src/planning/cordon-record.ts): an upgrade lifts only its own cordons,
 * never one an earlier upgrade of the same cluster kept, which it takes over when it reaches the node. Transient
 * API errors and 409 conflicts are retried inside the activity (re-read, re-apply) for
 * {@link CORDON_RETRY_MS}; Temporal's retry policy covers longer outages.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { CoreV1Api, V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import { offlineReason } from '../planning/cluster.js';
import {
  cordonAnnotations,
  cordonRecord,
  earlierUpgrade,
  keptBecause,
  NO_CORDON_RECORD,
  recordedBy,
  recordedByEarlier,
  type CordonOwner,
} from '../planning/cordon-record.js';
import { ErrorType } from '../planning/errors.js';
import {
  AGENT_MODE_LABEL,
  CORDONED_BY_ANNOTATION,
  NODE_NAME_LABEL,
  QUARANTINE_REASON_ANNOTATION,
  QUARANTINED_LABEL,
  UPGRADE_NAMESPACE,
} from '../planning/labels.js';
import { labelValue } from '../planning/names.js';
import { upgradeSelector } from '../planning/upgrade-pod.js';
import { EventRecorder } from './events.js';
import { FIELD_MANAGER, mergePatch } from '../kube/clients.js';
import { ignoreNotFound, statusOf } from '../kube/errors.js';
import { nodeStepFailed, rethrowInvalid, withApiRetry, type Kube, type KubeClients } from './kube.js';
import type { NodeStepArgs } from './types.js';

/**
 * How long one cordon or uncordon attempt keeps retrying transient API errors, in ms. It stays
 * under the activities' one-minute start-to-close timeout, so the attempt fails with a clear
 * message rather than a timeout, and Temporal retries it.
 */
export const CORDON_RETRY_MS = 45_000;

/**
 * Who last set `spec.unschedulable` according to managedFields: 'us' ({@link FIELD_MANAGER}),
 * 'other', or 'unknown' when no entry claims the field.
 */
export function unschedulableWriter(node: V1Node): 'us' | 'other' | 'unknown' {
  let writer: 'us' | 'other' | 'unknown' = 'unknown';
  for (const entry of node.metadata?.managedFields ?? []) {
    const spec = (entry.fieldsV1 as Record<string, Record<string, unknown> | undefined> | undefined)?.['f:spec'];
    if (!spec || !('f:unschedulable' in spec)) continue;
    if (entry.manager !== FIELD_MANAGER) return 'other';
    writer = 'us';
  }
  return writer;
}

/** True if `node` is cordoned, our record on it is `owner`'s (see {@link recordedBy}), and nobody else has set the cordon since. */
export function cordonedBy(node: V1Node, owner: CordonOwner): boolean {
  return node.spec?.unschedulable === true && recordedBy(node, owner) && unschedulableWriter(node) !== 'other';
}

/** True if `node` is cordoned under the record of an earlier upgrade of the same ID (another run chain), and nobody has re-set it since. */
function cordonedByEarlier(node: V1Node, owner: CordonOwner): boolean {
  return node.spec?.unschedulable === true && recordedByEarlier(node, owner) && unschedulableWriter(node) !== 'other';
}

/** True if the node carries our annotation although the cordon is not ours (any more). */
function staleRecord(node: V1Node): boolean {
  return (
    node.metadata?.annotations?.[CORDONED_BY_ANNOTATION] !== undefined &&
    (!node.spec?.unschedulable || unschedulableWriter(node) === 'other')
  );
}

/** Patches `node` conditionally on the resourceVersion we read: a concurrent change gives a 409 and a re-read. */
async function patchNode(
  kube: Kube,
  node: V1Node,
  body: { annotations: Record<string, string | null>; labels?: Record<string, null>; unschedulable?: boolean },
): Promise<void> {
  await kube.core.patchNode(
    {
      name: node.metadata!.name!,
      fieldManager: FIELD_MANAGER,
      body: {
        metadata: {
          resourceVersion: node.metadata?.resourceVersion,
          annotations: body.annotations,
          ...(body.labels ? { labels: body.labels } : {}),
        },
        ...(body.unschedulable === undefined ? {} : { spec: { unschedulable: body.unschedulable } }),
      },
    },
    mergePatch,
  );
}

/** Reads the node; null when it no longer exists. */
export async function readNodeIfExists(core: CoreV1Api, name: string): Promise<V1Node | null> {
  try {
    return await core.readNode({ name });
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}

/** The node's Lease in kube-node-lease; undefined when there is none or it may not be read (then only Ready counts). */
export async function readLease(kube: Kube, name: string): Promise<V1Lease | undefined> {
  try {
    return await kube.coordination.readNamespacedLease({ name, namespace: 'kube-node-lease' });
  } catch (err) {
    if (statusOf(err) === 404 || statusOf(err) === 403) return undefined;
    throw err;
  }
}

/** Why `node` is offline now (NotReady, or no heartbeat within its lease duration), or null; reads its Lease only when it is Ready. */
export async function offlineNow(kube: Kube, node: V1Node): Promise<string | null> {
  const notReady = offlineReason(node, undefined, Date.now());
  if (notReady !== null) return notReady;
  const lease = await readLease(kube, node.metadata!.name!);
  return offlineReason(node, lease?.spec as { renewTime?: Date; leaseDurationSeconds?: number } | undefined, Date.now());
}

/** Throws non-retryable 'NodeOffline' when the node is NotReady or its Lease expired: an offline node is never touched. */
export async function refuseIfOffline(kube: Kube, node: V1Node, args: NodeStepArgs): Promise<void> {
  const reason = await offlineNow(kube, node);
  if (reason === null) return;
  const message = `edge-upgrade ${args.upgradeId}: ${args.node} is offline (${reason}); it was not touched`;
  await new EventRecorder(kube.core, args).warning('UpgradeNodeOffline', message);
  throw ApplicationFailure.create({
    message: `${args.node} is offline: ${reason}; nothing was changed on it`,
    type: ErrorType.NodeOffline,
    nonRetryable: true,
    details: [{ node: args.node, reason }],
  });
}

/** What cordonNode found and did. */
type CordonOutcome =
  { kind: 'cordoned' | 'ours-already' | 'theirs' } | { kind: 'taken-over'; earlier: string; reason: string; deleted: string[] };

/**
 * Implements `cordonNode`. A node deleted from the cluster fails non-retryable 'NodeRemoved': the
 * workflow skips it. An offline node (NotReady, or its Lease expired) fails non-retryable
 * 'NodeOffline' before anything is changed on it. A node kept cordoned by an earlier upgrade of the
 * same ID is taken over (see {@link takeOver}).
 */
export async function cordonNode(clients: KubeClients, args: NodeStepArgs): Promise<{ cordonedByUs: boolean }> {
  const kube = clients.for(args.clusterId);
  const result = await withApiRetry(kube, () => cordonOnce(kube, args), { forMs: kube.stepRetryMs ?? CORDON_RETRY_MS });
  const events = new EventRecorder(kube.core, args);
  if (result.kind === 'cordoned')
    await events.normal(
      'UpgradeCordoned',
      `edge-upgrade ${args.upgradeId}: cordoned ${args.node} before upgrading it to ${args.targetVersion}`,
    );
  if (result.kind === 'taken-over') {
    const deleted = result.deleted.length ? ` (its pods ${result.deleted.join(', ')} were deleted)` : '';
    const message =
      `edge-upgrade ${args.upgradeId}: ${args.node} was kept cordoned by an earlier upgrade (${result.earlier})${deleted}: ` +
      `${result.reason}. ` +
      `This upgrade takes the cordon over and upgrades the node to ${args.targetVersion}; it is uncordoned only when that succeeds`;
    await events.warning('UpgradeCordonTakenOver', message);
  }
  return { cordonedByUs: result.kind !== 'theirs' };
}

async function cordonOnce(kube: Kube, args: NodeStepArgs): Promise<CordonOutcome> {
  const node = await readNodeIfExists(kube.core, args.node);
  if (!node)
    throw ApplicationFailure.nonRetryable(
      `node ${args.node} no longer exists in cluster ${args.clusterId}; it is skipped`,
      ErrorType.NodeRemoved,
    );
  await refuseIfOffline(kube, node, args);
  // Retrying a quarantined node: it is no longer quarantined once its upgrade starts again.
  const quarantined = node.metadata?.labels?.[QUARANTINED_LABEL] !== undefined;
  const unquarantine: Record<string, null> = quarantined ? { [QUARANTINE_REASON_ANNOTATION]: null } : {};
  const labels = quarantined ? { labels: { [QUARANTINED_LABEL]: null } } : {};
  if (node.spec?.unschedulable) {
    if (cordonedBy(node, args)) {
      if (quarantined) await patchNode(kube, node, { annotations: unquarantine, ...labels });
      return { kind: 'ours-already' };
    }
    if (cordonedByEarlier(node, args)) return takeOver(kube, node, args, { annotations: unquarantine, ...labels });
    // Someone else's cordon: leave it, and drop any record of ours it carries.
    if (staleRecord(node) || quarantined) await patchNode(kube, node, { annotations: { ...NO_CORDON_RECORD, ...unquarantine }, ...labels });
    return { kind: 'theirs' };
  }
  try {
    const annotations = { ...cordonAnnotations(args, args.targetVersion), ...unquarantine };
    await patchNode(kube, node, { annotations, ...labels, unschedulable: true });
  } catch (err) {
    rethrowInvalid(err, args.node, 'cordon', 'cordoning');
  }
  return { kind: 'cordoned' };
}

/**
 * A node kept cordoned by an earlier upgrade of the same ID (its cancel found it half-upgraded, or it was
 * quarantined, or that upgrade ended without a cleanup) is taken over when this upgrade reaches it: the
 * earlier upgrade's finished (or never started) upgrade pods on it are deleted, so this upgrade's pod is
 * made afresh, and the record becomes this upgrade's, keeping the earlier reason
 * ({@link KEPT_REASON_ANNOTATION}) until this upgrade has upgraded the node: a cleanup before that keeps it
 * cordoned. An earlier upgrade pod still running there fails the step: two upgrades never run on one node.
 */
async function takeOver(
  kube: Kube,
  node: V1Node,
  args: NodeStepArgs,
  extra: { annotations: Record<string, null>; labels?: Record<string, null> },
): Promise<CordonOutcome> {
  const record = cordonRecord(node);
  const [earlier, reason] = [earlierUpgrade(record), keptBecause(record)];
  const selector = `${upgradeSelector(args.upgradeId)},${NODE_NAME_LABEL}=${labelValue(args.node)}`;
  const { items } = await kube.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE, labelSelector: selector });
  const pods = items.filter((p) => p.metadata?.labels?.[AGENT_MODE_LABEL] === undefined);
  const running = pods.find((p) => !finishedOrUnstarted(p));
  if (running) {
    const message =
      `${args.node} is kept cordoned by an earlier upgrade (${earlier}), ` +
      `whose upgrade pod ${UPGRADE_NAMESPACE}/${running.metadata?.name} ` +
      `is still ${running.status?.phase ?? 'Pending'}; wait until it ends (or delete it), then resume`;
    throw nodeStepFailed({ node: args.node, step: 'cordon', message });
  }
  for (const p of pods)
    await ignoreNotFound(() =>
      kube.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: UPGRADE_NAMESPACE, gracePeriodSeconds: 0 }),
    );
  const annotations = { ...cordonAnnotations(args, args.targetVersion, reason), ...extra.annotations };
  await patchNode(kube, node, { annotations, ...(extra.labels ? { labels: extra.labels } : {}) });
  return { kind: 'taken-over', earlier, reason, deleted: pods.map((p) => `${UPGRADE_NAMESPACE}/${p.metadata?.name}`) };
}

/** A pod no kubelet has taken: Pending without a start time (the kubelet sets one when it accepts the pod). */
export function neverStarted(p: V1Pod): boolean {
  return (p.status?.phase ?? 'Pending') === 'Pending' && !p.status?.startTime;
}

/** Succeeded, Failed, or never started ({@link neverStarted}). */
function finishedOrUnstarted(p: V1Pod): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' || neverStarted(p);
}

/**
 * Removes our cordon and annotation from `node` if this upgrade cordoned it and nobody has
 * re-cordoned it since. A stale annotation (the node is schedulable, or someone else set the
 * cordon) is removed without uncordoning. Returns whether it uncordoned.
 */
export async function uncordonIfOurs(
  clients: KubeClients,
  args: CordonOwner & { clusterId: string; targetVersion: string; node: string; reason: string },
): Promise<boolean> {
  const kube = clients.for(args.clusterId);
  const done = await withApiRetry(
    kube,
    async () => {
      const node = await readNodeIfExists(kube.core, args.node);
      if (!node) return false; // deleted: nothing left to uncordon
      if (!cordonedBy(node, args)) {
        if (recordedBy(node, args) && staleRecord(node)) await patchNode(kube, node, { annotations: NO_CORDON_RECORD });
        return false;
      }
      try {
        await patchNode(kube, node, { annotations: NO_CORDON_RECORD, unschedulable: false });
      } catch (err) {
        rethrowInvalid(err, args.node, 'uncordon', 'uncordoning');
      }
      return true;
    },
    { forMs: kube.stepRetryMs ?? CORDON_RETRY_MS },
  );
  if (done) {
    const message = `edge-upgrade ${args.upgradeId}: uncordoned ${args.node} (${args.reason})`;
    await new EventRecorder(kube.core, args).normal('UpgradeUncordoned', message);
  }
  return done;
}

/** Implements `uncordonNode`. */
export async function uncordonNode(clients: KubeClients, args: NodeStepArgs): Promise<{ uncordoned: boolean }> {
  return { uncordoned: await uncordonIfOurs(clients, { ...args, reason: `this upgrade no longer needs it cordoned` }) };
}
