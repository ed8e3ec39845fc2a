/**
 * The pre-check's items, evaluated from one read of the cluster (gathered by the `precheck`
 * activity). Pure: every rule here is table-tested. Each item names a cause an operator can act on
 * and the nodes concerned.
 */
import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import semver from 'semver';
import { nodeReady, toClusterNode } from './cluster.js';
import { cordonRecord, earlierUpgrade, keptBecause, recordedByEarlier } from './cordon-record.js';
import { isBarePod, pdbNeverAllows, pdbsForPod, podKey, podsToEvict } from './drain.js';
import { AGENT_MODE_LABEL, CORDONED_BY_ANNOTATION, UPGRADE_NAMESPACE } from './labels.js';
import type { PrecheckItem } from './types.js';
import { checkTargetVersion, parseVersion } from './versions.js';

/** Oldest kubelet minor the API server supports: kubelets may be up to three minors older (Kubernetes ≥ 1.28). */
export const KUBELET_MAX_MINOR_SKEW = 3;

/** What the pre-check looked at. */
export interface PrecheckInput {
  targetVersion: string;
  upgradeId: string;
  controlPlaneVersion: string;
  /** The API server's /readyz verdict, and the error when it could not be asked. */
  apiServer: { ready: boolean; detail?: string };
  nodes: readonly V1Node[];
  /** Every pod in kube-upgrade. */
  upgradePods: readonly V1Pod[];
  /** Pods bound to nodes that will be drained. */
  pods: readonly V1Pod[];
  pdbs: readonly V1PodDisruptionBudget[];
  /** The kube-upgrade namespace: absent (we create it), active, or terminating. */
  namespace: 'absent' | 'active' | 'terminating';
  /** The request defers offline workers (offline 'defer'): they are no pre-check error, only offline masters are. */
  deferOffline?: boolean;
  /** A multi-minor upgrade's control-plane hops (planning/hops.ts), the last being the target; absent for one minor. */
  hops?: string[];
  /** The request's drain timeout, in ms; absent from upgrades started before the grace-period item existed. */
  drainTimeoutMs?: number;
  /** The upgrade's run chain (UpgradeRef.runChain): absent for a `precheck` command, and in upgrades started before it existed. */
  runChain?: string;
}

const list = (xs: readonly string[], n = 10) => (xs.length > n ? `${xs.slice(0, n).join(', ')} and ${xs.length - n} more` : xs.join(', '));

const item = (id: string, result: PrecheckItem['result'], message: string, nodes: string[] = []): PrecheckItem => ({
  id,
  result,
  message,
  nodes,
});

/** Names of the nodes the upgrade still has to do (not yet Ready at the target). */
export function nodesToUpgrade(nodes: readonly V1Node[], targetVersion: string): string[] {
  const target = semver.parse(targetVersion.replace(/^v/, ''));
  return nodes
    .filter((n) => {
      const v = semver.parse((n.status?.nodeInfo?.kubeletVersion ?? '').replace(/^v/, ''));
      return !(v && target && semver.eq(v, target) && nodeReady(n));
    })
    .map((n) => n.metadata?.name ?? '');
}

/** Evaluates every pre-check item, in a fixed order. */
export function evaluatePrecheck(input: PrecheckInput): PrecheckItem[] {
  return [
    apiServerItem(input),
    versionItem(input),
    readyItem(input),
    pressureItem(input),
    cordonedItem(input),
    namespaceItem(input),
    upgradePodsItem(input),
    pdbItem(input),
    barePodsItem(input),
    ...(input.drainTimeoutMs !== undefined ? [gracePeriodItem(input, input.drainTimeoutMs)] : []),
  ];
}

/** Kubernetes' default terminationGracePeriodSeconds. */
const DEFAULT_GRACE_SECONDS = 30;

/**
 * Pods to evict whose grace period is longer than the drain timeout: after a granted eviction the
 * drain waits for the pod to end, which takes up to its grace period, so such a drain can only time out.
 */
export function gracePeriodItem({ pods }: PrecheckInput, drainTimeoutMs: number): PrecheckItem {
  const limit = drainTimeoutMs / 1000;
  const long = podsToEvict(pods).filter((p) => (p.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS) > limit);
  if (long.length === 0) {
    return item('grace-periods', 'normal', `every pod to evict ends within the drain timeout (${limit} s) of its grace period`);
  }
  const named = long.map(
    (p) => `${podKey(p)} on ${p.spec?.nodeName ?? '?'} (${p.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS} s)`,
  );
  return item(
    'grace-periods',
    'warning',
    `pods with a grace period longer than the drain timeout (${limit} s) make their node's drain time out after a granted ` +
      `eviction: ${list(named)}; raise --drain-timeout above the longest grace period`,
    [...new Set(long.map((p) => p.spec?.nodeName ?? ''))].sort(),
  );
}

function apiServerItem({ apiServer }: PrecheckInput): PrecheckItem {
  return apiServer.ready
    ? item('api-server', 'normal', 'the API server reports ready (/readyz)')
    : item(
        'api-server',
        'error',
        `the API server is not ready (/readyz${apiServer.detail ? `: ${apiServer.detail}` : ''}); fix the control plane first`,
      );
}

function versionItem({ targetVersion, controlPlaneVersion, nodes, hops }: PrecheckInput): PrecheckItem {
  const target = parseVersion(targetVersion);
  // With hops, the control plane's next step is the first hop, and kubelets must be within the skew of it (the
  // hop plan adds worker passes for later hops).
  const next = hops?.length ? parseVersion(hops[0]!) : target;
  try {
    checkTargetVersion(next, parseVersion(controlPlaneVersion, 'controlPlaneVersion'));
  } catch (err) {
    return item('version-skew', 'error', (err as Error).message);
  }
  const newer: string[] = [];
  const tooOld: string[] = [];
  const unknown: string[] = [];
  for (const n of nodes.map(toClusterNode)) {
    const v = semver.parse(n.kubeletVersion.replace(/^v/, ''));
    if (!v) unknown.push(n.name);
    else if (semver.gt(v, target)) newer.push(`${n.name} (${n.kubeletVersion})`);
    else if (v.major !== target.major || next.minor - v.minor > KUBELET_MAX_MINOR_SKEW) tooOld.push(`${n.name} (${n.kubeletVersion})`);
  }
  if (newer.length)
    return item(
      'version-skew',
      'error',
      `kubelets newer than the target ${targetVersion} (downgrades are not supported): ${list(newer)}`,
      newer.map((s) => s.split(' ')[0]!),
    );
  if (tooOld.length) {
    return item(
      'version-skew',
      'error',
      `kubelets more than ${KUBELET_MAX_MINOR_SKEW} minor versions older than ${targetVersion} would be outside the supported skew ` +
        `once the control plane is upgraded: ${list(tooOld)}; upgrade them in smaller steps first`,
      tooOld.map((s) => s.split(' ')[0]!),
    );
  }
  if (unknown.length)
    return item('version-skew', 'warning', `nodes report no kubelet version (status not posted yet?): ${list(unknown)}`, unknown);
  if (hops && hops.length > 1) {
    return item(
      'version-skew',
      'normal',
      `control plane ${controlPlaneVersion} → ${targetVersion} in ${hops.length} hops (${hops.join(' → ')}); ` +
        'every kubelet stays within the supported skew at every hop',
    );
  }
  return item(
    'version-skew',
    'normal',
    `control plane ${controlPlaneVersion} → ${targetVersion} is within the supported skew, and so is every kubelet`,
  );
}

function readyItem({ nodes, deferOffline }: PrecheckInput): PrecheckItem {
  const all = nodes.filter((n) => !nodeReady(n)).map(toClusterNode);
  if (all.length === 0) return item('nodes-ready', 'normal', `all ${nodes.length} nodes are Ready`);
  const deferred = deferOffline ? all.filter((n) => n.kind === 'worker') : [];
  const notReady = all.filter((n) => !deferred.includes(n));
  if (notReady.length === 0) {
    return item(
      'nodes-ready',
      'normal',
      `${deferred.length} offline worker(s) will be deferred and upgraded once they are Ready again: ${list(deferred.map((n) => n.name))}`,
      deferred.map((n) => n.name),
    );
  }
  const describe = (n: ReturnType<typeof toClusterNode>) => `${n.name}${n.edge ? ' (edge site offline?)' : ''}`;
  return item(
    'nodes-ready',
    'error',
    `${notReady.length} node(s) are not Ready: ${list(notReady.map(describe))}. ` +
      "Bring them back online (check the edge site's link and the kubelet), or remove them from the cluster, then start again",
    notReady.map((n) => n.name),
  );
}

function pressureItem({ nodes }: PrecheckInput): PrecheckItem {
  const hits: string[] = [];
  const names: string[] = [];
  for (const n of nodes) {
    const p = (n.status?.conditions ?? []).filter(
      (c) => ['MemoryPressure', 'DiskPressure', 'PIDPressure'].includes(c.type) && c.status === 'True',
    );
    if (p.length) {
      names.push(n.metadata?.name ?? '');
      hits.push(`${n.metadata?.name} (${p.map((c) => c.type).join(', ')})`);
    }
  }
  return hits.length
    ? item(
        'node-pressure',
        'warning',
        `nodes under resource pressure may fail to pull the agent image or to restart the kubelet: ${list(hits)}; free resources first`,
        names,
      )
    : item('node-pressure', 'normal', 'no node reports memory, disk or PID pressure');
}

/**
 * Nodes an earlier upgrade of the same ID keeps cordoned. The upgrade's own pre-check knows its run chain: every
 * cordon of another chain. A `precheck` command (no chain) names those whose record says why they were kept.
 */
function keptByEarlier({ nodes, upgradeId, runChain }: PrecheckInput): V1Node[] {
  return nodes.filter((n) => {
    if (!n.spec?.unschedulable) return false;
    const r = cordonRecord(n);
    if (runChain) return recordedByEarlier(n, { upgradeId, runChain });
    return r.upgradeId === upgradeId && (r.keptReason !== undefined || r.quarantineReason !== undefined);
  });
}

function cordonedItem(input: PrecheckInput): PrecheckItem {
  const others = input.nodes
    .filter((n) => n.spec?.unschedulable && n.metadata?.annotations?.[CORDONED_BY_ANNOTATION] !== input.upgradeId)
    .map((n) => n.metadata?.name ?? '');
  const kept = keptByEarlier(input);
  const parts: string[] = [];
  if (kept.length) {
    const named = kept.map((n) => {
      const r = cordonRecord(n);
      return `${n.metadata?.name} (${earlierUpgrade(r)}: ${keptBecause(r)})`;
    });
    parts.push(
      `${kept.length} node(s) are kept cordoned by an earlier upgrade of this cluster: ${list(named, 5)}. ` +
        'This upgrade takes each one over when it reaches it: it upgrades the node again and uncordons it only if that ' +
        'succeeds. Check them first (kubectl describe node)',
    );
  }
  if (others.length) {
    parts.push(
      `${others.length} node(s) were cordoned by someone else: ${list(others)}. ` +
        'They are upgraded but stay cordoned afterwards; run kubectl uncordon if that is not intended',
    );
  }
  const names = [...kept.map((n) => n.metadata?.name ?? ''), ...others];
  return parts.length
    ? item('cordoned-nodes', 'warning', parts.join('. '), names)
    : item('cordoned-nodes', 'normal', 'no node is cordoned');
}

function namespaceItem({ namespace }: PrecheckInput): PrecheckItem {
  if (namespace === 'terminating') {
    return item(
      'upgrade-namespace',
      'error',
      `namespace ${UPGRADE_NAMESPACE} is being deleted; wait until it is gone (kubectl get ns ${UPGRADE_NAMESPACE}), then start again`,
    );
  }
  return item(
    'upgrade-namespace',
    'normal',
    namespace === 'absent' ? `namespace ${UPGRADE_NAMESPACE} will be created` : `namespace ${UPGRADE_NAMESPACE} exists`,
  );
}

function upgradePodsItem(input: PrecheckInput): PrecheckItem {
  // Probe pods (agent-mode check) are short-lived and replaced by the next probe run: they block nothing.
  const upgradePods = input.upgradePods.filter((p) => p.metadata?.labels?.[AGENT_MODE_LABEL] !== 'check');
  const failed = upgradePods.filter((p) => p.status?.phase === 'Failed');
  const active = upgradePods.filter(
    (p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded',
  );
  const nodesOf = (ps: V1Pod[]) => [...new Set(ps.map((p) => p.spec?.nodeName ?? '').filter(Boolean))];
  const names = (ps: V1Pod[]) => ps.map((p) => p.metadata?.name ?? '');
  if (failed.length || active.length) {
    const parts: string[] = [];
    if (failed.length)
      parts.push(
        `failed upgrade pods are left over in ${UPGRADE_NAMESPACE}: ${list(names(failed))}; ` +
          `check their logs, then delete them: kubectl -n ${UPGRADE_NAMESPACE} delete pod ${names(failed).join(' ')}`,
      );
    if (active.length)
      parts.push(
        `pods are still running in ${UPGRADE_NAMESPACE} (another upgrade in progress?): ${list(names(active))}; ` +
          `wait for them or delete them: kubectl -n ${UPGRADE_NAMESPACE} delete pod ${names(active).join(' ')}`,
      );
    return item('upgrade-pods', 'error', parts.join('. '), nodesOf([...failed, ...active]));
  }
  return item('upgrade-pods', 'normal', `no failed or running pods in ${UPGRADE_NAMESPACE}`);
}

/**
 * PDBs that block a drain. A budget that can never allow a disruption as written (maxUnavailable 0,
 * minAvailable ≥ its pods) over pods on nodes to be drained is an error: the drain would certainly
 * stop there. A budget at 0 allowed disruptions right now is a warning: that is often transient
 * (a rollout, a pod not Ready yet), and the drain waits up to drainTimeout for it. Pods covered
 * by two budgets are an error: the API server refuses to evict them at all (500).
 */
function pdbItem({ pods, pdbs }: PrecheckInput): PrecheckItem {
  const never = new Map<string, Set<string>>();
  const now = new Map<string, Set<string>>();
  const multi: string[] = [];
  const multiNodes = new Set<string>();
  for (const pod of podsToEvict(pods)) {
    const matched = pdbsForPod(pod, pdbs);
    const node = pod.spec?.nodeName ?? '';
    if (matched.length > 1) {
      multi.push(`${podKey(pod)} (${matched.map(podKey).join(', ')})`);
      multiNodes.add(node);
    }
    for (const b of matched) {
      const target = pdbNeverAllows(b) ? never : (b.status?.disruptionsAllowed ?? 0) === 0 ? now : null;
      if (!target) continue;
      const set = target.get(podKey(b)) ?? new Set<string>();
      set.add(node);
      target.set(podKey(b), set);
    }
  }
  const nodesOf = (m: Map<string, Set<string>>) => [...new Set([...m.values()].flatMap((s) => [...s]))].sort();
  if (never.size || multi.length) {
    const parts: string[] = [];
    if (never.size)
      parts.push(
        `PodDisruptionBudgets that never allow an eviction cover pods on nodes to be drained: ${list([...never.keys()])}; ` +
          'relax them (maxUnavailable ≥ 1) or scale the workloads up',
      );
    if (multi.length)
      parts.push(
        `pods matched by more than one PodDisruptionBudget cannot be evicted: ${list(multi)}; make the budgets' selectors disjoint`,
      );
    return item('pod-disruption-budgets', 'error', parts.join('. '), [...new Set([...nodesOf(never), ...multiNodes])].sort());
  }
  if (now.size) {
    return item(
      'pod-disruption-budgets',
      'warning',
      `PodDisruptionBudgets allow no disruption right now: ${list([...now.keys()])}; ` +
        'drains of their nodes wait for them (up to drainTimeout) and then pause the upgrade',
      nodesOf(now),
    );
  }
  return item('pod-disruption-budgets', 'normal', 'no PodDisruptionBudget blocks the drains');
}

function barePodsItem({ pods }: PrecheckInput): PrecheckItem {
  const bare = podsToEvict(pods).filter(isBarePod);
  return bare.length
    ? item(
        'unmanaged-pods',
        'warning',
        `pods without a controller will be evicted and not recreated: ${list(bare.map(podKey))}; ` +
          'move them to a Deployment or accept their loss',
        [...new Set(bare.map((p) => p.spec?.nodeName ?? ''))].sort(),
      )
    : item('unmanaged-pods', 'normal', 'every pod to be evicted has a controller that recreates it');
}
