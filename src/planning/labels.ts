/**
 * Kubernetes names of the public contract: namespace, labels, annotations and env vars. One place,
 * shared by the activities, the simulator, the workflow and the tests.
 */

/** Namespace of the upgrade pods and their Events. */
export const UPGRADE_NAMESPACE = 'kube-upgrade';

/**
 * Pod Security admission level of {@link UPGRADE_NAMESPACE}: the upgrade pod is privileged with the
 * host's PID namespace, which clusters defaulting to 'baseline' or 'restricted' would refuse.
 */
export const POD_SECURITY_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
export const POD_SECURITY_ENFORCE_VALUE = 'privileged';

/** PriorityClass of the upgrade pods: a node's own upgrade must not be preempted or evicted first. */
export const UPGRADE_PRIORITY_CLASS = 'system-node-critical';

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

/**
 * The default of the worker's `cloudNodeLabel`: workers ACK@Edge marks as cloud nodes. Only workers
 * carrying it get the prepare phase (a worker without the label is not prepared).
 */
export const DEFAULT_CLOUD_NODE_LABEL = `${EDGE_WORKER_LABEL}=false`;

/** Label on agent pods that are not upgrade pods: their mode ('prepare' or 'check'). */
export const AGENT_MODE_LABEL = 'edge-upgrade.io/agent-mode';
/** Env var telling the agent its mode ('prepare' or 'check'); upgrade pods do not set it. */
export const ENV_AGENT_MODE = 'AGENT_MODE';

/** Env vars the upgrade pod receives. */
export const ENV_TARGET_VERSION = 'TARGET_VERSION';
export const ENV_NODE_NAME = 'NODE_NAME';
export const ENV_NODE_ROLE = 'NODE_ROLE';
/**
 * Env var of a control-plane node's check pod in a multi-minor upgrade: the hops before the target, comma-separated
 * (e.g. 'v1.32.9,v1.33.5'), whose package repositories the agent checks too. Unset otherwise.
 */
export const ENV_HOP_VERSIONS = 'HOP_VERSIONS';

/** Simulator fault labels (set on a Node). */
/** `true`: the node's upgrade pod fails and writes a log line. */
export const SIM_FAIL_UPGRADE_LABEL = 'sim.edge-upgrade.io/fail-upgrade';
/**
 * `true`: the node stops heartbeats (Lease and status) and goes NotReady; its pods freeze. When
 * the label goes, the kubelet reconnects: it reports Ready and starts the Pending pods bound to it.
 */
export const SIM_OFFLINE_LABEL = 'sim.edge-upgrade.io/offline';
/** `true`: the node's prepare pod (prepare phase, cloud nodes) fails and writes a log line. */
export const SIM_FAIL_PREPARE_LABEL = 'sim.edge-upgrade.io/fail-prepare';
/** `<n>`: the upgrade takes n seconds on that node. */
export const SIM_UPGRADE_SECONDS_LABEL = 'sim.edge-upgrade.io/upgrade-seconds';
/**
 * `true`: after a successful upgrade the new kubelet posts Ready (with the new version) once and
 * then hangs: no Lease renewal, no status. Ready stays True, stale, until the node lifecycle
 * controller notices. Removing the label revives it.
 */
export const SIM_KUBELET_HANGS_LABEL = 'sim.edge-upgrade.io/kubelet-hangs-after-upgrade';
/**
 * `true`: the upgrade pod succeeds, but the new kubelet never starts: the node keeps its old
 * version and posts nothing more (no Lease, no status), so it goes NotReady once the node lifecycle
 * controller notices. Removing the label brings the old kubelet back.
 */
export const SIM_KUBELET_DOWN_LABEL = 'sim.edge-upgrade.io/kubelet-down-after-upgrade';
/** `<n>`: the node's Ready condition flaps: n seconds True, n seconds False, and so on (Leases keep renewing). */
export const SIM_READY_FLAP_LABEL = 'sim.edge-upgrade.io/ready-flap-seconds';
/**
 * `true`: once the node's upgrade succeeded, its ordinary pods (all but upgrade pods) are Running
 * but not Ready (ContainersNotReady), those scheduled there later included; before the upgrade
 * they are Ready. Removing the label makes them Ready again. (A restarted simulator forgets which
 * nodes it upgraded.)
 */
export const SIM_UNREADY_AFTER_UPGRADE_LABEL = 'sim.edge-upgrade.io/unready-after-upgrade';
/*
 * Simulator probe faults: what a node's check pod (agent --check) reports. Without them a node
 * reports a healthy host: no swap, 50 GiB free, the target minor's repository reachable with the
 * target's kubeadm, certificates valid for a year, containerd answering, its clock in sync.
 */
/** `on`: swap is enabled and the kubelet is not configured for it (an error). */
export const SIM_SWAP_LABEL = 'sim.edge-upgrade.io/swap';
/** `<n>`: n MiB free on /var/lib and /usr. */
export const SIM_DISK_FREE_MB_LABEL = 'sim.edge-upgrade.io/disk-free-mb';
/** `true`: the package repository of the target minor cannot be reached from the node. */
export const SIM_REPO_UNREACHABLE_LABEL = 'sim.edge-upgrade.io/repo-unreachable';
/** `<minor>` (e.g. `1.33`): the package repository of that minor does not exist (HTTP 404), for a hop's or the target's. */
export const SIM_REPO_MISSING_MINOR_LABEL = 'sim.edge-upgrade.io/repo-missing-minor';
/** `<n>`: on a control-plane node, the kubeadm certificates expire in n days (`0`: they have expired). */
export const SIM_CERT_DAYS_LABEL = 'sim.edge-upgrade.io/cert-days';
/** `true`: the container runtime does not answer (crictl version fails). */
export const SIM_RUNTIME_DOWN_LABEL = 'sim.edge-upgrade.io/runtime-down';
/** `<n>`: the node's clock is n seconds ahead of the API server's; `behind-<n>`: n seconds behind (label values cannot start with '-'). */
export const SIM_CLOCK_SKEW_LABEL = 'sim.edge-upgrade.io/clock-skew-seconds';
/** `true`: the node's check pod runs but never finishes (a probe that times out). */
export const SIM_PROBE_HANGS_LABEL = 'sim.edge-upgrade.io/probe-hangs';
/** Nodes the simulator plays carry this label, so a restarted simulator finds them again. */
export const SIM_NODE_LABEL = 'sim.edge-upgrade.io/simulated';

/** Annotation on a Node that this upgrade cordoned; its value is the upgrade ID (workflow ID). Uncordon only when it matches. */
export const CORDONED_BY_ANNOTATION = 'edge-upgrade.io/cordoned-by';
/**
 * Annotation beside {@link CORDONED_BY_ANNOTATION}: the first run ID of the upgrade's chain of runs. Successive
 * upgrades of a cluster share the workflow ID; this tells one upgrade's cordons from an earlier one's.
 */
export const CORDONED_BY_RUN_ANNOTATION = 'edge-upgrade.io/cordoned-by-run';
/** Annotation beside {@link CORDONED_BY_ANNOTATION}: the version the node was cordoned to be upgraded to. */
export const CORDONED_FOR_ANNOTATION = 'edge-upgrade.io/cordoned-for';
/** Annotation on a node a cleanup kept cordoned (it may be half-upgraded): why, for the next upgrade's pre-check. */
export const KEPT_REASON_ANNOTATION = 'edge-upgrade.io/kept-reason';
/** Label on a worker quarantined under a failure budget: the upgrade ID (as a label value). It stays cordoned. */
export const QUARANTINED_LABEL = 'edge-upgrade.io/quarantined';
/** Annotation on a quarantined worker: the error that quarantined it. */
export const QUARANTINE_REASON_ANNOTATION = 'edge-upgrade.io/quarantine-reason';
/** Label on upgrade pods and Events: the upgrade ID, made a valid label value (see `labelValue`). */
export const UPGRADE_ID_LABEL = 'edge-upgrade.io/upgrade-id';
/** Label on upgrade pods and node Events: the node name, made a valid label value. */
export const NODE_NAME_LABEL = 'edge-upgrade.io/node';
/** Label on upgrade pods: the target version, e.g. 'v1.34.4'. */
export const TARGET_VERSION_LABEL = 'edge-upgrade.io/target-version';
/** Annotation on upgrade pods: the full upgrade ID (the label may be shortened). */
export const UPGRADE_ID_ANNOTATION = 'edge-upgrade.io/upgrade-id';
/**
 * Label on node probe pods (agent-mode check): who made the pod, the ID of the workflow that probes (the
 * upgrade's, or a `precheck` command's own inspectCluster run), made a valid label value. The pod's name ends
 * in a hash of it. A probe pod made by another workflow than the upgrade is never that upgrade's to delete.
 */
export const MADE_BY_LABEL = 'edge-upgrade.io/made-by';
/** Annotation on node probe pods: the full ID of the workflow that made it (the label may be shortened). */
export const MADE_BY_ANNOTATION = 'edge-upgrade.io/made-by';
/** Name of the upgrade pod's only container; its log is the agent's log. */
export const UPGRADE_CONTAINER = 'upgrade';
/** Mirror (static) pods carry this annotation; drain leaves them alone. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

/** Label selector of kubeadm's kube-apiserver static pods (and so of their mirror pods in kube-system). */
export const KUBE_APISERVER_SELECTOR = 'component=kube-apiserver';

/** Namespace of kubeadm's control-plane static pods' mirror pods. */
export const KUBE_SYSTEM_NAMESPACE = 'kube-system';
/** `source.component` of the Events this project writes. */
export const EVENT_COMPONENT = 'edge-upgrade';
/** Namespace of the Events written on Nodes (cluster-scoped objects), as kubelet and kubectl do. */
export const NODE_EVENT_NAMESPACE = 'default';
