/**
 * The `evaluateHealth` activity: one read-only evaluation of the health gate after a batch (or a
 * master). It reads the upgraded nodes, their Leases and pods, the ReplicaSets behind those pods
 * and the controllers the drain evicted from, then judges them with the pure checks in
 * planning/health.ts; the configured extra checks (probes.ts) run meanwhile. The workflow calls it
 * every few seconds and decides about flapping, stableFor and timeouts itself, so this answers
 * quickly: transient API errors are retried for {@link HEALTH_RETRY_MS}, everything is read within
 * {@link HEALTH_DEADLINE_MS}, and a cluster that cannot be read makes the built-in checks not ok
 * (with the reason) instead of failing the activity.
 */
import type { V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import type { HealthChecks } from '../config.js';
import {
  BUILTIN_GATE_CHECKS,
  daemonsetsCheck,
  isDaemonSetPod,
  nodesCheck,
  podOwner,
  podProblem,
  restartsCheck,
  selectorString,
  workloadsCheck,
  type ControllerState,
  type GateNode,
  type ReplicaSetOwners,
} from '../planning/health.js';
import { listAll } from '../kube/clients.js';
import { statusOf } from '../kube/errors.js';
import { activityErrorMessage, withApiRetry, type Kube, type KubeClients } from './kube.js';
import { resolveReplicaSets } from './owners.js';
import { runHealthProbe } from './probes.js';
import type { GateCheck, HealthArgs } from './types.js';

/** How long transient API errors are retried within one evaluation, in ms. */
export const HEALTH_RETRY_MS = 10_000;
/** Longest one evaluation of the built-in checks may take, in ms (its start-to-close timeout is 30 s). */
export const HEALTH_DEADLINE_MS = 20_000;
/** Most controllers whose unready pods are looked up, to name the nodes they are on. */
const LOCATE_CONTROLLERS = 5;
/**
 * Above this many nodes one evaluation lists nodes, Leases and pods once (three requests) instead of
 * reading each node's (three per node): a gate after a batch of 100 would otherwise send 300
 * requests every few seconds.
 */
const BULK_READ_NODES = 8;

/** What one evaluation reads. */
interface GateState {
  nodes: GateNode[];
  pods: V1Pod[];
  replicaSets: ReplicaSetOwners;
  controllers: ControllerState[];
}

/** Implements `evaluateHealth`: the built-in checks, then one per name in `args.checks` (from `probes`). */
export async function evaluateHealth(clients: KubeClients, probes: HealthChecks, args: HealthArgs): Promise<GateCheck[]> {
  const kube = clients.for(args.clusterId);
  const [builtIn, extra] = await Promise.all([
    builtInChecks(kube, args),
    Promise.all(args.checks.map((name) => runHealthProbe(name, Object.hasOwn(probes, name) ? probes[name] : undefined))),
  ]);
  return [...builtIn, ...extra];
}

async function builtInChecks(kube: Kube, args: HealthArgs): Promise<GateCheck[]> {
  let state: GateState;
  try {
    state = await withDeadline(
      withApiRetry(kube, () => readGateState(kube, args), { forMs: HEALTH_RETRY_MS }),
      HEALTH_DEADLINE_MS,
    );
  } catch (err) {
    const message = `cannot evaluate: ${activityErrorMessage(err, kube.server)}`;
    return BUILTIN_GATE_CHECKS.map((name) => ({ name, ok: false, message }));
  }
  return [
    nodesCheck(state.nodes, args.targetVersion),
    daemonsetsCheck(state.pods),
    workloadsCheck(state.pods, (p) => podOwner(p, state.replicaSets), state.controllers),
    restartsCheck(state.pods, new Date(args.since), args.maxRestarts),
  ];
}

async function readGateState(kube: Kube, args: HealthArgs): Promise<GateState> {
  const limit = pLimit(16);
  const [{ nodes, pods }, controllers] = await Promise.all([
    args.nodes.length > BULK_READ_NODES ? readAllAtOnce(kube, args.nodes) : readEach(kube, args.nodes, limit),
    Promise.all(args.owners.map((owner) => limit(() => readController(kube, owner)))),
  ]);
  const replicaSets = await resolveReplicaSets(
    kube,
    pods.filter((p) => !isDaemonSetPod(p)),
  );
  await locateUnready(kube, controllers);
  return { nodes, pods, replicaSets, controllers };
}

/** Each node, its Lease and its pods, one node at a time (a few nodes: a master, a small batch). */
async function readEach(kube: Kube, names: string[], limit: ReturnType<typeof pLimit>): Promise<{ nodes: GateNode[]; pods: V1Pod[] }> {
  const [nodes, podLists] = await Promise.all([
    Promise.all(names.map((name) => limit(() => readGateNode(kube, name)))),
    Promise.all(names.map((name) => limit(() => podsOn(kube, name)))),
  ]);
  return { nodes, pods: podLists.flat() };
}

/** All nodes, Leases and pods in three lists, kept to `names` (a large batch). */
async function readAllAtOnce(kube: Kube, names: string[]): Promise<{ nodes: GateNode[]; pods: V1Pod[] }> {
  const wanted = new Set(names);
  const [allNodes, leases, allPods] = await Promise.all([
    listAll<V1Node>((cont) => kube.core.listNode({ limit: 500, _continue: cont })),
    listAll<V1Lease>((cont) => kube.coordination.listNamespacedLease({ namespace: 'kube-node-lease', limit: 500, _continue: cont })).catch(
      (err: unknown) => {
        if (statusOf(err) === 403) return 'unreadable' as const;
        throw err;
      },
    ),
    listAll<V1Pod>((cont) => kube.core.listPodForAllNamespaces({ limit: 1000, _continue: cont })),
  ]);
  const byName = new Map(allNodes.map((n) => [n.metadata!.name!, n]));
  const leaseByName = leases === 'unreadable' ? null : new Map(leases.map((l) => [l.metadata!.name!, l]));
  const leaseOf = (name: string): GateNode['lease'] => (leaseByName ? (leaseByName.get(name) ?? null) : 'unreadable');
  return {
    nodes: names.map((name) => (byName.has(name) ? { name, node: byName.get(name)!, lease: leaseOf(name) } : { name })),
    pods: allPods.filter((p) => wanted.has(p.spec?.nodeName ?? '')),
  };
}

/** The Node (undefined when deleted) and its Lease. */
async function readGateNode(kube: Kube, name: string): Promise<GateNode> {
  let node: V1Node;
  try {
    node = await kube.core.readNode({ name });
  } catch (err) {
    if (statusOf(err) === 404) return { name };
    throw err;
  }
  let lease: V1Lease | null | 'unreadable';
  try {
    lease = await kube.coordination.readNamespacedLease({ name, namespace: 'kube-node-lease' });
  } catch (err) {
    const code = statusOf(err);
    if (code === 404) lease = null;
    else if (code === 403) lease = 'unreadable';
    else throw err;
  }
  return { name, node, lease };
}

function podsOn(kube: Kube, node: string): Promise<V1Pod[]> {
  return listAll<V1Pod>((cont) =>
    kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}`, limit: 500, _continue: cont }),
  );
}

/** A controller named 'Deployment/<ns>/<name>' or 'StatefulSet/<ns>/<name>' as it is now; other kinds count as missing. */
async function readController(kube: Kube, owner: string): Promise<ControllerState & { selector?: string }> {
  const [kind, namespace = '', name = ''] = owner.split('/');
  try {
    if (kind === 'Deployment') {
      const d = await kube.apps.readNamespacedDeployment({ name, namespace });
      return {
        owner,
        desired: d.spec?.replicas ?? 1,
        available: d.status?.availableReplicas ?? 0,
        selector: selectorString(d.spec?.selector),
      };
    }
    if (kind === 'StatefulSet') {
      const s = await kube.apps.readNamespacedStatefulSet({ name, namespace });
      return { owner, desired: s.spec?.replicas ?? 1, available: s.status?.readyReplicas ?? 0, selector: selectorString(s.spec?.selector) };
    }
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  return { owner, missing: true };
}

/** Fills `unreadyOn` of the first few unavailable controllers: the nodes their unready pods are on. */
async function locateUnready(kube: Kube, controllers: Array<ControllerState & { selector?: string }>): Promise<void> {
  const short = controllers.filter((c) => !c.missing && c.selector && (c.available ?? 0) < (c.desired ?? 1));
  await Promise.all(
    short.slice(0, LOCATE_CONTROLLERS).map(async (c) => {
      const namespace = c.owner.split('/')[1]!;
      const pods = (await kube.core.listNamespacedPod({ namespace, labelSelector: c.selector, limit: 500 })).items;
      c.unreadyOn = pods.filter((p) => podProblem(p) !== undefined).map((p) => p.spec?.nodeName || 'not scheduled');
    }),
  );
}

/** `p`, or a rejection when it takes longer than `ms`. */
async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the API server did not answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
