/** Pure reading of Node objects into the workflow's {@link ClusterNode} view, and the control-plane version rule. */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import semver from 'semver';
import { CONTROL_PLANE_LABEL, EDGE_WORKER_LABEL, MIRROR_POD_ANNOTATION } from './labels.js';
import type { ClusterNode } from './types.js';

/** True if the node's Ready condition is True. */
export function nodeReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The workflow's view of a Node. */
export function toClusterNode(node: V1Node): ClusterNode {
  const labels = node.metadata?.labels ?? {};
  const controlPlane = CONTROL_PLANE_LABEL in labels;
  return {
    name: node.metadata?.name ?? '',
    kind: controlPlane ? 'control-plane' : 'worker',
    edge: !controlPlane && labels[EDGE_WORKER_LABEL] === 'true',
    kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? '',
    ready: nodeReady(node),
    unschedulable: node.spec?.unschedulable === true,
  };
}

/**
 * The lowest version among the kube-apiserver mirror pods on control-plane nodes, from their image
 * tag (e.g. 'registry.k8s.io/kube-apiserver:v1.33.5'), or null when there are none: on a kubeadm
 * cluster this is what each master's API server runs, which `/version` behind a load balancer may not tell.
 */
export function apiServerPodsVersion(nodes: readonly ClusterNode[], pods: readonly V1Pod[]): string | null {
  const masters = new Set(nodes.filter((n) => n.kind === 'control-plane').map((n) => n.name));
  const versions = pods
    .filter((p) => p.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined && masters.has(p.spec?.nodeName ?? ''))
    .map((p) => imageTag(p.spec?.containers?.find((c) => c.name === 'kube-apiserver')?.image ?? p.spec?.containers?.[0]?.image ?? ''))
    .map((raw) => ({ raw, v: semver.parse(raw.replace(/^v/, '')) }))
    .filter((x): x is { raw: string; v: semver.SemVer } => x.v !== null);
  if (versions.length === 0) return null;
  versions.sort((a, b) => semver.compare(a.v, b.v));
  return versions[0]!.raw;
}

/** The tag of an image reference ('registry:5000/kube-apiserver:v1.33.5@sha256:…' → 'v1.33.5'), or ''. */
function imageTag(image: string): string {
  const name = image.split('@')[0]!;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(colon + 1) : '';
}

/**
 * The control plane's version: the kube-apiserver mirror pods' lowest (see {@link apiServerPodsVersion}) when there
 * are any, else the lowest kubelet version among control-plane nodes when there
 * are any (on kubeadm clusters the API server runs on them and is upgraded with them), else the API
 * server's own gitVersion (managed control planes have no master nodes).
 */
export function controlPlaneVersion(nodes: readonly ClusterNode[], apiServerVersion: string, apiServerPods: readonly V1Pod[] = []): string {
  const fromPods = apiServerPodsVersion(nodes, apiServerPods);
  if (fromPods) return fromPods;
  const versions = nodes
    .filter((n) => n.kind === 'control-plane')
    .map((n) => ({ raw: n.kubeletVersion, v: semver.parse(n.kubeletVersion.replace(/^v/, '')) }))
    .filter((x): x is { raw: string; v: semver.SemVer } => x.v !== null);
  if (versions.length === 0) return apiServerVersion;
  versions.sort((a, b) => semver.compare(a.v, b.v));
  return versions[0]!.raw;
}

/**
 * Why the node counts as offline now, or null when it is online: its Ready condition is not True
 * (with the kubelet's reason), or its kubelet has sent no heartbeat within `leaseDurationSeconds`:
 * neither a renewal of its Lease in kube-node-lease nor a status post (the Ready condition's
 * lastHeartbeatTime). Either counts, since a kubelet that reconnects may post its status a few
 * seconds before it renews its Lease. `lease` is undefined when it could not be read; then only
 * the Ready condition counts.
 */
export function offlineReason(
  node: V1Node,
  lease: { renewTime?: Date | string; leaseDurationSeconds?: number } | undefined,
  now: number,
): string | null {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') {
    const why = [ready?.reason, ready?.message].filter(Boolean).join(': ');
    return `it is NotReady${why ? ` (${why})` : ''}`;
  }
  const renewed = lease?.renewTime ? new Date(lease.renewTime).getTime() : NaN;
  if (!Number.isFinite(renewed)) return null;
  const posted = ready.lastHeartbeatTime ? new Date(ready.lastHeartbeatTime as unknown as string).getTime() : NaN;
  const last = Number.isFinite(posted) ? Math.max(renewed, posted) : renewed;
  const duration = lease?.leaseDurationSeconds ?? 40;
  if (now - last > duration * 1000) {
    return `its kubelet has not renewed its Lease for ${Math.round((now - renewed) / 1000)} s (lease duration ${duration} s)`;
  }
  return null;
}
