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
import { podControllers } from './owners.js';
import { listAll } from '../kube/clients.js';
import { apiMessage, statusOf } from '../kube/errors.js';
import { ApiOutage, heartbeat, nodeStepFailed, previousHeartbeat, sleep, throwIfCancelled, type Kube, type KubeClients } from './kube.js';
import type { NodeStepArgs } from './types.js';

/** How often refused evictions are retried and pods checked, in ms (kubectl uses 5 s for 429). */
export const EVICTION_RETRY_MS = 5_000;
const POLL_MS = 1_000;

/** Heartbeat details: lets a retried attempt keep the original deadline and count. */
interface DrainProgress {
  startedAt: number;
  /** The node drained: `edge-upgrade status` names the node of each step in flight from it. */
  node?: string;
  evicted: number;
  pending: string[];
  /** Pods whose eviction was refused, with the last refusal (a PodDisruptionBudget names itself there). */
  refused?: Array<{ pod: string; refusal: string }>;
  /** Pods evicted (or deleted) and still there, terminating, each with why (finalizers, grace period). */
  terminating?: string[];
  /** Controllers of the pods to evict, for the health gate ('Deployment/<ns>/<name>', 'StatefulSet/<ns>/<name>'). */
  owners?: string[];
  /** Set while the API server is failing: what and for how long. */
  apiOutage?: string;
}

type Refused = { pod: V1Pod; refusal?: string; nextTry: number };

type DrainArgs = NodeStepArgs & { drainTimeoutMs: number };

/** Implements `drainNode`. */
export async function drainNode(clients: KubeClients, args: DrainArgs): Promise<{ evicted: number; owners: string[] }> {
  const drain = new Drain(clients.for(args.clusterId), args);
  for (;;) {
    throwIfCancelled();
    try {
      if (!drain.planned && (await drain.plan()) === 'nothing') break;
      await drain.evictDue();
      await drain.forgetGone();
      drain.outage.ok();
    } catch (err) {
      // Transient faults and conflicts: keep waiting until drainTimeout. Anything else fails the attempt.
      drain.outage.failed(err);
    }
    if (drain.done) break;
    heartbeat(drain.progress());
    if (Date.now() >= drain.deadline) throw await blocked(drain.kube, args, drain.blockedState());
    await sleep(POLL_MS);
  }
  const what = drain.evicted === 0 ? 'nothing to evict on' : `evicted ${drain.evicted} pod(s) from`;
  await new EventRecorder(drain.kube.core, args).normal('UpgradeDrained', `edge-upgrade ${args.upgradeId}: ${what} ${args.node}`);
  return { evicted: drain.evicted, owners: [...drain.owners].sort() };
}

/** One drain attempt: the pods still to evict (with their last refusal) and those waited for. */
class Drain {
  private readonly prev = previousHeartbeat<DrainProgress>();
  readonly startedAt = this.prev?.startedAt ?? Date.now();
  readonly deadline: number;
  readonly outage: ApiOutage;
  evicted = this.prev?.evicted ?? 0;
  /** Controllers of the pods this drain evicts (Deployments and StatefulSets), kept across attempts in the heartbeat. */
  readonly owners = new Set<string>(this.prev?.owners ?? []);
  planned = false;
  /** Pods whose eviction was accepted (or that were terminating already), waiting to disappear. */
  private readonly waiting = new Map<string, V1Pod>();
  private readonly toEvict = new Map<string, Refused>();

  constructor(
    readonly kube: Kube,
    private readonly args: DrainArgs,
  ) {
    this.deadline = this.startedAt + args.drainTimeoutMs;
    this.outage = new ApiOutage(kube.server);
  }

  get done(): boolean {
    return this.planned && this.toEvict.size === 0 && this.waiting.size === 0;
  }

  /** Lists the node's pods and sorts them into to-evict and to-await. */
  async plan(): Promise<'nothing' | 'planned'> {
    const all = await listAll<V1Pod>((cont) =>
      this.kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${this.args.node}`, limit: 500, _continue: cont }),
    );
    for (const p of podsToEvict(all)) this.toEvict.set(podKey(p), { pod: p, nextTry: 0 });
    for (const p of podsToAwait(all)) this.waiting.set(podKey(p), p);
    const controlled = [...this.toEvict.values()].map((r) => r.pod).concat([...this.waiting.values()]);
    for (const owner of await podControllers(this.kube, controlled)) this.owners.add(owner);
    this.planned = true;
    return this.toEvict.size + this.waiting.size === 0 ? 'nothing' : 'planned';
  }

  /** Evicts the pods whose retry time has come; refused ones are tried again after {@link EVICTION_RETRY_MS}. */
  async evictDue(): Promise<void> {
    const now = Date.now();
    for (const [key, entry] of this.toEvict) {
      if (entry.nextTry > now) continue;
      const result = await evict(this.kube, entry.pod);
      if (result.outcome === 'accepted') {
        this.toEvict.delete(key);
        this.waiting.set(key, entry.pod);
      } else if (result.outcome === 'gone') {
        this.toEvict.delete(key);
        this.evicted++;
      } else {
        entry.refusal = result.message;
        entry.nextTry = now + EVICTION_RETRY_MS;
      }
    }
  }

  /** Counts the awaited pods that are gone (deleted, or replaced under the same name). */
  async forgetGone(): Promise<void> {
    for (const [key, pod] of this.waiting) {
      const current = await stillThere(this.kube, pod);
      if (current) {
        this.waiting.set(key, current);
      } else {
        this.waiting.delete(key);
        this.evicted++;
      }
    }
  }

  progress(): DrainProgress {
    const refused = [...this.toEvict].filter(([, r]) => r.refusal).map(([pod, r]) => ({ pod, refusal: r.refusal! }));
    return {
      startedAt: this.startedAt,
      node: this.args.node,
      evicted: this.evicted,
      pending: [...this.toEvict.keys(), ...this.waiting.keys()].slice(0, 20),
      refused: refused.slice(0, 5),
      terminating: [...this.waiting.values()].slice(0, 10).map(terminatingDetail),
      owners: [...this.owners],
      apiOutage: this.outage.describe(),
    };
  }

  blockedState(): BlockedState {
    return {
      planned: this.planned,
      refused: [...this.toEvict.values()],
      terminating: [...this.waiting.values()],
      outage: this.outage,
      waitedMs: Date.now() - this.startedAt,
    };
  }
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

type BlockedState = { planned: boolean; refused: Refused[]; terminating: V1Pod[]; outage: ApiOutage; waitedMs: number };

async function blocked(kube: Kube, args: DrainArgs, state: BlockedState): Promise<Error> {
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
    const more = terminating.length > 5 ? ` and ${terminating.length - 5} more` : '';
    const what = `evicted pods are still terminating: ${terminating.slice(0, 5).map(terminatingDetail).join(', ')}${more}`;
    const timedOut = `drain of ${args.node} timed out after ${seconds}s`;
    parts.push(first ? `also, ${what}` : `${timedOut}: ${what}; check their finalizers and the node's kubelet, or raise drainTimeout`);
  }
  const api = outage.describe();
  if (api) {
    const unlisted = state.planned ? '' : ' (the pods to evict could not even be listed)';
    parts.push(parts.length ? `meanwhile the ${api}` : `drain of ${args.node} timed out after ${seconds}s: ${api}${unlisted}`);
  }
  if (parts.length === 0) parts.push(`drain of ${args.node} timed out after ${seconds}s`);
  const message = parts.join('; ');
  await new EventRecorder(kube.core, args).warning('UpgradeDrainBlocked', message);
  return nodeStepFailed({ node: args.node, step: 'drain', message });
}
