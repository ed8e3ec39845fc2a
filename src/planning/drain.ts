/**
 * Drain planning, after kubectl's drain filters: which pods on a node are evicted and which stay,
 * which PodDisruptionBudgets cover a pod, and the message when a drain is blocked. Pure.
 */
import type { V1LabelSelector, V1PodDisruptionBudget, V1Pod } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, MIRROR_POD_ANNOTATION, UPGRADE_NAMESPACE } from './labels.js';

/** What drain does with one pod, and why. */
export type PodVerdict =
  { action: 'evict' } | { action: 'wait' } | { action: 'skip'; reason: 'daemonset' | 'mirror' | 'finished' | 'upgrade-pod' };

/**
 * kubectl's filters: DaemonSet pods stay (their controller would recreate them at once), mirror
 * pods stay (the kubelet owns them), finished pods need nothing, and our own upgrade pods are
 * records, not workloads. A pod that is already terminating is waited for, as `kubectl drain`
 * does: it still runs (grace period, finalizers), and a retried drain must not skip what an
 * earlier attempt evicted.
 */
export function drainVerdict(pod: V1Pod): PodVerdict {
  if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) return { action: 'skip', reason: 'mirror' };
  if (pod.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.controller)) return { action: 'skip', reason: 'daemonset' };
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return { action: 'skip', reason: 'finished' };
  if (pod.metadata?.deletionTimestamp) return { action: 'wait' };
  if (pod.metadata?.namespace === UPGRADE_NAMESPACE && pod.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) {
    return { action: 'skip', reason: 'upgrade-pod' };
  }
  return { action: 'evict' };
}

/** The pods drain evicts, in a stable order (namespace/name). */
export function podsToEvict(pods: readonly V1Pod[]): V1Pod[] {
  return pods.filter((p) => drainVerdict(p).action === 'evict').sort((a, b) => podKey(a).localeCompare(podKey(b)));
}

/** The pods already terminating that drain waits for, in a stable order (namespace/name). */
export function podsToAwait(pods: readonly V1Pod[]): V1Pod[] {
  return pods.filter((p) => drainVerdict(p).action === 'wait').sort((a, b) => podKey(a).localeCompare(podKey(b)));
}

/**
 * Why a terminating pod is still there, for the drain-timeout message: its finalizers, or the
 * grace period its kubelet has to end it.
 */
export function terminatingDetail(pod: V1Pod): string {
  const finalizers = pod.metadata?.finalizers ?? [];
  if (finalizers.length > 0) return `${podKey(pod)} (finalizers: ${finalizers.join(', ')})`;
  const grace = pod.metadata?.deletionGracePeriodSeconds;
  return `${podKey(pod)} (${grace !== undefined ? `grace period ${grace}s, ` : ''}waiting for its kubelet)`;
}

/** 'namespace/name' of an object. */
export function podKey(o: { metadata?: { namespace?: string; name?: string } }): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/** True if a pod has no controller owner: eviction removes it for good. */
export function isBarePod(pod: V1Pod): boolean {
  return !pod.metadata?.ownerReferences?.some((o) => o.controller);
}

/** Kubernetes label-selector semantics (matchLabels and matchExpressions). An empty selector matches everything; a null one nothing. */
export function selectorMatches(selector: V1LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in l;
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(l[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(l[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** The PDBs in the pod's namespace whose selector matches it. */
export function pdbsForPod(pod: V1Pod, pdbs: readonly V1PodDisruptionBudget[]): V1PodDisruptionBudget[] {
  return pdbs.filter((b) => b.metadata?.namespace === pod.metadata?.namespace && selectorMatches(b.spec?.selector, pod.metadata?.labels));
}

/**
 * True if the PDB can never allow a disruption as written: maxUnavailable 0 (or 0%), or
 * minAvailable at least the number of pods it expects (or 100%).
 */
export function pdbNeverAllows(pdb: V1PodDisruptionBudget): boolean {
  const max = pdb.spec?.maxUnavailable;
  if (max !== undefined && (max === 0 || max === '0' || max === '0%')) return true;
  const min = pdb.spec?.minAvailable;
  if (min === '100%') return true;
  const expected = pdb.status?.expectedPods;
  return typeof min === 'number' && expected !== undefined && expected > 0 && min >= expected;
}

/**
 * The operator-facing reason a drain of `node` is stuck on `pod`: names the pod, the blocking PDB
 * (namespace/name) and the option that overrides the wait.
 */
export function drainBlockedMessage(args: {
  node: string;
  pod: V1Pod;
  pdbs: readonly V1PodDisruptionBudget[];
  apiMessage?: string;
  waitedMs: number;
}): string {
  const { node, pod, pdbs, apiMessage, waitedMs } = args;
  const seconds = Math.round(waitedMs / 1000);
  const budgets = pdbs.length
    ? pdbs
        .map((b) => {
          const limit =
            b.spec?.maxUnavailable !== undefined ? `maxUnavailable ${b.spec.maxUnavailable}` : `minAvailable ${b.spec?.minAvailable}`;
          return `PodDisruptionBudget ${podKey(b)} (${limit}, disruptionsAllowed ${b.status?.disruptionsAllowed ?? '?'})`;
        })
        .join(' and ')
    : 'a PodDisruptionBudget';
  const api = apiMessage ? ` (API server: ${apiMessage})` : '';
  return (
    `drain of ${node} blocked for ${seconds}s: eviction of pod ${podKey(pod)} is refused by ${budgets}${api}. ` +
    `Relax the budget or scale the workload up, then resume; or raise drainTimeout to wait longer`
  );
}
