/**
 * Cleanup: delete failed upgrade pods before a resume, and restore what an upgrade changed when
 * it is cancelled (uncordon the nodes it cordoned; on the pause-timeout auto-cancel also delete its
 * pods and Events: those labelled with its upgrade ID and target, so earlier upgrades' records
 * stay). Successful pods otherwise stay: they are the upgrade's record. The upgrade's probe pods (agent --check)
 * are always deleted; those a `precheck` command made (labelled made-by its own workflow) never are.
 *
 * A cancel never makes a half-upgraded node schedulable: a node whose upgrade pod (of this upgrade
 * and target) Failed or has not finished, or Succeeded while the node is not Ready at the pod's
 * target (kubelet older, or not Ready), stays cordoned, its pod and Events stay (even on the
 * pause-timeout cancel), a Warning Event on the node says why, and the node is returned in `kept`.
 * Agent pods in another mode (prepare pods of the prepare phase on cloud nodes, labelled
 * edge-upgrade.io/agent-mode) changed nothing a cancel must keep: every cancel deletes them.
 */
import type { CoreV1Event, V1Node, V1Pod } from '@kubernetes/client-node';
import semver from 'semver';
import { nodeReady } from '../planning/cluster.js';
import {
  AGENT_MODE_LABEL,
  KEPT_REASON_ANNOTATION,
  MADE_BY_LABEL,
  NODE_EVENT_NAMESPACE,
  NODE_NAME_LABEL,
  TARGET_VERSION_LABEL,
  UPGRADE_NAMESPACE,
} from '../planning/labels.js';
import { labelValue } from '../planning/names.js';
import { upgradeSelector } from '../planning/upgrade-pod.js';
import { cordonRecord, recordedBy, recordedByEarlier } from '../planning/cordon-record.js';
import { cordonedBy, neverStarted, uncordonIfOurs } from './cordon.js';
import { EventRecorder } from './events.js';
import { listNodes } from './inventory.js';
import { FIELD_MANAGER, listAll, mergePatch } from '../kube/clients.js';
import { ignoreNotFound } from '../kube/errors.js';
import { heartbeat, type Kube, type KubeClients } from './kube.js';
import type { CleanupResult, UpgradeRef } from './types.js';

/**
 * Upgrade pods of `upgradeId`; with `targetVersion`, only those of that target. Probe pods a `precheck` command
 * made for the same upgrade ID (made-by another workflow) are not this upgrade's: they are left to their maker.
 */
async function listUpgradePods(kube: Kube, upgradeId: string, targetVersion?: string): Promise<V1Pod[]> {
  const selector = upgradeSelector(upgradeId) + (targetVersion ? `,${TARGET_VERSION_LABEL}=${labelValue(targetVersion)}` : '');
  const pods = await listAll<V1Pod>((cont) =>
    kube.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE, labelSelector: selector, limit: 500, _continue: cont }),
  );
  return pods.filter((p) => (p.metadata?.labels?.[MADE_BY_LABEL] ?? labelValue(upgradeId)) === labelValue(upgradeId));
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
    const kind = agentMode(p) ?? 'upgrade';
    const message = `edge-upgrade ${ref.upgradeId}: deleted failed ${kind} pod ${UPGRADE_NAMESPACE}/${p.metadata?.name} before resuming`;
    await new EventRecorder(kube.core, { ...ref, node }).normal('UpgradeRetry', message);
  }
  return { deleted };
}

/** Deletes this upgrade's Events in `namespace`, except those about the nodes in `keep`. */
async function deleteEvents(kube: Kube, namespace: string, ref: UpgradeRef, keep: Set<string>): Promise<number> {
  const selector = `${upgradeSelector(ref.upgradeId)},${TARGET_VERSION_LABEL}=${labelValue(ref.targetVersion)}`;
  const events = await listAll<CoreV1Event>((cont) =>
    kube.core.listNamespacedEvent({ namespace, labelSelector: selector, limit: 500, _continue: cont }),
  );
  const kept = new Set([...keep].map(labelValue));
  let n = 0;
  for (const e of events) {
    if (kept.has(e.metadata?.labels?.[NODE_NAME_LABEL] ?? '')) continue;
    if ((await ignoreNotFound(() => kube.core.deleteNamespacedEvent({ name: e.metadata!.name!, namespace }))) !== undefined) n++;
  }
  return n;
}

/** The mode of an agent pod that is not an upgrade pod ('prepare'), which never changes what a cancel must keep; else undefined. */
function agentMode(p: V1Pod): string | undefined {
  return p.metadata?.labels?.[AGENT_MODE_LABEL];
}

/** A node a cancel leaves cordoned, and why. */
export type KeptNode = CleanupResult['kept'][number];

/** The node an upgrade pod is pinned to. */
function podNode(p: V1Pod): string | undefined {
  return p.spec?.nodeName ?? p.metadata?.labels?.[NODE_NAME_LABEL];
}

/**
 * Why a Succeeded upgrade pod leaves `node` half-upgraded: it is not Ready at the pod's target (its
 * kubelet older, or not Ready); undefined when it is (a later hop's version counts too).
 */
function notReadyAtTarget(node: V1Node, pod: V1Pod): string | undefined {
  const target = pod.metadata?.labels?.[TARGET_VERSION_LABEL] ?? '';
  const kubelet = node.status?.nodeInfo?.kubeletVersion ?? '';
  const [want, have] = [semver.coerce(target), semver.coerce(kubelet)];
  const atTarget = want !== null && have !== null && semver.gte(have, want);
  if (atTarget && nodeReady(node)) return undefined;
  return atTarget
    ? `it is not Ready`
    : `its kubelet is ${kubelet || 'unknown'}, not ${target}${nodeReady(node) ? '' : ', and it is not Ready'}`;
}

/** A node a cleanup keeps cordoned: the upgrade pod that says why (none for a cordon taken over and not upgraded yet), and the reason. */
type Keep = { pod?: V1Pod; reason: string };

/**
 * Nodes among `cordoned` (under this upgrade's cordon) whose upgrade pod in `pods` did not succeed
 * (Failed, or still Pending/Running), or succeeded without the node becoming Ready at its target,
 * with the reason they stay cordoned. A cordon this upgrade took over from an earlier one (it carries the
 * earlier reason) stays too, unless this upgrade's pod there succeeded with the node Ready at the target.
 */
function halfUpgraded(cordoned: V1Node[], pods: V1Pod[]): Map<string, Keep> {
  const mine = new Map(cordoned.map((n) => [n.metadata!.name!, n]));
  const found = new Map<string, Keep>();
  const done = new Set<string>();
  for (const p of pods) {
    const node = mine.get(podNode(p) ?? '');
    if (!node) continue;
    const phase = p.status?.phase ?? 'Pending';
    const name = `${UPGRADE_NAMESPACE}/${p.metadata?.name}`;
    let why: string;
    if (phase === 'Succeeded') {
      const notReady = notReadyAtTarget(node, p);
      if (!notReady) {
        done.add(node.metadata!.name!);
        continue;
      }
      why = `its upgrade pod ${name} succeeded, but ${notReady}`;
    } else why = phase === 'Failed' ? `its upgrade pod ${name} failed` : `its upgrade pod ${name} has not finished (${phase})`;
    found.set(node.metadata!.name!, { pod: p, reason: `${why}; the node may be half-upgraded` });
  }
  for (const [name, node] of mine) {
    const earlier = cordonRecord(node).keptReason;
    if (earlier === undefined || found.has(name) || done.has(name)) continue;
    found.set(name, { reason: `it was kept cordoned before this upgrade took it over (${earlier}), and this upgrade has not upgraded it` });
  }
  return found;
}

/** Why cleanup runs: the upgrade was cancelled, or deferred workers were left out (their deferral expired). */
type CleanupCause = 'cancelled' | 'deferral-expired';

const CAUSES: Record<CleanupCause, { uncordon: string; kept: (node: string) => string; keptShort: string; event: string }> = {
  cancelled: {
    uncordon: 'the upgrade was cancelled',
    kept: (node) => `the upgrade was cancelled, but ${node} stays cordoned`,
    keptShort: 'kept at the cancel',
    event: 'UpgradeCancelledNodeKept',
  },
  'deferral-expired': {
    uncordon: 'it was left out: offline past the defer timeout',
    kept: (node) => `${node} was left out (offline past the defer timeout), but stays cordoned`,
    keptShort: 'kept when its deferral expired',
    event: 'UpgradeDeferredNodeKept',
  },
};

/**
 * Records on each kept node (and its pod) why the cleanup left it cordoned: a Warning Event, and the reason
 * in the node's cordon record ({@link KEPT_REASON_ANNOTATION}), which the next upgrade's pre-check reports.
 */
async function recordKept(kube: Kube, ref: UpgradeRef, kept: Map<string, Keep>, cause: CleanupCause): Promise<KeptNode[]> {
  const out: KeptNode[] = [];
  for (const [node, { pod, reason }] of kept) {
    const check = pod ? `Check the node and the pod's log, then delete the pod` : 'Check the node, then';
    const message =
      `edge-upgrade ${ref.upgradeId}: ${CAUSES[cause].kept(node)}: ${reason}. ` + `${check} uncordon it (kubectl uncordon ${node})`;
    const events = new EventRecorder(kube.core, { ...ref, node });
    await (pod ? events.withPod(pod) : events).warning(CAUSES[cause].event, message);
    const body = { metadata: { annotations: { [KEPT_REASON_ANNOTATION]: `${CAUSES[cause].keptShort}: ${reason}` } } };
    await ignoreNotFound(() => kube.core.patchNode({ name: node, fieldManager: FIELD_MANAGER, body }, mergePatch));
    out.push({ node, reason });
  }
  return out;
}

/** Implements `cleanupUpgrade`. */
export function cleanupUpgrade(
  clients: KubeClients,
  args: UpgradeRef & { deleteRecords: boolean; versions?: string[] },
): Promise<CleanupResult> {
  return cleanUpNodes(clients, args, 'cancelled');
}

/** Implements `releaseExpiredDeferred`: the cancel's rules, for `nodes` only, nothing deleted. */
export function releaseExpiredDeferred(
  clients: KubeClients,
  args: UpgradeRef & { nodes: string[]; versions?: string[] },
): Promise<CleanupResult> {
  return cleanUpNodes(clients, { ...args, deleteRecords: false }, 'deferral-expired');
}

async function cleanUpNodes(
  clients: KubeClients,
  args: UpgradeRef & { deleteRecords: boolean; versions?: string[]; nodes?: string[] },
  cause: CleanupCause,
): Promise<CleanupResult> {
  const kube = clients.for(args.clusterId);
  const only = args.nodes ? new Set(args.nodes) : undefined;
  // Every node our record names, including stale records: uncordonIfOurs lifts only our own cordons and drops the stale records.
  const nodes = await listNodes(kube);
  const recorded = nodes.filter((n) => recordedBy(n, args) && (!only || only.has(n.metadata!.name!)));
  // Nodes an earlier upgrade of the same ID keeps cordoned: their pods and Events are that upgrade's record.
  const earlier = nodes.filter((n) => recordedByEarlier(n, args)).map((n) => n.metadata!.name!);
  const ours = recorded.map((n) => n.metadata!.name!);
  // A multi-minor upgrade labels each hop's pods and Events with that hop's version.
  const versions = args.versions?.length ? args.versions : [args.targetVersion];
  const all = (await Promise.all(versions.map((v) => listUpgradePods(kube, args.upgradeId, v))))
    .flat()
    .filter((p) => !only || only.has(podNode(p) ?? ''));
  let pods = all.filter((p) => agentMode(p) === undefined);
  // A worker left out: an upgrade pod its kubelet never took (Pending, no start time) started nothing; it goes.
  const unstarted = cause === 'deferral-expired' ? pods.filter(neverStarted) : [];
  pods = pods.filter((p) => !unstarted.includes(p));
  // Prepare pods first: a cancel while paused in the prepare phase leaves none behind.
  const deletedAgentPods = await deletePods(kube, [...all.filter((p) => agentMode(p) !== undefined), ...unstarted]);
  // Only nodes still under our own cordon can be kept; stale records go through uncordonIfOurs, which drops them.
  const keep = halfUpgraded(
    recorded.filter((n) => cordonedBy(n, args)),
    pods,
  );
  const uncordoned: string[] = [];
  const { clusterId, upgradeId, runChain, targetVersion } = args;
  for (const node of ours) {
    // Progress for Temporal: a cleanup on a slow link is alive while it works through the nodes.
    heartbeat({ uncordoned: uncordoned.length, of: ours.length });
    if (keep.has(node)) continue;
    const reason = CAUSES[cause].uncordon;
    if (await uncordonIfOurs(clients, { clusterId, upgradeId, runChain, targetVersion, node, reason })) uncordoned.push(node);
  }
  let deletedPods = deletedAgentPods;
  let deletedEvents = 0;
  if (args.deleteRecords) {
    // The kept nodes' records stay, and those of nodes an earlier upgrade keeps.
    const spared = new Set([...keep.keys(), ...earlier]);
    deletedPods += await deletePods(
      kube,
      pods.filter((p) => !spared.has(podNode(p) ?? '')),
    );
    // After the pods, so the Events written while deleting them are deleted too.
    for (const version of versions) {
      const ref = { ...args, targetVersion: version };
      deletedEvents +=
        (await deleteEvents(kube, UPGRADE_NAMESPACE, ref, spared)) + (await deleteEvents(kube, NODE_EVENT_NAMESPACE, ref, spared));
    }
  }
  // Last, so the pause-timeout's deletion of Events cannot remove it (a retried attempt writes it again).
  const kept = await recordKept(kube, args, keep, cause);
  return { uncordoned, kept, deletedPods, deletedEvents };
}
