/**
 * Cleanup: delete failed upgrade pods before a resume, and restore what an upgrade changed when
 * it is cancelled (uncordon the nodes it cordoned; on the pause-timeout auto-cancel also delete its
 * pods and Events: those labelled with its upgrade ID and target, so earlier upgrades' records
 * stay). Successful pods otherwise stay: they are the upgrade's record.
 */
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { NODE_EVENT_NAMESPACE, TARGET_VERSION_LABEL, UPGRADE_NAMESPACE } from '../planning/labels.js';
import { labelValue } from '../planning/names.js';
import { upgradeSelector } from '../planning/upgrade-pod.js';
import { recordedBy, uncordonIfOurs } from './cordon.js';
import { EventRecorder } from './events.js';
import { listNodes } from './inventory.js';
import { heartbeat, ignoreNotFound, listAll, type Kube, type KubeClients } from './kube.js';
import type { UpgradeRef } from './types.js';

/** Upgrade pods of `upgradeId`; with `targetVersion`, only those of that target. */
function listUpgradePods(kube: Kube, upgradeId: string, targetVersion?: string): Promise<V1Pod[]> {
  const selector = upgradeSelector(upgradeId) + (targetVersion ? `,${TARGET_VERSION_LABEL}=${labelValue(targetVersion)}` : '');
  return listAll((cont) =>
    kube.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE, labelSelector: selector, limit: 500, _continue: cont }),
  );
}

async function deletePods(kube: Kube, pods: V1Pod[]): Promise<number> {
  let n = 0;
  for (const p of pods) {
    heartbeat({ deleting: p.metadata?.name });
    // Grace period 0: the pods are finished, or their node's kubelet may be gone for good.
    const done = await ignoreNotFound(() =>
      kube.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: UPGRADE_NAMESPACE, gracePeriodSeconds: 0 }),
    );
    if (done !== undefined) n++;
  }
  return n;
}

/** Implements `deleteFailedUpgradePods`. */
export async function deleteFailedUpgradePods(clients: KubeClients, ref: UpgradeRef): Promise<{ deleted: number }> {
  const kube = clients.for(ref.clusterId);
  const failed = (await listUpgradePods(kube, ref.upgradeId)).filter((p) => p.status?.phase === 'Failed');
  const deleted = await deletePods(kube, failed);
  for (const p of failed) {
    const node = p.spec?.nodeName;
    if (!node) continue;
    const message = `edge-upgrade ${ref.upgradeId}: deleted failed upgrade pod ${UPGRADE_NAMESPACE}/${p.metadata?.name} before resuming`;
    await new EventRecorder(kube.core, { ...ref, node }).normal('UpgradeRetry', message);
  }
  return { deleted };
}

async function deleteEvents(kube: Kube, namespace: string, ref: UpgradeRef): Promise<number> {
  const selector = `${upgradeSelector(ref.upgradeId)},${TARGET_VERSION_LABEL}=${labelValue(ref.targetVersion)}`;
  const events = await listAll<CoreV1Event>((cont) =>
    kube.core.listNamespacedEvent({ namespace, labelSelector: selector, limit: 500, _continue: cont }),
  );
  let n = 0;
  for (const e of events) {
    if ((await ignoreNotFound(() => kube.core.deleteNamespacedEvent({ name: e.metadata!.name!, namespace }))) !== undefined) n++;
  }
  return n;
}

/** Implements `cleanupUpgrade`. */
export async function cleanupUpgrade(
  clients: KubeClients,
  args: UpgradeRef & { deleteRecords: boolean },
): Promise<{ uncordoned: string[]; deletedPods: number; deletedEvents: number }> {
  const kube = clients.for(args.clusterId);
  // Every node our record names, including stale records: uncordonIfOurs lifts only our own cordons and drops the stale records.
  const ours = (await listNodes(kube)).filter((n) => recordedBy(n, args.upgradeId)).map((n) => n.metadata!.name!);
  const uncordoned: string[] = [];
  for (const node of ours) {
    // Progress for Temporal: a cleanup on a slow link is alive while it works through the nodes.
    heartbeat({ uncordoned: uncordoned.length, of: ours.length });
    if (
      await uncordonIfOurs(clients, {
        clusterId: args.clusterId,
        upgradeId: args.upgradeId,
        targetVersion: args.targetVersion,
        node,
        reason: 'the upgrade was cancelled',
      })
    )
      uncordoned.push(node);
  }
  if (!args.deleteRecords) return { uncordoned, deletedPods: 0, deletedEvents: 0 };
  const deletedPods = await deletePods(kube, await listUpgradePods(kube, args.upgradeId, args.targetVersion));
  // After the pods, so the Events written while deleting them are deleted too.
  const deletedEvents = (await deleteEvents(kube, UPGRADE_NAMESPACE, args)) + (await deleteEvents(kube, NODE_EVENT_NAMESPACE, args));
  return { uncordoned, deletedPods, deletedEvents };
}
