/**
 * Multi-minor upgrades: kubeadm upgrades the control plane one minor at a time, so an upgrade
 * from v1.31.x to v1.34.x is planned as hops v1.32.p → v1.33.p → v1.34.x, each hop's version taken
 * from a configured list (the request's `via`, then the worker configuration's `versions`), as
 * Cluster API's chained upgrades do. Workers go once, to the final target, unless a hop would leave
 * a kubelet more than three minors behind the API server: then a worker pass at an earlier hop's
 * version comes first. Pure and deterministic (it runs inside workflow code).
 */
import semver from 'semver';
import { InvalidUpgradeRequestError } from './errors.js';
import { orderMasters, orderWorkers } from './order.js';
import type { PlannedMaster } from './plan.js';
import type { ClusterNode, NodeRole } from './types.js';
import { checkNoNodeDowngrade, formatVersion, nodeIsDone, nodeVersion, parseVersion, type KubeVersion } from './versions.js';

/** Kubelets may be up to three minors older than kube-apiserver (Kubernetes ≥ 1.28). */
export const MAX_KUBELET_SKEW = 3;

/** One control-plane hop: its version, the masters it upgrades, and the workers of a worker pass after it (absent: none). */
export interface HopStep {
  /** e.g. 'v1.33.5'; the last hop's is the target. */
  version: string;
  /** Masters below this version, in upgrade order; the first left runs `kubeadm upgrade apply` at this version. */
  masters: PlannedMaster[];
  /** Workers to upgrade to this version once every master is at it; always set on the last hop. */
  workers?: string[];
}

/** What {@link planHops} needs. */
export interface HopInput {
  /** The control plane's version now (the lowest kube-apiserver). */
  controlPlane: string;
  target: string;
  nodes: readonly ClusterNode[];
  /** Versions the request names (`via`); they win over `configured` for their minor. */
  via?: readonly string[];
  /** Versions the worker configuration lists for the cluster (`versions`). */
  configured?: readonly string[];
}

/** True when `target` is more than one minor above `controlPlane` (same major), i.e. needs hops. */
export function needsHops(target: KubeVersion, controlPlane: KubeVersion): boolean {
  return target.major === controlPlane.major && target.minor > controlPlane.minor + 1;
}

/**
 * Plans the hops from the control plane's version to the target. Throws
 * {@link InvalidUpgradeRequestError} (one line) when a minor on the way has no version in either
 * list, when the cluster has no masters (a managed control plane is upgraded by its provider),
 * when a node would be downgraded, or when a kubelet is too old for even the first hop.
 */
export function planHops(input: HopInput): HopStep[] {
  const target = parseVersion(input.target);
  const cp = parseVersion(input.controlPlane, 'controlPlaneVersion');
  const masters = orderMasters(input.nodes);
  if (masters.length === 0) {
    throw new InvalidUpgradeRequestError(
      'targetVersion',
      `targetVersion ${formatVersion(target)} is newer than the managed control plane's ${formatVersion(cp)}: ` +
        'a kubelet may not be newer than kube-apiserver; upgrade the control plane through its provider first',
    );
  }
  checkNoNodeDowngrade(input.nodes, target);
  const versions = hopVersions(cp, target, input.via ?? [], input.configured ?? []);
  const passes = workerPasses(versions, input.nodes, target);
  return versions.map((v, i) => {
    const prev = i === 0 ? cp : versions[i - 1]!;
    const step: HopStep = { version: formatVersion(v), masters: hopMasters(masters, v, prev) };
    if (i === versions.length - 1) {
      step.workers = orderWorkers(input.nodes)
        .filter((w) => !nodeIsDone(w, target))
        .map((w) => w.name);
    } else if (passes.has(i)) {
      step.workers = orderWorkers(input.nodes)
        .filter((w) => below(w, v))
        .map((w) => w.name);
    }
    return step;
  });
}

/**
 * The version of each hop: for every minor between the control plane's and the target's, the
 * newest patch of that minor in `via`, else in `configured`; then the target. Throws naming the
 * first minor neither list covers.
 */
export function hopVersions(cp: KubeVersion, target: KubeVersion, via: readonly string[], configured: readonly string[]): KubeVersion[] {
  const parse = (list: readonly string[], field: string) => list.map((s) => parseVersion(s, field));
  const lists = [parse(via, 'via'), parse(configured, 'versions')];
  const out: KubeVersion[] = [];
  for (let minor = cp.minor + 1; minor < target.minor; minor++) {
    const found = lists
      .map((l) => l.filter((v) => v.major === target.major && v.minor === minor).sort(semver.rcompare)[0])
      .find((v) => v !== undefined);
    if (!found) {
      const all = [...via, ...configured];
      const have = all.length > 0 ? `the configured versions (${all.join(', ')}) have none for it` : 'no versions are configured';
      throw new InvalidUpgradeRequestError(
        'targetVersion',
        `targetVersion ${formatVersion(target)} is more than one minor version above the control plane's ${formatVersion(cp)} ` +
          `and the path needs a v${target.major}.${minor}.x, but ${have}; name one with --via (request field 'via') ` +
          `or 'versions:' in the worker configuration, or upgrade one minor at a time`,
      );
    }
    out.push(found);
  }
  out.push(target);
  return out;
}

/**
 * The hops after which workers must be upgraded (indices into `versions`), so that at every hop
 * no kubelet is more than {@link MAX_KUBELET_SKEW} minors behind the API server. A worker pass runs
 * at the latest hop version already reached, as late as possible, so workers move as few times as
 * they can. Throws when even the first hop would leave a kubelet too far behind.
 */
export function workerPasses(versions: readonly KubeVersion[], nodes: readonly ClusterNode[], target: KubeVersion): Set<number> {
  const known = (list: readonly ClusterNode[]) =>
    list
      .map((n) => ({ n, v: nodeVersion(n) }))
      .filter((x): x is { n: ClusterNode; v: KubeVersion } => x.v !== null && x.v.major === target.major);
  const first = versions[0]!;
  const tooOld = known(nodes).filter((x) => first.minor - x.v.minor > MAX_KUBELET_SKEW);
  if (tooOld.length > 0) {
    const names = tooOld.slice(0, 5).map((x) => `${x.n.name} (${x.n.kubeletVersion})`);
    const more = tooOld.length > 5 ? ` and ${tooOld.length - 5} more` : '';
    throw new InvalidUpgradeRequestError(
      'targetVersion',
      `the first hop to ${formatVersion(first)} would leave the kubelet on ${names.join(', ')}${more} more than ` +
        `${MAX_KUBELET_SKEW} minor versions behind the control plane; ` +
        `upgrade those nodes to v${first.major}.${first.minor - MAX_KUBELET_SKEW}.x first`,
    );
  }
  const workers = known(orderWorkers(nodes));
  let oldest = workers.length > 0 ? Math.min(...workers.map((x) => x.v.minor)) : Infinity;
  const passes = new Set<number>();
  versions.forEach((v, i) => {
    if (i === 0 || v.minor - oldest <= MAX_KUBELET_SKEW) return;
    passes.add(i - 1);
    oldest = versions[i - 1]!.minor;
  });
  return passes;
}

/**
 * The masters a hop to `v` upgrades (those below it, or at it but not Ready), in order; the first
 * runs `kubeadm upgrade apply` unless that already happened for `v` (the control plane before the
 * hop, `previous`, or a master is at or above it).
 */
function hopMasters(ordered: readonly ClusterNode[], v: KubeVersion, previous: KubeVersion): PlannedMaster[] {
  const applied = semver.gte(previous, v) || ordered.some((m) => !below(m, v));
  const todo: PlannedMaster[] = [];
  ordered.forEach((m, i) => {
    if (!below(m, v) && (m.ready || semver.gt(nodeVersion(m)!, v))) return;
    const role: NodeRole = !applied && todo.length === 0 ? 'first-control-plane' : 'control-plane';
    todo.push({ name: m.name, serial: i + 1, role });
  });
  return todo;
}

/** True when the node's kubelet is older than `v` (or unknown: such a node needs work). */
function below(node: ClusterNode, v: KubeVersion): boolean {
  const nv = nodeVersion(node);
  return nv === null || semver.lt(nv, v);
}
