/**
 * Drain through the Eviction API (policy/v1), as kubectl drain does: plan which pods go
 * (planning/drain.ts), evict them, retry refused evictions (429) about every 5 s while
 * heartbeating, and count a pod gone when it is deleted or replaced (UID changed). Past
 * drainTimeout it fails naming the blocking PodDisruptionBudget and pod.
 */
import type { V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { drainBlockedMessage, pdbsForPod, podKey, podsToEvict } from '../planning/drain.js';
import { nodeEvent } from './events.js';
import { listAll } from './inventory.js';
import { apiMessage, heartbeat, nodeStepFailed, previousHeartbeat, sleep, statusOf, type Kube, type KubeClients } from './kube.js';
import type { NodeStepArgs } from './types.js';

/** How often refused evictions are retried and pods checked, in ms (kubectl uses 5 s for 429). */
export const EVICTION_RETRY_MS = 5_000;
const POLL_MS = 1_000;

/** Heartbeat details: lets a retried attempt keep the original deadline and count. */
interface DrainProgress {
  startedAt: number;
  evicted: number;
  pending: string[];
}

/** Implements `drainNode`. */
export async function drainNode(clients: KubeClients, args: NodeStepArgs & { drainTimeoutMs: number }): Promise<{ evicted: number }> {
  const kube = clients.for(args.clusterId);
  const prev = previousHeartbeat<DrainProgress>();
  const startedAt = prev?.startedAt ?? Date.now();
  const deadline = startedAt + args.drainTimeoutMs;
  let evicted = prev?.evicted ?? 0;

  const pods = podsToEvict(await listAll<V1Pod>((cont) => kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${args.node}`, limit: 500, _continue: cont })));
  if (pods.length === 0) {
    await nodeEvent(kube.core, { node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, reason: 'UpgradeDrained', message: `edge-upgrade ${args.upgradeId}: nothing to evict on ${args.node}` });
    return { evicted };
  }
  await nodeEvent(kube.core, { node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, reason: 'UpgradeDraining', message: `edge-upgrade ${args.upgradeId}: evicting ${pods.length} pod(s) from ${args.node}` });

  // Pods whose eviction was accepted, waiting to disappear; and pods still to evict with the last refusal.
  const waiting = new Map<string, V1Pod>();
  const toEvict = new Map<string, { pod: V1Pod; refusal?: string; nextTry: number }>(pods.map((p) => [podKey(p), { pod: p, nextTry: 0 }]));

  for (;;) {
    const now = Date.now();
    for (const [key, entry] of toEvict) {
      if (entry.nextTry > now) continue;
      const result = await evict(kube, entry.pod);
      if (result.outcome === 'accepted') {
        toEvict.delete(key);
        waiting.set(key, entry.pod);
      } else if (result.outcome === 'gone') {
        toEvict.delete(key);
        evicted++;
      } else {
        entry.refusal = result.message;
        entry.nextTry = now + EVICTION_RETRY_MS;
      }
    }
    for (const [key, pod] of waiting) {
      if (await podGone(kube, pod)) {
        waiting.delete(key);
        evicted++;
      }
    }
    if (toEvict.size === 0 && waiting.size === 0) break;
    heartbeat({ startedAt, evicted, pending: [...toEvict.keys(), ...waiting.keys()].slice(0, 20) } satisfies DrainProgress);
    if (Date.now() >= deadline) throw await blocked(kube, args, [...toEvict.values()], [...waiting.values()], Date.now() - startedAt);
    await sleep(POLL_MS);
  }
  await nodeEvent(kube.core, { node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, reason: 'UpgradeDrained', message: `edge-upgrade ${args.upgradeId}: evicted ${evicted} pod(s) from ${args.node}` });
  return { evicted };
}

type EvictResult = { outcome: 'accepted' } | { outcome: 'gone' } | { outcome: 'refused'; message: string };

async function evict(kube: Kube, pod: V1Pod): Promise<EvictResult> {
  const name = pod.metadata!.name!;
  const namespace = pod.metadata!.namespace!;
  try {
    await kube.core.createNamespacedPodEviction({
      name,
      namespace,
      // The UID precondition: never evict a replacement that took the same name.
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace }, deleteOptions: { preconditions: { uid: pod.metadata?.uid } } },
    });
    return { outcome: 'accepted' };
  } catch (err) {
    const code = statusOf(err);
    if (code === 404) return { outcome: 'gone' };
    // 409: the UID precondition failed, so the pod we meant is gone (replaced).
    if (code === 409) return { outcome: 'gone' };
    // 429: a PDB forbids it now. 500 with two PDBs: refused until someone fixes the budgets.
    if (code === 429 || (code === 500 && /more than one PodDisruptionBudget/i.test(apiMessage(err)))) return { outcome: 'refused', message: apiMessage(err) };
    throw err;
  }
}

async function podGone(kube: Kube, pod: V1Pod): Promise<boolean> {
  try {
    const now = await kube.core.readNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace! });
    return now.metadata?.uid !== pod.metadata?.uid;
  } catch (err) {
    if (statusOf(err) === 404) return true;
    throw err;
  }
}

async function blocked(
  kube: Kube,
  args: NodeStepArgs & { drainTimeoutMs: number },
  refused: Array<{ pod: V1Pod; refusal?: string }>,
  terminating: V1Pod[],
  waitedMs: number,
): Promise<Error> {
  let message: string;
  const first = refused[0];
  if (first) {
    let pdbs: V1PodDisruptionBudget[] = [];
    try {
      pdbs = pdbsForPod(first.pod, (await kube.policy.listNamespacedPodDisruptionBudget({ namespace: first.pod.metadata!.namespace! })).items);
    } catch {
      // The message still names the pod and the API server's reason.
    }
    message = drainBlockedMessage({ node: args.node, pod: first.pod, pdbs, apiMessage: first.refusal, waitedMs });
    if (refused.length > 1) message += ` (${refused.length - 1} more pod(s) refused: ${refused.slice(1, 6).map((r) => podKey(r.pod)).join(', ')})`;
  } else {
    message =
      `drain of ${args.node} timed out after ${Math.round(waitedMs / 1000)}s: evicted pods are still terminating: ${terminating.slice(0, 5).map(podKey).join(', ')}` +
      `; check their finalizers and the node's kubelet, or raise drainTimeout`;
  }
  await nodeEvent(kube.core, { node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, type: 'Warning', reason: 'UpgradeDrainBlocked', message });
  return nodeStepFailed({ node: args.node, step: 'drain', message });
}
