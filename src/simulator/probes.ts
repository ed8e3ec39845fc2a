/**
 * How the simulator answers a node's check pod (the agent's read-only `--check` mode): at once,
 * with the JSON result the agent would write, built from the node's probe fault labels
 * (sim.edge-upgrade.io/swap, disk-free-mb, repo-unreachable, repo-missing-minor, cert-days, runtime-down,
 * clock-skew-seconds, probe-hangs; see planning/labels.ts). Without them the node is healthy. A
 * check pod never changes the simulated node: its version and status stay as they are.
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { mergePatch } from '../kube/clients.js';
import {
  AGENT_MODE_LABEL,
  ENV_HOP_VERSIONS,
  ENV_NODE_ROLE,
  ENV_TARGET_VERSION,
  SIM_CERT_DAYS_LABEL,
  SIM_CLOCK_SKEW_LABEL,
  SIM_DISK_FREE_MB_LABEL,
  SIM_PROBE_HANGS_LABEL,
  SIM_REPO_MISSING_MINOR_LABEL,
  SIM_REPO_UNREACHABLE_LABEL,
  SIM_RUNTIME_DOWN_LABEL,
  SIM_SWAP_LABEL,
  UPGRADE_NAMESPACE,
} from '../planning/labels.js';
import { podEnv, runningPodStatus, terminatedPodStatus } from './objects.js';

/** A check pod: an agent pod in kube-upgrade in mode 'check'. The simulator answers it instead of upgrading. */
export function isCheckPod(pod: V1Pod): boolean {
  return pod.metadata?.namespace === UPGRADE_NAMESPACE && pod.metadata?.labels?.[AGENT_MODE_LABEL] === 'check';
}

/** The repository of `target`'s minor as agent/check-node.sh reports it for a node with `labels`. */
function simulatedRepo(labels: Record<string, string>, target: string): object {
  const minor = target.replace(/^v/, '').split('.').slice(0, 2).join('.');
  const version = target.replace(/^v/, '');
  const url = `https://pkgs.k8s.io/core:/stable:/v${minor}/deb/Release`;
  if (labels[SIM_REPO_UNREACHABLE_LABEL] === 'true')
    return { kind: 'pkgs.k8s.io', url, reachable: false, error: 'curl: (28) Connection timed out after 15001 milliseconds (simulated)' };
  if (labels[SIM_REPO_MISSING_MINOR_LABEL] === minor) return { kind: 'pkgs.k8s.io', url, reachable: false, error: 'HTTP 404' };
  return { kind: 'pkgs.k8s.io', url, reachable: true, versions: [`${version}-1.1`] };
}

/**
 * The agent's check result for a node with `labels`, as agent/check-node.sh would report it, at `now`; `hops` are the
 * pod's HOP_VERSIONS (the versions before the target whose repositories a master checks too).
 */
export function simulatedProbeResult(
  node: string,
  labels: Record<string, string>,
  role: string,
  target: string,
  now: Date,
  hops: readonly string[] = [],
): object {
  const version = target.replace(/^v/, '');
  const skewLabel = labels[SIM_CLOCK_SKEW_LABEL] ?? '0';
  const skew = (skewLabel.startsWith('behind-') ? -1 : 1) * (Number(skewLabel.replace(/^behind-/, '')) || 0);
  const freeMb = Number(labels[SIM_DISK_FREE_MB_LABEL] ?? 51200);
  const days = Number(labels[SIM_CERT_DAYS_LABEL] ?? 365);
  const residual = days <= 0 ? '<invalid>' : `${Math.floor(days)}d`;
  return {
    v: 1,
    node,
    role,
    target: `v${version}`,
    time: new Date(now.getTime() + skew * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    pm: 'apt',
    swap:
      labels[SIM_SWAP_LABEL] === 'on'
        ? { enabled: true, devices: ['/swap.img'], kubeletAllows: false }
        : { enabled: false, devices: [], kubeletAllows: false },
    disk: ['/var/lib', '/usr'].map((path) => ({ path, freeMb: Number.isFinite(freeMb) ? Math.max(0, Math.floor(freeMb)) : 51200 })),
    repo: simulatedRepo(labels, target),
    hopRepos: hops.map((h) => ({ version: `v${h.replace(/^v/, '')}`, ...simulatedRepo(labels, h) })),
    certs:
      role === 'worker'
        ? null
        : {
            checked: true,
            certs: [
              { name: 'apiserver', residual },
              { name: 'admin.conf', residual },
            ],
          },
    runtime:
      labels[SIM_RUNTIME_DOWN_LABEL] === 'true'
        ? { reachable: false, error: 'validate service connection: connection refused (simulated)' }
        : { reachable: true, name: 'containerd', version: 'v1.7.24' },
  };
}

/** What answering a check pod needs from the simulator. */
export interface ProbeContext {
  core: CoreV1Api;
  /** Runs `fn` once per key at a time, through the simulator's request limiter. */
  once: (key: string, fn: () => Promise<void>) => void;
  /** Records the pod's log lines (served by the simulated kubelet). */
  setLog: (pod: V1Pod, lines: string[]) => void;
}

/**
 * Answers a Pending check pod on node `node` (with `labels`): Succeeded with the result as its
 * termination message and last log line, or, with the probe-hangs label, Running for ever.
 */
export function answerCheckPod(ctx: ProbeContext, pod: V1Pod, node: string, labels: Record<string, string>): void {
  const name = pod.metadata!.name!;
  const namespace = pod.metadata!.namespace!;
  if (labels[SIM_PROBE_HANGS_LABEL] === 'true') {
    if (pod.status?.phase === 'Running') return;
    ctx.once(`check/${pod.metadata!.uid!}`, async () => {
      await ctx.core.patchNamespacedPodStatus({ name, namespace, body: runningPodStatus(pod, new Date(), false) }, mergePatch);
    });
    return;
  }
  ctx.once(`check/${pod.metadata!.uid!}`, async () => {
    const role = podEnv(pod, ENV_NODE_ROLE) ?? 'worker';
    const target = podEnv(pod, ENV_TARGET_VERSION) ?? '';
    const hops = (podEnv(pod, ENV_HOP_VERSIONS) ?? '').split(',').filter(Boolean);
    const result = JSON.stringify(simulatedProbeResult(node, labels, role, target, new Date(), hops));
    ctx.setLog(pod, [`edge-upgrade agent [${node}]: check of ${node} done (simulated)`, result]);
    await ctx.core.patchNamespacedPodStatus({ name, namespace, body: terminatedPodStatus(pod, new Date(), true, result) }, mergePatch);
  });
}
