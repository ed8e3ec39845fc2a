/**
 * Pure builders of a node's upgrade pod and of its namespace (system-upgrade-controller style: the
 * spec comes from (upgrade, node) without I/O). The pod is pinned with spec.nodeName, tolerates
 * every taint, and runs the privileged agent (agent/upgrade-node.sh) that enters the host through
 * PID 1 (nsenter), so it mounts nothing from the host.
 */
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { NodeRole } from './types.js';
import {
  AGENT_MODE_LABEL,
  ENV_AGENT_MODE,
  ENV_HOP_VERSIONS,
  ENV_NODE_NAME,
  ENV_NODE_ROLE,
  ENV_TARGET_VERSION,
  MADE_BY_ANNOTATION,
  MADE_BY_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_NAME_LABEL,
  POD_SECURITY_ENFORCE_LABEL,
  POD_SECURITY_ENFORCE_VALUE,
  TARGET_VERSION_LABEL,
  UPGRADE_CONTAINER,
  UPGRADE_ID_ANNOTATION,
  UPGRADE_ID_LABEL,
  UPGRADE_NAMESPACE,
  UPGRADE_PRIORITY_CLASS,
} from './labels.js';
import { labelValue, probePodName, upgradePodName } from './names.js';

/** What an upgrade pod is built from. */
export interface UpgradePodInput {
  node: string;
  role: NodeRole;
  targetVersion: string;
  upgradeId: string;
  image: string;
  /** How long the node may take (the request's nodeTimeout), in ms; the pod's activeDeadlineSeconds. */
  nodeTimeoutMs: number;
  /**
   * An agent pod that is not the upgrade: 'prepare' (cloud nodes, before the masters) or 'check' (the
   * read-only node probe). It gets the container args `--<mode>`, the env AGENT_MODE, the label
   * AGENT_MODE_LABEL and no PriorityClass (a critical pod may make the kubelet evict others; neither
   * mode may disturb the node's workloads). Default: the upgrade pod, unchanged.
   */
  mode?: 'check' | 'prepare';
  /**
   * With mode 'check': the ID of the workflow that probes (see MADE_BY_LABEL). The pod is then named by
   * {@link probePodName} and labelled with it, so probes of the same node by different workflows never collide.
   */
  madeBy?: string;
  /**
   * With mode 'check' on a control-plane node: the multi-minor upgrade's hop versions (e.g. ['v1.32.9', 'v1.33.5',
   * 'v1.34.4']); those before the target go to the agent as HOP_VERSIONS, so it checks their repositories too.
   * Workers are upgraded once, to the target, and never get it.
   */
  hops?: readonly string[];
}

/**
 * What the upgrade pod requests. Requests only, no limits: the agent's host commands (apt, kubeadm)
 * run in the pod's cgroup, and a memory limit could kill kubeadm halfway through an upgrade.
 */
export const UPGRADE_POD_REQUESTS = { cpu: '100m', memory: '128Mi' };

/** Namespace kube-upgrade as we create it: labelled managed-by, and privileged for Pod Security admission. */
export function buildUpgradeNamespace(): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: UPGRADE_NAMESPACE,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [POD_SECURITY_ENFORCE_LABEL]: POD_SECURITY_ENFORCE_VALUE },
    },
  };
}

/** Labels that select every upgrade pod of one upgrade. */
export function upgradeSelector(upgradeId: string): string {
  return `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${UPGRADE_ID_LABEL}=${labelValue(upgradeId)}`;
}

/**
 * The upgrade pod for `input.node` (or its agent pod in `input.mode`), named by {@link upgradePodName}; a probe pod
 * with `madeBy` is named by {@link probePodName}.
 */
export function buildUpgradePod(input: UpgradePodInput): V1Pod {
  const pod = upgradePod(input);
  const { mode } = input;
  if (!mode) return pod;
  const container = pod.spec!.containers[0]!;
  pod.metadata!.labels![AGENT_MODE_LABEL] = mode;
  container.args = [`--${mode}`];
  container.env!.push({ name: ENV_AGENT_MODE, value: mode });
  delete pod.spec!.priorityClassName;
  const hops = (input.hops ?? []).filter((h) => h !== input.targetVersion);
  if (mode === 'check' && input.role !== 'worker' && hops.length > 0)
    container.env!.push({ name: ENV_HOP_VERSIONS, value: hops.join(',') });
  if (mode === 'check' && input.madeBy !== undefined) {
    pod.metadata!.name = probePodName(input.node, input.targetVersion, input.madeBy);
    pod.metadata!.labels![MADE_BY_LABEL] = labelValue(input.madeBy);
    pod.metadata!.annotations![MADE_BY_ANNOTATION] = input.madeBy;
  }
  return pod;
}

function upgradePod(input: UpgradePodInput): V1Pod {
  const { node, role, targetVersion, upgradeId, image, nodeTimeoutMs, mode } = input;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: upgradePodName(node, targetVersion, mode),
      namespace: UPGRADE_NAMESPACE,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
        [UPGRADE_ID_LABEL]: labelValue(upgradeId),
        [NODE_NAME_LABEL]: labelValue(node),
        [TARGET_VERSION_LABEL]: labelValue(targetVersion),
      },
      annotations: { [UPGRADE_ID_ANNOTATION]: upgradeId },
    },
    spec: {
      // Pinned: the scheduler is bypassed, so a cordoned node still runs it.
      nodeName: node,
      restartPolicy: 'Never',
      // A cordoned, tainted or unreachable-marked node must still run its own upgrade.
      tolerations: [{ operator: 'Exists' }],
      hostPID: true,
      automountServiceAccountToken: false,
      priorityClassName: UPGRADE_PRIORITY_CLASS,
      // The kubelet stops the agent once the workflow has stopped waiting for it, rather than
      // letting it change the node later, unobserved (a resume deletes the failed pod and retries).
      activeDeadlineSeconds: Math.max(1, Math.ceil(nodeTimeoutMs / 1000)),
      terminationGracePeriodSeconds: 30,
      containers: [
        {
          name: UPGRADE_CONTAINER,
          image,
          imagePullPolicy: 'IfNotPresent',
          env: [
            { name: ENV_TARGET_VERSION, value: targetVersion },
            { name: ENV_NODE_NAME, value: node },
            { name: ENV_NODE_ROLE, value: role },
          ],
          resources: { requests: { ...UPGRADE_POD_REQUESTS } },
          securityContext: { privileged: true },
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
    },
  };
}
