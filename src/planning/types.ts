/**
 * Types shared by the workflow, the activities, the client and the CLI. Pure data: no I/O here.
 * They are part of the public contract (progress query, CLI `-o json`, docs/); keep the names stable.
 */

/** Phases of an upgrade, in order. `prepare` (cloud workers only) is skipped when there are none. */
export type Phase = 'precheck' | 'prepare' | 'masters' | 'workers' | 'done';

/** Overall state; `succeeded`, `cancelled` and `failed` are final. */
export type UpgradeStatus = 'running' | 'paused' | 'succeeded' | 'cancelled' | 'failed';

/** True for the final states: 'succeeded', 'cancelled' and 'failed'. */
export function isFinal(state: UpgradeStatus): boolean {
  return state === 'succeeded' || state === 'cancelled' || state === 'failed';
}

/** Why an upgrade is paused. `window` pauses never auto-cancel. */
export type PauseReason = 'user' | 'error' | 'window';

/** Why an upgrade was cancelled. */
export type CancelReason = 'user' | 'pause-timeout';

/** The role a node's upgrade pod is told through NODE_ROLE. */
export type NodeRole = 'first-control-plane' | 'control-plane' | 'worker';

/** The steps of one node's upgrade, as named in `lastError.step`. */
/**
 * `offline`: the node was NotReady (or its Lease had expired) when its turn came, so it was not touched.
 * `health-gate`: the checks after a batch (or master) did not hold within `gate.timeout`.
 * `prepare`: the cloud node's prepare pod (repository, packages, images, space) failed.
 * `batch`: the child workflow upgrading the node's batch ended without a result (terminated, say).
 */
export type NodeStep =
  | 'cordon'
  | 'drain'
  | 'upgrade-pod'
  | 'wait'
  | 'uncordon'
  | 'cleanup'
  | 'offline'
  | 'health-gate'
  | 'quarantine'
  | 'prepare'
  | 'batch'
  /** A multi-minor upgrade's worker pass left workers behind that the next control-plane hop would leave outside the skew. */
  | 'version-skew';

/** Verdict of one pre-check item. */
export type CheckResult = 'normal' | 'warning' | 'error';

/** One pre-check item: what was checked, the verdict, a cause an operator can act on, and the nodes concerned. */
export interface PrecheckItem {
  id: string;
  result: CheckResult;
  message: string;
  nodes: string[];
}

/** The pre-check report as it appears in `progress`. */
export interface PrecheckReport {
  status: 'pending' | 'passed' | 'warning' | 'failed';
  items: PrecheckItem[];
}

/**
 * A maintenance window: outside it no new node starts (in-flight nodes finish); the upgrade pauses
 * with reason 'window' and resumes by itself when the window next opens. Times are "HH:MM" or
 * "HH:MM:SS" wall-clock in `timezone`; an `end` at or before `start` crosses midnight. See
 * ../planning/window.ts for the exact rules (DST, merging).
 */
export interface MaintenanceWindow {
  /** Days of the week the window opens (the day it starts, in `timezone`), e.g. ['sat', 'sun']; empty or absent means every day. */
  days?: Array<'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun'>;
  /** Opening time, "HH:MM" or "HH:MM:SS". */
  start: string;
  /** Closing time, "HH:MM" or "HH:MM:SS"; at or before `start` means the next day. */
  end: string;
  /** IANA time zone, default 'UTC'. */
  timezone?: string;
}

/**
 * The workflow input: one JSON object, as in the public contract. Durations are strings such as
 * '15 days', '10m' or '90s' (parsed with Temporal's duration format) or numbers of milliseconds.
 * Credentials are never part of it: `clusterId` maps to credentials in the worker's configuration.
 */
export interface UpgradeRequest {
  clusterId: string;
  targetVersion: string;
  acceptWarnings?: boolean;
  batch?: { maxPercent?: number };
  pauseTimeout?: string | number;
  drainTimeout?: string | number;
  nodeTimeout?: string | number;
  upgradeImage?: string;
  window?: MaintenanceWindow;
  /**
   * What to do with a worker that is offline (NotReady, or its Lease expired) when its turn comes:
   * 'fail' (default) pauses the upgrade at once with step 'offline', touching nothing on the node;
   * 'defer' skips it, upgrades the others, then upgrades it as soon as it is Ready again.
   */
  offline?: 'fail' | 'defer';
  /** How long a deferred node may stay offline (from when it was deferred); default: the pause timeout. */
  deferTimeout?: string | number;
  /**
   * Failure budget: with N (or 'P%' of the workers) above 0, a failed worker is quarantined (stays
   * cordoned, labelled, its pod kept) and the upgrade goes on until more than N are quarantined. Default 0.
   */
  maxFailures?: number | string;
  /** The health gate after each worker batch and each master, before the next starts. */
  gate?: HealthGate;
  /**
   * Intermediate versions for a multi-minor upgrade, e.g. ['v1.32.9', 'v1.33.5']: the control plane
   * hops through one per minor on the way to the target (with the worker configuration's `versions`).
   */
  via?: string[];
  /**
   * The read-only node probes of the pre-check (agent `--check` pods in kube-upgrade; see
   * planning/probe-items.ts): `false` skips them; an object tunes them. Default: on, 20 nodes at a
   * time, 2 minutes per node.
   */
  nodeProbes?: boolean | { concurrency?: number; timeout?: string | number };
}

/**
 * The health gate: after a batch (or master), every check must hold for `stableFor` (default 30 s;
 * 0 disables the gate); a check that fails for longer than `timeout` (default 10 minutes) pauses the
 * upgrade with step 'health-gate'. `checks` names extra checks from the worker configuration
 * (`healthChecks`: HTTP GETs, Prometheus queries), so no URL or credential is part of the request.
 */
export interface HealthGate {
  stableFor?: string | number;
  timeout?: string | number;
  checks?: string[];
  /** Container restarts on the upgraded nodes during the gate above which the 'restarts' check fails (default 3). */
  maxRestarts?: number;
}

/** One check of the health gate, as shown in progress. */
export interface GateCheckState {
  name: string;
  ok: boolean;
  message: string;
}

/** The health gate in progress: since when it runs, since when every check held (null while one fails), each check's verdict. */
export interface GateState {
  nodes: string[];
  since: string;
  stableSince: string | null;
  checks: GateCheckState[];
}

/** A worker deferred because it was offline when its turn came. `expired` once it stayed offline past `deferTimeout`. */
export interface DeferredNode {
  node: string;
  since: string;
  reason: string;
  expired?: boolean;
  /** Left out (expired) but still cordoned by the upgrade: why (its upgrade pod failed or has not finished). */
  kept?: string;
}

/** A worker that failed under a failure budget: cordoned, labelled, its pod and log kept. */
export interface QuarantinedNode {
  node: string;
  step: NodeStep;
  message: string;
  at: string;
}

/** One node as the workflow sees it: no Kubernetes objects cross into workflow code. */
export interface ClusterNode {
  name: string;
  /** `control-plane` for master nodes, `worker` for the rest. */
  kind: 'control-plane' | 'worker';
  /** True for edge (remote-site) workers, false for cloud workers and masters. */
  edge: boolean;
  /** `status.nodeInfo.kubeletVersion`, e.g. 'v1.33.5'. */
  kubeletVersion: string;
  ready: boolean;
  unschedulable: boolean;
  /** True for a worker carrying the worker's cloud-node label (`cloudNodeLabel`): it is prepared before the masters. */
  cloud?: boolean;
}

/** What the workflow needs to know about a cluster before it plans. */
export interface ClusterInventory {
  clusterId: string;
  /** The API server's gitVersion, e.g. 'v1.33.5'. */
  controlPlaneVersion: string;
  nodes: ClusterNode[];
  /** The label (`key=value`, or `key`) that marked the `cloud` workers; absent when the worker prepares no nodes. */
  cloudNodeLabel?: string;
  /** Versions the worker configuration lists for multi-minor hops (`versions`); absent when none. */
  versions?: string[];
}

/** Progress of the prepare phase, see {@link Progress.prepare}. */
export interface PrepareProgress {
  total: number;
  done: number;
  current: string[];
  skipped?: Array<{ node: string; reason: string }>;
}

/** The last node failure, as queryable in `progress.lastError`. */
export interface LastError {
  node: string;
  step: NodeStep;
  message: string;
  /** Tail of the upgrade pod's log, when there was a pod. */
  logTail?: string;
  at?: string;
}

/** The `progress` query's answer: the public contract's fields, plus a few extras. */
export interface Progress {
  clusterId: string;
  targetVersion: string;
  phase: Phase;
  state: UpgradeStatus;
  /**
   * Why and since when the upgrade is paused. `autoCancelAt` is null for window pauses; `opensAt`
   * (ISO-8601) is set only for window pauses: when the window opens and the upgrade resumes by itself.
   */
  pause: null | { reason: PauseReason; since: string; autoCancelAt: string | null; opensAt?: string; message?: string };
  precheck: PrecheckReport;
  /** `removed`: nodes deleted from the cluster mid-upgrade, skipped (absent until one is). */
  masters: {
    total: number;
    upgraded: number;
    current: null | { serial: number; node: string };
    removed?: string[];
    /** The health gate after the last master, while it runs. */
    gate?: GateState | null;
  };
  /**
   * `deferred`: offline workers put aside (offline 'defer'); `quarantined`: failed workers under a
   * failure budget; `gate`: the health gate after the last batch, while it runs; `waiting`:
   * 'deferred' while every other worker is done and the upgrade waits for deferred nodes to come back.
   */
  workers: {
    total: number;
    upgraded: number;
    batch: null | { number: number; size: number; nodes: string[] };
    removed?: string[];
    deferred?: DeferredNode[];
    quarantined?: QuarantinedNode[];
    gate?: GateState | null;
    waiting?: 'deferred' | null;
  };
  /**
   * The prepare phase (cloud workers, before the masters): how many of `total` are prepared, the
   * ones being prepared now, and offline ones skipped (offline 'defer'; their upgrade deals with them).
   * Absent in upgrades without cloud workers to prepare (and in those started before the phase existed).
   */
  prepare?: PrepareProgress;
  lastError: null | LastError;
  cancelReason: null | CancelReason;
  /** Refused commands (e.g. a cancel while running), newest last, at most a few. */
  refusals?: Array<{ command: string; reason: string; at: string }>;
  /** Why the upgrade failed, when state is 'failed'. */
  failure?: string | null;
  /**
   * True when the upgrade succeeded without upgrading every worker: some stayed offline past
   * `deferTimeout` (`workers.deferred`, expired) or are quarantined (`workers.quarantined`).
   */
  partial?: boolean;
  /**
   * A multi-minor upgrade's control-plane hop: the `number`th of `of`, at `version` (the last one's
   * is the target). Absent or null for a single-minor upgrade.
   */
  hop?: null | { number: number; of: number; version: string };
}
