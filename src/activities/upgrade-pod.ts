/**
 * The node's upgrade pod: ensure kube-upgrade exists, create (or find) the pod named from
 * (node, target), and wait until it Succeeded, the node reports the target kubeletVersion and is
 * Ready. A Failed pod is reported with its log tail, never silently recreated: the seed wants the
 * operator (or a resume) to delete it first.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { nodeReady } from '../planning/cluster.js';
import { UPGRADE_CONTAINER, UPGRADE_NAMESPACE } from '../planning/labels.js';
import { upgradePodName } from '../planning/names.js';
import { buildUpgradePod } from '../planning/upgrade-pod.js';
import { parseVersion, sameVersion } from '../planning/versions.js';
import { nodeEvent, podEvent } from './events.js';
import { ensureUpgradeNamespace } from './namespace.js';
import { nextChange, ObjectWatch } from './watch.js';
import { apiMessage, heartbeat, nodeStepFailed, previousHeartbeat, rethrowInvalid, sleep, statusOf, type Kube, type KubeClients } from './kube.js';
import type { NodeStepArgs } from './types.js';

/**
 * While waiting, the pod and the node are watched; without a change they are re-read (and the
 * activity heartbeats) this often, in ms.
 */
export const UPGRADE_RECHECK_MS = 5_000;
/** Lines of the pod's log kept in the failure. */
export const LOG_TAIL_LINES = 20;

interface WaitProgress {
  startedAt: number;
  pod: string;
  phase?: string;
}

function nodeAtTarget(node: V1Node, target: string): boolean {
  try {
    return sameVersion(parseVersion(node.status?.nodeInfo?.kubeletVersion ?? '', 'kubeletVersion'), parseVersion(target));
  } catch {
    return false;
  }
}

/** The last lines of the pod's log, or the container's termination message when the log cannot be read. */
export async function logTail(kube: Kube, pod: V1Pod): Promise<string> {
  try {
    const log = await kube.core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: UPGRADE_NAMESPACE, container: UPGRADE_CONTAINER, tailLines: LOG_TAIL_LINES });
    if (typeof log === 'string' && log.trim()) return log.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    // Offline kubelet or log rotated away: fall back to the termination message.
  }
  const terminated = pod.status?.containerStatuses?.find((c) => c.name === UPGRADE_CONTAINER)?.state?.terminated;
  return terminated?.message?.trimEnd() ?? terminated?.reason ?? '';
}

async function failed(kube: Kube, args: NodeStepArgs, pod: V1Pod): Promise<Error> {
  const tail = await logTail(kube, pod);
  const lastLine = tail.split('\n').filter(Boolean).pop();
  const name = pod.metadata!.name!;
  const message =
    `upgrade pod ${UPGRADE_NAMESPACE}/${name} failed on ${args.node}${lastLine ? `: ${lastLine}` : ''}. ` +
    `See kubectl -n ${UPGRADE_NAMESPACE} logs ${name}; resume deletes the failed pod and retries the node`;
  await podEvent(kube.core, { pod, node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, type: 'Warning', reason: 'UpgradeFailed', message });
  await nodeEvent(kube.core, { node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, type: 'Warning', reason: 'UpgradeFailed', message });
  return nodeStepFailed({ node: args.node, step: 'upgrade-pod', message, ...(tail ? { logTail: tail } : {}) });
}

/** Reads the pod, or creates it when absent (a 409 from a racing attempt means it exists: reuse it). */
async function findOrCreate(kube: Kube, args: NodeStepArgs & { image: string; nodeTimeoutMs: number }): Promise<{ pod: V1Pod; created: boolean }> {
  const name = upgradePodName(args.node, args.targetVersion);
  try {
    return { pod: await kube.core.readNamespacedPod({ name, namespace: UPGRADE_NAMESPACE }), created: false };
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  await ensureUpgradeNamespace(kube);
  const body = buildUpgradePod({ node: args.node, role: args.role, targetVersion: args.targetVersion, upgradeId: args.upgradeId, image: args.image, nodeTimeoutMs: args.nodeTimeoutMs });
  for (let attempt = 0; ; attempt++) {
    try {
      return { pod: await kube.core.createNamespacedPod({ namespace: UPGRADE_NAMESPACE, body }), created: true };
    } catch (err) {
      if (statusOf(err) === 409) return { pod: await kube.core.readNamespacedPod({ name, namespace: UPGRADE_NAMESPACE }), created: false };
      // A namespace we just created has no default ServiceAccount for a moment; admission refuses pods until it does.
      if (statusOf(err) === 403 && /serviceaccount/i.test(apiMessage(err)) && attempt < 60) {
        await sleep(500);
        continue;
      }
      rethrowInvalid(err, args.node, 'upgrade-pod', `creating upgrade pod ${UPGRADE_NAMESPACE}/${name}`);
    }
  }
}

/** Implements `runUpgradePod`. */
export async function runUpgradePod(clients: KubeClients, defaultImage: string, args: NodeStepArgs & { upgradeImage?: string; nodeTimeoutMs: number }): Promise<{ pod: string }> {
  const kube = clients.for(args.clusterId);
  const prev = previousHeartbeat<WaitProgress>();
  const startedAt = prev?.startedAt ?? Date.now();
  const image = args.upgradeImage ?? defaultImage;

  let { pod, created } = await findOrCreate(kube, { ...args, image });
  const name = pod.metadata!.name!;
  if (pod.status?.phase === 'Failed') throw await failed(kube, args, pod);
  if (created) {
    const message = `edge-upgrade ${args.upgradeId}: upgrading ${args.node} (${args.role}) to ${args.targetVersion} with pod ${UPGRADE_NAMESPACE}/${name}`;
    await podEvent(kube.core, { pod, node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, reason: 'UpgradeStarted', message });
    await nodeEvent(kube.core, { node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, reason: 'UpgradeStarted', message });
  }

  const podWatch = new ObjectWatch<V1Pod>(kube.kc, `/api/v1/namespaces/${UPGRADE_NAMESPACE}/pods`, name);
  const nodeWatch = new ObjectWatch<V1Node>(kube.kc, '/api/v1/nodes', args.node);
  await Promise.all([podWatch.start(), nodeWatch.start()]);
  try {
    let node = await kube.core.readNode({ name: args.node });
    for (;;) {
      const phase = pod.status?.phase;
      if (phase === 'Failed') throw await failed(kube, args, pod);
      const atTarget = nodeAtTarget(node, args.targetVersion);
      if (phase === 'Succeeded' && atTarget && nodeReady(node)) {
        if (created || prev) {
          const message = `edge-upgrade ${args.upgradeId}: ${args.node} runs kubelet ${args.targetVersion} and is Ready`;
          await podEvent(kube.core, { pod, node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, reason: 'UpgradeSucceeded', message });
          await nodeEvent(kube.core, { node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, reason: 'UpgradeSucceeded', message });
        }
        return { pod: name };
      }
      const waited = Date.now() - startedAt;
      if (waited >= args.nodeTimeoutMs) {
        const why =
          phase !== 'Succeeded'
            ? `pod ${UPGRADE_NAMESPACE}/${name} is still ${phase ?? 'Pending'}${nodeReady(node) ? '' : ' and the node is not Ready (offline edge site?)'}`
            : !atTarget
              ? `pod ${UPGRADE_NAMESPACE}/${name} Succeeded but the node still reports kubelet ${node.status?.nodeInfo?.kubeletVersion ?? '?'}`
              : 'the node has not become Ready since its kubelet restarted';
        const message = `${args.node} did not finish its upgrade to ${args.targetVersion} within ${Math.round(args.nodeTimeoutMs / 1000)}s: ${why}. Check the node, or raise nodeTimeout, then resume`;
        await nodeEvent(kube.core, { node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, type: 'Warning', reason: 'UpgradeTimedOut', message });
        const tail = phase === 'Running' || phase === 'Succeeded' ? await logTail(kube, pod) : '';
        throw nodeStepFailed({ node: args.node, step: 'wait', message, ...(tail ? { logTail: tail } : {}) });
      }
      heartbeat({ startedAt, pod: name, phase } satisfies WaitProgress);
      const before = { pod: podWatch.current, node: nodeWatch.current, deleted: podWatch.deleted };
      await nextChange([podWatch, nodeWatch], UPGRADE_RECHECK_MS);
      const podChanged = podWatch.current !== before.pod || podWatch.deleted !== before.deleted;
      const nodeChanged = nodeWatch.current !== before.node;
      if (nodeChanged && nodeWatch.current) node = nodeWatch.current;
      if (podWatch.deleted && !before.deleted) {
        // Someone deleted the pod mid-upgrade: make it again (the agent is idempotent).
        ({ pod, created } = await findOrCreate(kube, { ...args, image }));
      } else if (podChanged && podWatch.current) {
        pod = podWatch.current;
      } else if (!podChanged && !nodeChanged) {
        // Nothing arrived: re-read both, in case the watches are down.
        try {
          pod = await kube.core.readNamespacedPod({ name, namespace: UPGRADE_NAMESPACE });
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
          ({ pod, created } = await findOrCreate(kube, { ...args, image }));
        }
        node = await kube.core.readNode({ name: args.node });
      }
    }
  } finally {
    podWatch.stop();
    nodeWatch.stop();
  }
}
