/**
 * The pure parts of the health gate's evaluation (the `evaluateHealth` activity reads, these judge):
 * naming a pod's controller, counting container restarts since the gate started, judging nodes,
 * DaemonSet pods, workloads and restarts, and a Prometheus query's answer. Every verdict is one
 * GateCheck whose message names the failing nodes and objects, the first few then "and N more".
 */
import type { V1LabelSelector, V1Lease, V1Node, V1ObjectMeta, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import { nodeReady } from './cluster.js';
import { MIRROR_POD_ANNOTATION, UPGRADE_NAMESPACE } from './labels.js';
import type { GateCheckState as GateCheck } from './types.js';
import { nodeVersion, parseVersion, sameVersion } from './versions.js';

/** Names of the built-in checks, in the order they are evaluated; a configured check may not take one. */
export const BUILTIN_GATE_CHECKS = ['nodes', 'daemonsets', 'workloads', 'restarts'] as const;

/** How many objects a message names before "and N more". */
export const MESSAGE_ITEMS = 3;

/** A node without a Lease counts as heartbeating while its Ready heartbeat is at most this old (node-monitor-grace-period), in ms. */
export const STATUS_HEARTBEAT_MS = 50_000;

/** 'a, b, c and 2 more'. */
export function listFew(items: string[], max = MESSAGE_ITEMS): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** 'Deployment/shop/pos-api': how an owner is named in HealthArgs.owners and drain results. */
export function ownerName(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** 'Deployment shop/pos-api': how an owner is named in messages. */
export function ownerLabel(owner: string): string {
  const [kind, ...rest] = owner.split('/');
  return `${kind} ${rest.join('/')}`;
}

/** The object's controller reference (controller: true), else its first owner reference. */
export function controllerRef(meta: V1ObjectMeta | undefined): V1OwnerReference | undefined {
  const refs = meta?.ownerReferences ?? [];
  return refs.find((r) => r.controller) ?? refs[0];
}

/** 'ns/name' of a pod. */
export function podRef(pod: V1Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

/**
 * What a ReplicaSet belongs to, for {@link podOwner}: the Deployment's name, `null` when the
 * ReplicaSet has no Deployment, `undefined` when it could not be read.
 */
export type ReplicaSetOwners = Map<string, string | null | undefined>;

/** The ReplicaSets ('ns/name') the pods' controllers are, to be read for {@link podOwner}. */
export function replicaSetsOf(pods: V1Pod[]): string[] {
  const out = new Set<string>();
  for (const p of pods) {
    const ref = controllerRef(p.metadata);
    if (ref?.kind === 'ReplicaSet') out.add(`${p.metadata?.namespace ?? ''}/${ref.name}`);
  }
  return [...out];
}

/** The Deployment a ReplicaSet object belongs to, or null. */
export function deploymentOfReplicaSet(rs: { metadata?: V1ObjectMeta }): string | null {
  const ref = controllerRef(rs.metadata);
  return ref?.kind === 'Deployment' ? ref.name : null;
}

/**
 * The pod's controller as 'Kind/ns/name', with a ReplicaSet resolved to its Deployment through
 * `replicaSets`. A ReplicaSet that could not be read is resolved from its name and the pod's
 * pod-template-hash label (a Deployment names its ReplicaSets '<deployment>-<hash>'). Undefined
 * for a pod without owner.
 */
export function podOwner(pod: V1Pod, replicaSets: ReplicaSetOwners = new Map()): string | undefined {
  const ref = controllerRef(pod.metadata);
  const ns = pod.metadata?.namespace ?? '';
  if (!ref) return undefined;
  if (ref.kind !== 'ReplicaSet') return ownerName(ref.kind, ns, ref.name);
  const known = replicaSets.get(`${ns}/${ref.name}`);
  if (known) return ownerName('Deployment', ns, known);
  if (known === null) return ownerName('ReplicaSet', ns, ref.name);
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (hash && ref.name.endsWith(`-${hash}`)) return ownerName('Deployment', ns, ref.name.slice(0, -hash.length - 1));
  return ownerName('ReplicaSet', ns, ref.name);
}

/** The controllers a drain reports for the gate: Deployments and StatefulSets only, deduplicated and sorted. */
export function gateOwners(owners: Iterable<string | undefined>): string[] {
  const keep = new Set<string>();
  for (const o of owners) if (o && (o.startsWith('Deployment/') || o.startsWith('StatefulSet/'))) keep.add(o);
  return [...keep].sort();
}

const time = (t: Date | string | undefined): number => (t ? new Date(t).getTime() : NaN);

/**
 * Container restarts of `pod` after `since`. A pod started after `since` counts its restartCount.
 * For an older pod the restartCount includes restarts from before the gate, so this is an
 * approximation from the last termination only: 1 when the container last terminated after
 * `since`, 2 when that terminated run itself had also started after `since` (a lower bound: a
 * container that crash-loops throughout counts 2, not its true number).
 */
export function restartsSince(pod: V1Pod, since: Date): Array<{ container: string; restarts: number }> {
  const cutoff = since.getTime();
  const startedAfter = time(pod.status?.startTime) >= cutoff;
  const out: Array<{ container: string; restarts: number }> = [];
  for (const c of pod.status?.containerStatuses ?? []) {
    let restarts = 0;
    if (startedAfter) restarts = c.restartCount ?? 0;
    else {
      const last = c.lastState?.terminated;
      if (last && time(last.finishedAt) > cutoff) restarts = time(last.startedAt) > cutoff ? 2 : 1;
    }
    if (restarts > 0) out.push({ container: c.name, restarts });
  }
  return out;
}

/** True for pods the gate ignores everywhere: upgrade pods (kube-upgrade) and pods that ended. */
export function gateIgnores(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return pod.metadata?.namespace === UPGRADE_NAMESPACE || phase === 'Succeeded' || phase === 'Failed';
}

/** True for a mirror (static) pod. */
export function isMirrorPod(pod: V1Pod): boolean {
  return pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined;
}

/** True when the pod is owned by a DaemonSet. */
export function isDaemonSetPod(pod: V1Pod): boolean {
  return controllerRef(pod.metadata)?.kind === 'DaemonSet';
}

/** 'Pending', 'Running, not Ready (ContainersNotReady)', 'terminating', or undefined when Running and Ready. */
export function podProblem(pod: V1Pod): string | undefined {
  if (pod.metadata?.deletionTimestamp) return 'terminating';
  const phase = pod.status?.phase ?? 'Pending';
  if (phase !== 'Running') return phase === 'Pending' && !pod.spec?.nodeName ? 'Pending, not scheduled' : phase;
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return undefined;
  return `Running, not Ready${ready?.reason ? ` (${ready.reason})` : ''}`;
}

/** One node as the gate sees it: the Node (undefined when deleted) and its Lease (null: none; 'unreadable': no permission). */
export interface GateNode {
  name: string;
  node?: V1Node;
  lease?: V1Lease | null | 'unreadable';
}

/** Why `n` is not healthy, or undefined. */
function nodeProblem(n: GateNode & { node: V1Node }, targetVersion: string, now: number): string | undefined {
  const problems: string[] = [];
  if (!nodeReady(n.node)) {
    const ready = n.node.status?.conditions?.find((c) => c.type === 'Ready');
    const why = ready?.message || ready?.reason;
    problems.push(`NotReady${why ? ` (${why})` : ''}`);
  }
  const version = n.node.status?.nodeInfo?.kubeletVersion ?? '';
  const parsed = nodeVersion({ kubeletVersion: version });
  if (!parsed || !sameVersion(parsed, parseVersion(targetVersion))) problems.push(`kubelet ${version || 'unknown'}, want ${targetVersion}`);
  const age = heartbeatAge(n, now);
  if (age !== undefined) problems.push(`no heartbeat for ${Math.round(age / 1000)}s`);
  return problems.length ? `${n.name} ${problems.join(', ')}` : undefined;
}

/** How old the node's last heartbeat is when it is stale (ms), else undefined. */
function heartbeatAge(n: GateNode & { node: V1Node }, now: number): number | undefined {
  if (n.lease === 'unreadable') return undefined;
  const renewed = time(n.lease?.spec?.renewTime as Date | string | undefined);
  if (n.lease && Number.isFinite(renewed)) {
    const validMs = (n.lease.spec?.leaseDurationSeconds ?? 40) * 1000;
    return now - renewed > validMs ? now - renewed : undefined;
  }
  const beat = time(n.node.status?.conditions?.find((c) => c.type === 'Ready')?.lastHeartbeatTime);
  if (!Number.isFinite(beat)) return undefined;
  return now - beat > STATUS_HEARTBEAT_MS ? now - beat : undefined;
}

/**
 * The 'nodes' check: each node Ready at `targetVersion` with a fresh heartbeat (its Lease renewed
 * within leaseDurationSeconds, else a recent Ready heartbeat). A deleted node is skipped and named.
 */
export function nodesCheck(nodes: GateNode[], targetVersion: string, now = Date.now()): GateCheck {
  const gone = nodes.filter((n) => !n.node).map((n) => n.name);
  const present = nodes.filter((n): n is GateNode & { node: V1Node } => n.node !== undefined);
  const problems = present.map((n) => nodeProblem(n, targetVersion, now)).filter((p): p is string => p !== undefined);
  const removed = gone.length ? `; ${gone.length} removed, skipped: ${listFew(gone)}` : '';
  if (problems.length > 0) {
    return {
      name: 'nodes',
      ok: false,
      message: `${problems.length} of ${present.length} node(s) not healthy: ${listFew(problems)}${removed}`,
    };
  }
  if (present.length === 0) return { name: 'nodes', ok: true, message: `no node left to check: ${listFew(gone)} removed` };
  return { name: 'nodes', ok: true, message: `${present.length} node(s) Ready at ${targetVersion}${removed}` };
}

/** The 'daemonsets' check: every DaemonSet pod on the nodes Running and Ready. `pods` are the nodes' pods. */
export function daemonsetsCheck(pods: V1Pod[]): GateCheck {
  const ds = pods.filter((p) => isDaemonSetPod(p) && p.metadata?.namespace !== UPGRADE_NAMESPACE);
  const problems: string[] = [];
  for (const p of ds) {
    const problem = podProblem(p);
    if (!problem) continue;
    const owner = controllerRef(p.metadata)!.name;
    problems.push(`pod ${podRef(p)} (DaemonSet ${p.metadata?.namespace}/${owner}) on ${p.spec?.nodeName}: ${problem}`);
  }
  if (problems.length > 0) {
    return {
      name: 'daemonsets',
      ok: false,
      message: `${problems.length} of ${ds.length} DaemonSet pod(s) not Ready: ${listFew(problems)}`,
    };
  }
  return { name: 'daemonsets', ok: true, message: ds.length ? `${ds.length} DaemonSet pod(s) Ready` : 'no DaemonSet pods on these nodes' };
}

/** A controller named in HealthArgs.owners as read now; `missing` when it no longer exists. */
export interface ControllerState {
  owner: string;
  missing?: boolean;
  desired?: number;
  /** availableReplicas of a Deployment, readyReplicas of a StatefulSet. */
  available?: number;
  /** Where its pods that are not Ready are, e.g. 'edge-003' or 'not scheduled'. */
  unreadyOn?: string[];
}

/** 'Deployment shop/pos-api: 1/2 available (unready pod on edge-003)', or undefined when it is available. */
export function controllerProblem(c: ControllerState): string | undefined {
  if (c.missing) return undefined;
  const desired = c.desired ?? 1;
  const available = c.available ?? 0;
  if (available >= desired) return undefined;
  const word = c.owner.startsWith('StatefulSet/') ? 'ready' : 'available';
  const where = c.unreadyOn?.length ? ` (unready pod on ${listFew([...new Set(c.unreadyOn)])})` : '';
  return `${ownerLabel(c.owner)}: ${available}/${desired} ${word}${where}`;
}

/**
 * The 'workloads' check: every other pod on the nodes (not DaemonSet, not mirror, not ended, not in
 * kube-upgrade) Ready, named with its controller (`ownerOf`); and every evicted controller available again.
 */
export function workloadsCheck(pods: V1Pod[], ownerOf: (pod: V1Pod) => string | undefined, controllers: ControllerState[]): GateCheck {
  const mine = pods.filter((p) => !gateIgnores(p) && !isDaemonSetPod(p) && !isMirrorPod(p));
  const problems: string[] = [];
  for (const p of mine) {
    const problem = podProblem(p);
    if (!problem) continue;
    const owner = ownerOf(p);
    problems.push(`pod ${podRef(p)}${owner ? ` (${ownerLabel(owner)})` : ''} on ${p.spec?.nodeName}: ${problem}`);
  }
  const unavailable = controllers.map(controllerProblem).filter((m): m is string => m !== undefined);
  const parts: string[] = [];
  if (unavailable.length) parts.push(`${unavailable.length} controller(s) not available: ${listFew(unavailable)}`);
  if (problems.length) parts.push(`${problems.length} of ${mine.length} pod(s) not Ready: ${listFew(problems)}`);
  if (parts.length) return { name: 'workloads', ok: false, message: parts.join('; ') };
  const live = controllers.filter((c) => !c.missing).length;
  const gone = controllers.length - live;
  const ctl = controllers.length ? `; ${live} evicted controller(s) available${gone ? `, ${gone} gone` : ''}` : '';
  return { name: 'workloads', ok: true, message: `${mine.length} pod(s) Ready${ctl}` };
}

/** The 'restarts' check: no pod on the nodes with more than `maxRestarts` container restarts since `since` (see {@link restartsSince}). */
export function restartsCheck(pods: V1Pod[], since: Date, maxRestarts: number): GateCheck {
  const problems: string[] = [];
  let total = 0;
  for (const p of pods) {
    if (gateIgnores(p)) continue;
    const counts = restartsSince(p, since);
    const sum = counts.reduce((s, c) => s + c.restarts, 0);
    total += sum;
    if (sum <= maxRestarts) continue;
    const what = counts.map((c) => `${c.container} ${c.restarts}x`).join(', ');
    problems.push(`pod ${podRef(p)} on ${p.spec?.nodeName}: ${what}`);
  }
  if (problems.length > 0) {
    const message = `${problems.length} pod(s) restarted more than ${maxRestarts} time(s) since the gate started: ${listFew(problems)}`;
    return { name: 'restarts', ok: false, message };
  }
  return { name: 'restarts', ok: true, message: total ? `${total} restart(s), within the limit of ${maxRestarts}` : 'no restarts' };
}

/**
 * The verdict on a Prometheus instant query's JSON answer (/api/v1/query): ok when `status` is
 * 'success' and the result is non-empty (a vector or matrix with at least one series; a scalar
 * or string always is). Messages never quote the query or the URL.
 */
export function prometheusVerdict(body: unknown): { ok: boolean; message: string } {
  const b = body as { status?: unknown; data?: { resultType?: unknown; result?: unknown }; errorType?: unknown; error?: unknown };
  if (!b || typeof b !== 'object') return { ok: false, message: 'answer is not a Prometheus query response' };
  if (b.status !== 'success') {
    const why = [b.errorType, b.error].filter((x) => typeof x === 'string').join(': ');
    return { ok: false, message: `query failed${why ? `: ${why.slice(0, 200)}` : ` (status ${String(b.status)})`}` };
  }
  const result = b.data?.result;
  const type = String(b.data?.resultType ?? '');
  if ((type === 'scalar' || type === 'string') && Array.isArray(result)) return { ok: true, message: `query returned a ${type}` };
  if (!Array.isArray(result)) return { ok: false, message: 'answer has no data.result' };
  if (result.length === 0) return { ok: false, message: 'query returned an empty result' };
  return { ok: true, message: `query returned ${result.length} series` };
}

/** A label selector as a query string ('app=web,tier in (a,b),!legacy'); '' selects everything. */
export function selectorString(sel: V1LabelSelector | undefined): string {
  const parts = Object.entries(sel?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/** The message refusing gate checks the worker does not configure, or undefined when all are configured. */
export function unknownGateChecks(requested: string[], configured: string[], clusterId: string): string | undefined {
  const unknown = [...new Set(requested.filter((n) => !configured.includes(n)))];
  if (unknown.length === 0) return undefined;
  const names = unknown.map((n) => `"${n}"`).join(', ');
  const known = configured.length ? `this worker configures ${[...configured].sort().join(', ')}` : 'this worker configures none';
  return `gate check(s) ${names} not configured for cluster ${clusterId} (${known}); add them to healthChecks in the worker configuration`;
}
