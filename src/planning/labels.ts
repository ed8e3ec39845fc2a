/**
 * Kubernetes names of the public contract: namespace, labels, annotations and env vars. One place,
 * shared by the activities, the simulator, the workflow and the tests.
 */

/** Namespace of the upgrade pods and their Events. */
export const UPGRADE_NAMESPACE = 'kube-upgrade';

/** Every resource we create carries this label. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'edge-upgrade';

/** Marks a master node (kubeadm's label). */
export const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';

/**
 * Marks an edge (remote-site) worker with 'true' and a cloud worker with 'false', as ACK@Edge
 * does. Workers without it count as cloud workers.
 */
export const EDGE_WORKER_LABEL = 'alibabacloud.com/is-edge-worker';

/** Env vars the upgrade pod receives. */
export const ENV_TARGET_VERSION = 'TARGET_VERSION';
export const ENV_NODE_NAME = 'NODE_NAME';
export const ENV_NODE_ROLE = 'NODE_ROLE';

/** Simulator fault labels (set on a Node). */
export const SIM_FAIL_UPGRADE_LABEL = 'sim.edge-upgrade.io/fail-upgrade';
export const SIM_OFFLINE_LABEL = 'sim.edge-upgrade.io/offline';
export const SIM_UPGRADE_SECONDS_LABEL = 'sim.edge-upgrade.io/upgrade-seconds';
/** Nodes the simulator plays carry this label, so a restarted simulator finds them again. */
export const SIM_NODE_LABEL = 'sim.edge-upgrade.io/simulated';
