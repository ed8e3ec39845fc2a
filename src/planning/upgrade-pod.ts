/**
 * Pure builder of a node's upgrade pod (system-upgrade-controller style: the spec comes from
 * (upgrade, node) without I/O). The pod is pinned with spec.nodeName, tolerates every taint, and
 * runs the privileged agent (agent/upgrade-node.sh) that enters the host through PID 1.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { NodeRole } from './types.js';
import {
  ENV_NODE_NAME,
  ENV_NODE_ROLE,
  ENV_TARGET_VERSION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_NAME_LABEL,
  TARGET_VERSION_LABEL,
  UPGRADE_CONTAINER,
  UPGRADE_ID_ANNOTATION,
  UPGRADE_ID_LABEL,
  UPGRADE_NAMESPACE,
} from './labels.js';
import { labelValue, upgradePodName } from './names.js';

/** What an upgrade pod is built from. */
export interface UpgradePodInput {
  node: string;
  role: NodeRole;
  targetVersion: string;
  upgradeId: string;
  image: string;
}

/** Labels that select every upgrade pod of one upgrade. */
export function upgradeSelector(upgradeId: string): string {
  return `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${UPGRADE_ID_LABEL}=${labelValue(upgradeId)}`;
}

/** The upgrade pod for `input.node`, named by {@link upgradePodName}. */
export function buildUpgradePod(input: UpgradePodInput): V1Pod {
  const { node, role, targetVersion, upgradeId, image } = input;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: upgradePodName(node, targetVersion),
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
          securityContext: { privileged: true },
          volumeMounts: [{ name: 'host-root', mountPath: '/host' }],
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
      volumes: [{ name: 'host-root', hostPath: { path: '/', type: 'Directory' } }],
    },
  };
}
