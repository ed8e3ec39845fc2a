/**
 * Pure builders for what the simulator writes: Node objects, Node status, Lease renewals and Pod
 * status. No I/O, so they are easy to test and reuse.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import {
  CONTROL_PLANE_LABEL,
  EDGE_WORKER_LABEL,
  KUBE_SYSTEM_NAMESPACE,
  MIRROR_POD_ANNOTATION,
  SIM_NODE_LABEL,
} from '../planning/labels.js';

/** How a simulated node is made. */
export interface SimNodeSpec {
  name: string;
  kind: 'control-plane' | 'worker';
  /** Edge worker (remote site) rather than cloud worker; ignored for control planes. */
  edge?: boolean;
  /** Starting kubelet version, e.g. 'v1.33.7'. */
  version: string;
  /** Extra labels, e.g. fault labels. */
  labels?: Record<string, string>;
}

/** The Node object to create (spec and metadata; status is patched separately). */
export function nodeObject(spec: SimNodeSpec): V1Node {
  const labels: Record<string, string> = {
    [SIM_NODE_LABEL]: 'true',
    'kubernetes.io/hostname': spec.name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    ...(spec.kind === 'control-plane' ? { [CONTROL_PLANE_LABEL]: '' } : { [EDGE_WORKER_LABEL]: spec.edge ? 'true' : 'false' }),
    ...spec.labels,
  };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: spec.name, labels },
    spec: spec.kind === 'control-plane' ? { taints: [{ key: CONTROL_PLANE_LABEL, effect: 'NoSchedule' }] } : {},
  };
}

/** Image of kube-apiserver at `version`, as kubeadm names it. */
export function apiServerImage(version: string): string {
  return `registry.k8s.io/kube-apiserver:${version}`;
}

/** Name of the kube-apiserver mirror pod of master `node`, as the kubelet names it (`<static pod>-<node>`). */
export function apiServerPodName(node: string): string {
  return `kube-apiserver-${node}`;
}

/**
 * The mirror pod of a simulated master's kube-apiserver static pod, as a kubelet on a kubeadm
 * master posts it in kube-system: the mirror annotation, kubeadm's labels, bound to the node,
 * tolerating every NoExecute taint (a NotReady master keeps it).
 */
export function apiServerMirrorPod(node: string, version: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: apiServerPodName(node),
      namespace: KUBE_SYSTEM_NAMESPACE,
      labels: { component: 'kube-apiserver', tier: 'control-plane' },
      annotations: { [MIRROR_POD_ANNOTATION]: `simulated-${node}` },
    },
    spec: {
      nodeName: node,
      tolerations: [{ operator: 'Exists', effect: 'NoExecute' }],
      containers: [{ name: 'kube-apiserver', image: apiServerImage(version) }],
    },
  };
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits (a plain Date is rejected). */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** A strategic-merge patch for /status that reports a node at `version`: healthy, or NotReady with `notReady` as the message. */
export function nodeStatusPatch(name: string, version: string, kubeletPort: number, now: Date, notReady?: string): object {
  const t = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const cond = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: t,
    lastTransitionTime: t,
  });
  return {
    status: {
      conditions: [
        notReady === undefined
          ? cond('Ready', 'True', 'KubeletReady', 'simulated kubelet is posting ready status')
          : cond('Ready', 'False', 'KubeletNotReady', notReady),
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'simulated'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'simulated'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'simulated'),
        cond('NetworkUnavailable', 'False', 'RouteCreated', 'simulated'),
      ],
      // The API server reaches the simulated kubelet (for pod logs) at this address and port.
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
      capacity: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      nodeInfo: nodeInfo(name, version),
    },
  };
}

/** The nodeInfo block; `kubeletVersion` is what an upgrade changes. */
export function nodeInfo(name: string, version: string): Record<string, string> {
  return {
    kubeletVersion: version,
    kubeProxyVersion: version,
    machineID: name,
    systemUUID: name,
    bootID: name,
    kernelVersion: '6.1.0-sim',
    osImage: 'edge-upgrade simulated node',
    containerRuntimeVersion: 'containerd://1.7.0-sim',
    operatingSystem: 'linux',
    architecture: 'amd64',
  };
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The reason and message of a Running pod's unready containers, as a kubelet reports them. */
function notReady(pod: V1Pod): { reason: string; message: string } {
  const names = (pod.spec?.containers ?? []).map((c) => c.name).join(' ');
  return { reason: 'ContainersNotReady', message: `containers with unready status: [${names}]` };
}

/** A merge patch for /status that makes a pod Running and Ready (or, with `ready` false, not Ready) on its node. */
export function runningPodStatus(pod: V1Pod, now: Date, ready = true): object {
  const t = iso(now);
  const containers = pod.spec?.containers ?? [];
  const why = ready ? {} : notReady(pod);
  return {
    status: {
      phase: 'Running',
      hostIP: '127.0.0.1',
      podIP: '127.0.0.1',
      startTime: t,
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
        { type: 'Initialized', status: 'True', lastTransitionTime: t },
        { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: t, ...why },
        { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t, ...why },
      ],
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image ?? '',
        imageID: '',
        ready,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: t } },
      })),
    },
  };
}

/**
 * A merge patch for /status that changes only a Running pod's readiness: the Ready and
 * ContainersReady conditions and the containers' `ready` (lists are replaced whole by a merge
 * patch, so the other conditions and container fields are carried over).
 */
export function podReadinessPatch(pod: V1Pod, now: Date, ready: boolean): object {
  const t = iso(now);
  const why = ready ? {} : notReady(pod);
  const flip = new Set(['Ready', 'ContainersReady']);
  const kept = (pod.status?.conditions ?? []).filter((c) => !flip.has(c.type));
  const changed = [...flip].map((type) => ({ type, status: ready ? 'True' : 'False', lastTransitionTime: t, ...why }));
  return {
    status: {
      conditions: [...kept, ...changed],
      containerStatuses: (pod.status?.containerStatuses ?? []).map((c) => ({ ...c, ready })),
    },
  };
}

/** A merge patch for /status that ends a pod: Succeeded (exit 0) or Failed (exit 1) with a message. */
export function terminatedPodStatus(pod: V1Pod, now: Date, succeeded: boolean, message: string): object {
  const t = iso(now);
  const containers = pod.spec?.containers ?? [];
  return {
    status: {
      phase: succeeded ? 'Succeeded' : 'Failed',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
        { type: 'Initialized', status: 'True', lastTransitionTime: t },
        { type: 'ContainersReady', status: 'False', lastTransitionTime: t, reason: 'PodCompleted' },
        { type: 'Ready', status: 'False', lastTransitionTime: t, reason: 'PodCompleted' },
      ],
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image ?? '',
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode: succeeded ? 0 : 1,
            reason: succeeded ? 'Completed' : 'Error',
            message,
            startedAt: t,
            finishedAt: t,
          },
        },
      })),
    },
  };
}

/** The value of an env var in the pod's first container that sets it. */
export function podEnv(pod: V1Pod, name: string): string | undefined {
  for (const c of pod.spec?.containers ?? []) {
    const hit = c.env?.find((e) => e.name === name);
    if (hit?.value !== undefined) return hit.value;
  }
  return undefined;
}
