/**
 * Drain through the Eviction API (policy/v1), as kubectl drain does: plan which pods go
 * (planning/drain.ts), evict them, retry refused evictions (429) about every 5 s while
 * heartbeating, and count a pod gone when it is deleted or replaced (UID changed). Pods that are
 * already terminating (an earlier attempt evicted them, or someone deleted them) are waited for,
 * not skipped. API server outages inside the loop mean "keep waiting": only drainTimeout ends it,
 * with a message that names the blocking PodDisruptionBudget and pod, the pods still terminating,
 * or the unreachable API server. The activity stops when it is cancelled.
 */
import type { V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { drainBlockedMessage, pdbsForPod, podKey, podsToAwait, podsToEvict, terminatingDetail } from '../planning/drain.js';
import { EventRecorder } from './events.js';
import {
  ApiOutage,
  apiMessage,
  heartbeat,
  listAll,
  nodeStepFailed,
  previousHeartbeat,
  sleep,
  statusOf,
  throwIfCancelled,
  type Kube,
  type KubeClients,
} from './kube.js';
import type { NodeStepArgs } from './types.js';

/** How often refused evictions are retried and pods checked, in ms (kubectl uses 5 s for 429). */
export const EVICTION_RETRY_MS = 5_000;
const POLL_MS = 1_000;

/** Heartbeat details: lets a retried attempt keep the original deadline and count. */
interface DrainProgress {
  startedAt: number;
  evicted: number;
  pending: string[];
  /** Set while the API server is failing: what and for how long. */
  apiOutage?: string;
}

type Refused = { pod: V1Pod; refusal?: string; nextTry: number };

/** Implements `drainNode`. */
export async function drainNode(clients: KubeClients, args: NodeStepArgs & { drainTimeoutMs: number }): Promise<{ evicted: number }> {
  const kube = clients.for(args.clusterId);
  const prev = previousHeartbeat<DrainProgress>();
  const startedAt = prev?.startedAt ?? Date.now();
  const deadline = startedAt + args.drainTimeoutMs;
  let evicted = prev?.evicted ?? 0;
  const events = new EventRecorder(kube.core, args);
  const event = (reason: string, message: string) => events.normal(reason, `edge-upgrade ${args.upgradeId}: ${message}`);

  const outage = new ApiOutage(kube.server);
  let planned = false;
  // Pods whose eviction was accepted (or that were terminating already), waiting to disappear; and pods still to evict with the last refusal.
  const waiting = new Map<string, V1Pod>();
  const toEvict = new Map<string, Refused>();

  for (;;) {
    throwIfCancelled();
    try {
      if (!planned) {
        const all = await listAll<V1Pod>((cont) =>
          kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${args.node}`, limit: 500, _continue: cont }),
        );
        for (const p of podsToEvict(all)) toEvict.set(podKey(p), { pod: p, nextTry: 0 });
        for (const p of podsToAwait(all)) waiting.set(podKey(p), p);
        planned = true;
        if (toEvict.size + waiting.size === 0) {
          await event('UpgradeDrained', `nothing to evict on ${args.node}`);
          return { evicted };
        }
        const already = waiting.size > 0 ? ` (${waiting.size} already terminating)` : '';
        await event('UpgradeDraining', `evicting ${toEvict.size} pod(s) from ${args.node}${already}`);
      }
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
        const current = await stillThere(kube, pod);
        if (current) {
          waiting.set(key, current);
        } else {
          waiting.delete(key);
          evicted++;
        }
      }
      outage.ok();
    } catch (err) {
      // Transient faults and conflicts: keep waiting until drainTimeout. Anything else fails the attempt.
      outage.failed(err);
    }
    if (planned && toEvict.size === 0 && waiting.size === 0) break;
    heartbeat({
      startedAt,
      evicted,
      pending: [...toEvict.keys(), ...waiting.keys()].slice(0, 20),
      apiOutage: outage.describe(),
    } satisfies DrainProgress);
    if (Date.now() >= deadline)
      throw await blocked(kube, args, {
        planned,
        refused: [...toEvict.values()],
        terminating: [...waiting.values()],
        outage,
        waitedMs: Date.now() - startedAt,
      });
    await sleep(POLL_MS);
  }
  await event('UpgradeDrained', `evicted ${evicted} pod(s) from ${args.node}`);
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
      body: {
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name, namespace },
        deleteOptions: { preconditions: { uid: pod.metadata?.uid } },
      },
    });
    return { outcome: 'accepted' };
  } catch (err) {
    const code = statusOf(err);
    if (code === 404) return { outcome: 'gone' };
    // 409: usually the UID precondition failed (the pod we meant was replaced); otherwise a conflict to retry.
    if (code === 409) return (await stillThere(kube, pod)) ? { outcome: 'refused', message: apiMessage(err) } : { outcome: 'gone' };
    // 429: a PDB forbids it now. 500 with two PDBs: refused until someone fixes the budgets.
    if (code === 429 || (code === 500 && /more than one PodDisruptionBudget/i.test(apiMessage(err))))
      return { outcome: 'refused', message: apiMessage(err) };
    throw err;
  }
}

/** The pod as it is now if it still exists with the same UID, else undefined. */
async function stillThere(kube: Kube, pod: V1Pod): Promise<V1Pod | undefined> {
  try {
    const now = await kube.core.readNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace! });
    return now.metadata?.uid === pod.metadata?.uid ? now : undefined;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

async function blocked(
  kube: Kube,
  args: NodeStepArgs & { drainTimeoutMs: number },
  state: { planned: boolean; refused: Refused[]; terminating: V1Pod[]; outage: ApiOutage; waitedMs: number },
): Promise<Error> {
  const { refused, terminating, outage, waitedMs } = state;
  const seconds = Math.round(waitedMs / 1000);
  const parts: string[] = [];
  const first = refused[0];
  if (first) {
    let pdbs: V1PodDisruptionBudget[] = [];
    try {
      pdbs = pdbsForPod(
        first.pod,
        (await kube.policy.listNamespacedPodDisruptionBudget({ namespace: first.pod.metadata!.namespace! })).items,
      );
    } catch {
      // The message still names the pod and the API server's reason.
    }
    let message = drainBlockedMessage({ node: args.node, pod: first.pod, pdbs, apiMessage: first.refusal, waitedMs });
    if (refused.length > 1)
      message += ` (${refused.length - 1} more pod(s) refused: ${refused
        .slice(1, 6)
        .map((r) => podKey(r.pod))
        .join(', ')})`;
    parts.push(message);
  }
  if (terminating.length > 0) {
    const what = `evicted pods are still terminating: ${terminating.slice(0, 5).map(terminatingDetail).join(', ')}${terminating.length > 5 ? ` and ${terminating.length - 5} more` : ''}`;
    parts.push(
      first
        ? `also, ${what}`
        : `drain of ${args.node} timed out after ${seconds}s: ${what}; check their finalizers and the node's kubelet, or raise drainTimeout`,
    );
  }
  const api = outage.describe();
  if (api)
    parts.push(
      parts.length
        ? `meanwhile the ${api}`
        : `drain of ${args.node} timed out after ${seconds}s: ${api}${state.planned ? '' : ' (the pods to evict could not even be listed)'}`,
    );
  if (parts.length === 0) parts.push(`drain of ${args.node} timed out after ${seconds}s`);
  const message = parts.join('; ');
  await new EventRecorder(kube.core, args).warning('UpgradeDrainBlocked', message);
  return nodeStepFailed({ node: args.node, step: 'drain', message });
}
