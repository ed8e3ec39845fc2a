/**
 * The activity interface the workflow calls. Workflow code imports this file as types only; the
 * Kubernetes implementation is `createActivities(deps)` in ./index.ts. Every activity is idempotent:
 * a retry after a crash finds and reuses what the first attempt made (deterministic pod names,
 * "cordoned by us" recorded on the Node).
 *
 * Failures: a node step that cannot succeed throws ApplicationFailure type 'NodeStepFailed' with
 * details `[NodeStepFailureDetails]`; an unknown cluster throws non-retryable 'UnknownCluster'.
 */
import type { ClusterInventory, GateCheckState, NodeRole, NodeStep, PrecheckItem } from '../planning/types.js';

/** Identifies one upgrade; pods and events carry it so cleanup finds exactly what this upgrade made. */
export interface UpgradeRef {
  clusterId: string;
  targetVersion: string;
  /** The workflow ID, e.g. 'edge-upgrade-shop-17'. */
  upgradeId: string;
  /**
   * The first run ID of the upgrade's chain of runs (continue-as-new keeps it): successive upgrades of a
   * cluster share `upgradeId`, and this tells their cordons apart. Absent from upgrades started before it existed.
   */
  runChain?: string;
}

/** Arguments of `probeNodes`. */
/** What `precheck` checks besides the cluster itself. */
export interface PrecheckArgs extends UpgradeRef {
  /** Offline workers are no error: they will be deferred. */
  deferOffline?: boolean;
  /** A multi-minor upgrade's control-plane versions; the version rules then apply to the first hop. */
  hops?: string[];
  /** The drain timeout pods' grace periods are held against, in ms (absent: no grace-period item). */
  drainTimeoutMs?: number;
}

export interface ProbeArgs extends UpgradeRef {
  /** Offline workers will be deferred (request offline 'defer'): the item says so instead of warning. */
  deferOffline?: boolean;
  /** The request's agent image (checked against the worker's allow-list), else the worker's default. */
  upgradeImage?: string;
  /** Nodes probed at once. */
  concurrency: number;
  /** How long one node's probe may take, in ms. */
  timeoutMs: number;
  /** A multi-minor upgrade's hop versions (the target last): masters' probes check each hop's repository too. */
  hops?: string[];
}

/** Arguments of every per-node step. */
export interface NodeStepArgs extends UpgradeRef {
  node: string;
  role: NodeRole;
}

/** Details attached to a 'NodeStepFailed' ApplicationFailure. */
export interface NodeStepFailureDetails {
  node: string;
  step: NodeStep;
  message: string;
  logTail?: string;
}

export interface UpgradeActivities {
  /**
   * Reads nodes and versions. Throws non-retryable 'UnknownCluster' for an unconfigured clusterId.
   * With `upgrade` (an upgrade is about to start) it first checks the image against the worker's
   * allow-list for the cluster and the gate checks against the worker's `healthChecks`, and throws
   * non-retryable 'InvalidUpgradeRequest' when the image is not allowed or a check is not configured.
   */
  inventory(clusterId: string, upgrade?: { upgradeImage?: string; gateChecks?: string[] }): Promise<ClusterInventory>;
  /** Runs the pre-check items against the cluster (see {@link PrecheckArgs}). */
  precheck(args: PrecheckArgs): Promise<PrecheckItem[]>;
  /**
   * The node-level pre-check items: runs the agent's read-only check (`--check`) as a short-lived pod
   * on each Ready node still to upgrade, `concurrency` at a time, each given `timeoutMs`; deletes
   * every probe pod before returning; adds the deprecated-API item from the API server's /metrics.
   * Heartbeats per node. Throws non-retryable 'InvalidUpgradeRequest' when the image is not allowed.
   */
  probeNodes(args: ProbeArgs): Promise<PrecheckItem[]>;
  /** Cordons the node unless it already is; records on the Node when we did it. */
  cordonNode(args: NodeStepArgs): Promise<{ cordonedByUs: boolean }>;
  /**
   * Evicts the node's pods (DaemonSet and mirror pods stay). Heartbeats; fails naming the blocking PDB and pod.
   * `owners` are the evicted pods' controllers ('Deployment/<ns>/<name>', 'StatefulSet/<ns>/<name>'), for the health gate.
   */
  drainNode(args: NodeStepArgs & { drainTimeoutMs: number }): Promise<{ evicted: number; owners: string[] }>;
  /**
   * Creates (or finds) the node's upgrade pod and waits until it Succeeded, the node reports the
   * target kubeletVersion and is Ready. Heartbeats while waiting. On failure the details carry the log tail.
   */
  runUpgradePod(args: NodeStepArgs & { upgradeImage?: string; nodeTimeoutMs: number }): Promise<{ pod: string }>;
  /**
   * The prepare phase on one cloud node: runs the agent in prepare mode (package repository switched
   * to the target minor, packages downloaded, images pre-pulled, free space checked; nothing
   * installed or restarted) and waits until its pod Succeeded, then deletes it. Heartbeats. An
   * offline node fails 'NodeOffline' untouched; a failed pod fails 'NodeStepFailed' (step 'prepare') with its log tail.
   */
  runPreparePod(args: NodeStepArgs & { upgradeImage?: string; nodeTimeoutMs: number }): Promise<{ pod: string }>;
  /** Uncordons the node only if this upgrade cordoned it. */
  uncordonNode(args: NodeStepArgs): Promise<{ uncordoned: boolean }>;
  /** Deletes this cluster's failed upgrade pods in kube-upgrade (before a resume). Returns how many. */
  deleteFailedUpgradePods(args: UpgradeRef): Promise<{ deleted: number }>;
  /**
   * Waits (by watch) until at least one of `nodes` is online again (Ready, Lease fresh), at most
   * `timeoutMs`; returns those online then (empty on timeout) and those deleted from the cluster.
   */
  waitForNodesOnline(args: UpgradeRef & { nodes: string[]; timeoutMs: number }): Promise<{ online: string[]; removed: string[] }>;
  /**
   * Labels and annotates a failed worker as quarantined (failure budget); it stays cordoned, its pod kept.
   * `step: 'prepare'`: a cloud worker whose prepare failed (never cordoned).
   */
  quarantineNode(args: NodeStepArgs & { message: string; step?: 'prepare' }): Promise<void>;
  /**
   * A batch child workflow (`workflowId`) was cancelled by hand, and the cancel is ignored: its nodes
   * finish. Records a Warning Event `UpgradeBatchCancelIgnored` on each of its `nodes`, labelled with
   * the upgrade like its other Events. Best effort: never fails.
   */
  recordBatchCancelIgnored(args: UpgradeRef & { nodes: string[]; workflowId: string; at: string }): Promise<void>;
  /**
   * Restores what the upgrade changed: uncordons every node this upgrade cordoned. With
   * `deleteRecords` it also deletes the upgrade pods and Events in kube-upgrade and the Events it
   * wrote on nodes (the pause-timeout auto-cancel). A node whose upgrade pod failed or has not
   * finished may be half-upgraded: it stays cordoned, its pod is kept, and it is returned in `kept`.
   * `versions`: a multi-minor upgrade's hop versions, whose pods and Events are this upgrade's too.
   */
  cleanupUpgrade(args: UpgradeRef & { deleteRecords: boolean; versions?: string[] }): Promise<CleanupResult>;
  /**
   * Deferred workers left out (offline past `deferTimeout`): the cancel's cleanup rules for `nodes`
   * only, deleting nothing. A node this upgrade cordoned is uncordoned unless its upgrade pod failed or
   * has not finished; then it stays cordoned, in `kept`, with a Warning Event `UpgradeDeferredNodeKept`.
   */
  releaseExpiredDeferred(args: UpgradeRef & { nodes: string[]; versions?: string[] }): Promise<CleanupResult>;
  /**
   * One read-only evaluation of the health gate for `nodes` (the workflow calls it every few
   * seconds and judges flapping, stableFor and timeout itself): the built-in checks 'nodes',
   * 'daemonsets', 'workloads', 'restarts', in that order, then one per name in `checks`. Transient
   * API errors are retried briefly; a check that cannot be evaluated is returned not ok, never thrown.
   */
  evaluateHealth(args: HealthArgs): Promise<GateCheck[]>;
}

/** What cleanup did: nodes uncordoned, nodes kept cordoned (maybe half-upgraded) and why, records deleted. */
export interface CleanupResult {
  uncordoned: string[];
  /** Nodes left cordoned because their upgrade pod Failed or has not finished: they may be half-upgraded. */
  kept: Array<{ node: string; reason: string }>;
  deletedPods: number;
  deletedEvents: number;
}

/** One health-gate check's verdict, as shown in progress (`workers.gate.checks`): planning/types.ts's GateCheckState. */
export type GateCheck = GateCheckState;

export interface HealthArgs extends UpgradeRef {
  /** Nodes just upgraded (the batch, or one master). */
  nodes: string[];
  /** ISO time the gate started: container restarts after it count. */
  since: string;
  /** Controllers of the pods the drain evicted from those nodes, as 'Deployment/<ns>/<name>' or 'StatefulSet/<ns>/<name>'. */
  owners: string[];
  /** Names of extra checks from the worker configuration (`healthChecks`), run after the built-in ones. */
  checks: string[];
  /** Container restarts after `since` above which a pod on those nodes fails the 'restarts' check. */
  maxRestarts: number;
}
