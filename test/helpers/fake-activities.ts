/**
 * In-memory clusters behind the {@link UpgradeActivities} interface, for workflow tests and the
 * benchmark. Each cluster records every call, holds upgrade pods on demand (so a test can look at
 * progress while nodes are in flight), and fails nodes on demand the way the real activities do
 * (ApplicationFailure 'NodeStepFailed' with {@link NodeStepFailureDetails}).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type {
  GateCheck,
  HealthArgs,
  NodeStepArgs,
  NodeStepFailureDetails,
  UpgradeActivities,
  UpgradeRef,
} from '../../src/activities/types.js';
import { ErrorType } from '../../src/planning/errors.js';
import { compareNodeNames } from '../../src/planning/order.js';
import type { ClusterInventory, ClusterNode, NodeRole, NodeStep, PrecheckItem } from '../../src/planning/types.js';

/** An activity's name. */
export type ActivityName = keyof UpgradeActivities;

/** What a call of `K` records: its argument (`inventory`, called with a cluster ID, records `{ clusterId }`). */
export type RecordedArgs<K extends ActivityName> = K extends 'inventory' ? { clusterId: string } : Parameters<UpgradeActivities[K]>[0];

/** One recorded activity call; `callsOf('cleanupUpgrade')` gives calls whose `args` are typed. */
export interface FakeCall<K extends ActivityName = ActivityName> {
  activity: K;
  node?: string;
  role?: NodeRole;
  args: RecordedArgs<K>;
  /** Order of the call across the whole fleet. */
  seq: number;
}

/** One node's upgrade attempt, from its cordon to its last step. */
interface Attempt {
  node: string;
  start: number;
  end: number | null;
  /** Wall-clock times of start and end (Date.now()), for the benchmark's per-batch overhead. */
  startMs: number;
  endMs: number | null;
}

/** A node of a fake cluster, with what the upgrade did to it. */
export interface FakeNode extends ClusterNode {
  cordonedByUs: boolean;
  /** The error a quarantine labelled it with (failure budget). */
  quarantined?: string;
}

let seq = 0;
const tick = () => ++seq;

/** Options of a fake cluster. */
export interface FakeClusterOptions {
  clusterId: string;
  controlPlaneVersion: string;
  nodes: ClusterNode[];
  precheckItems?: PrecheckItem[];
  /** What `probeNodes` returns (default: one normal 'node-probes' item). */
  probeItems?: PrecheckItem[];
  /** How long each upgrade pod takes, in ms. */
  upgradeMs?: number;
}

/** One simulated cluster. */
export class FakeCluster {
  readonly clusterId: string;
  controlPlaneVersion: string;
  readonly nodes = new Map<string, FakeNode>();
  readonly calls: FakeCall[] = [];
  precheckItems: PrecheckItem[];
  probeItems: PrecheckItem[];
  /** When set, `probeNodes` fails with this message (non-retryable), as when the probes cannot run at all. */
  probeError: string | undefined;
  upgradeMs: number;
  /** Nodes whose upgrade pod fails (until removed from the set). */
  readonly failUpgrade = new Set<string>();
  /** Cloud nodes whose prepare pod fails (until removed from the set). */
  readonly failPrepare = new Set<string>();
  /** Nodes whose drain fails (until removed from the set). */
  readonly failDrain = new Set<string>();
  /** Nodes that go offline right after we cordon them: their upgrade pod step then fails 'NodeOffline' before any pod. */
  readonly offlineAfterCordon = new Set<string>();
  /** While true, upgrade pods wait in {@link held} until {@link release}. */
  hold = false;
  /** The worker configuration's `versions` for this cluster (multi-minor hops); none when empty. */
  versions: string[] = [];
  /** How many more `cleanupUpgrade` attempts fail with a transient error (an API outage). */
  cleanupFailures = 0;
  /** The health gate's verdicts, per evaluation (default: every check holds). */
  health: (args: HealthArgs) => GateCheck[] = () => [{ name: 'nodes', ok: true, message: 'all Ready' }];
  /** Controllers each drain reports as evicted. */
  evictedOwners: string[] = [];
  /** Held `cleanupUpgrade` / `deleteFailedUpgradePods` calls wait until their gate is opened. */
  readonly gates = { cleanup: new Gate(), deleteFailedPods: new Gate() };
  private readonly waiting = new Map<string, () => void>();
  private readonly attempts: Attempt[] = [];
  /** Nodes with a failed upgrade pod (not yet deleted by a resume). */
  private readonly failedPods = new Set<string>();

  constructor(opts: FakeClusterOptions) {
    this.clusterId = opts.clusterId;
    this.controlPlaneVersion = opts.controlPlaneVersion;
    this.precheckItems = opts.precheckItems ?? [];
    this.probeItems = opts.probeItems ?? [{ id: 'node-probes', result: 'normal', message: 'all nodes probed (fake)', nodes: [] }];
    this.upgradeMs = opts.upgradeMs ?? 0;
    for (const n of opts.nodes) this.nodes.set(n.name, { ...n, cordonedByUs: false });
  }

  /** Nodes whose upgrade pod is waiting for {@link release}, in arrival order. */
  get held(): string[] {
    return [...this.waiting.keys()];
  }

  /** Lets held upgrade pods finish (all, or the named ones). */
  release(names: string[] = this.held): void {
    for (const n of names) {
      const go = this.waiting.get(n);
      this.waiting.delete(n);
      go?.();
    }
  }

  /** Calls of one activity, optionally for one node. */
  callsOf<K extends ActivityName>(activity: K, node?: string): FakeCall<K>[] {
    return this.calls.filter((c): c is FakeCall<K> => c.activity === activity && (node === undefined || c.node === node));
  }

  /** Nodes cordoned so far, each once, in natural name order. */
  touchedNodes(): string[] {
    // Sorted: nodes of one batch start concurrently, so the order of their first calls varies.
    return [...new Set(this.callsOf('cordonNode').map((c) => c.node!))].sort(compareNodeNames);
  }

  /**
   * Worker batches as the cluster saw them: groups of upgrade attempts whose lifetimes overlap
   * (a batch starts only after the previous one has completely finished). Returns their sizes.
   */
  observedBatchSizes(kind: ClusterNode['kind'] = 'worker'): number[] {
    return this.observedBatches(kind).map((b) => b.length);
  }

  /** The nodes of each observed batch (see {@link observedBatchSizes}), each batch sorted by name. */
  observedBatches(kind: ClusterNode['kind'] = 'worker'): string[][] {
    const list = this.attempts.filter((a) => this.nodes.get(a.node)?.kind === kind).sort((a, b) => a.start - b.start);
    const batches: string[][] = [];
    let groupEnd = -1;
    for (const a of list) {
      const end = a.end ?? Number.MAX_SAFE_INTEGER;
      if (batches.length === 0 || a.start > groupEnd) {
        batches.push([a.node]);
        groupEnd = end;
      } else {
        batches[batches.length - 1]!.push(a.node);
        groupEnd = Math.max(groupEnd, end);
      }
    }
    return batches.map((b) => b.sort(compareNodeNames));
  }

  /**
   * Wall time of each observed batch (see {@link observedBatches}): from the end of the batch before
   * (or the first start) to the end of its last attempt, in ms.
   */
  observedBatchWalls(kind: ClusterNode['kind'] = 'worker'): { size: number; wallMs: number }[] {
    const at = new Map(this.attempts.map((a) => [a.node, a]));
    let previousEnd: number | undefined;
    return this.observedBatches(kind).map((nodes) => {
      const attempts = nodes.map((n) => at.get(n)!);
      const end = Math.max(...attempts.map((a) => a.endMs ?? Date.now()));
      const from = previousEnd ?? Math.min(...attempts.map((a) => a.startMs));
      previousEnd = end;
      return { size: nodes.length, wallMs: end - from };
    });
  }

  /** Most attempts of `kind` ever in flight at once. */
  maxConcurrent(kind: ClusterNode['kind']): number {
    const points = this.attempts
      .filter((a) => this.nodes.get(a.node)?.kind === kind)
      .flatMap((a) => [
        [a.start, 1],
        [a.end ?? Number.MAX_SAFE_INTEGER, -1],
      ])
      .sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
    let cur = 0;
    let max = 0;
    for (const [, d] of points) max = Math.max(max, (cur += d!));
    return max;
  }

  inventory(): ClusterInventory {
    return {
      clusterId: this.clusterId,
      controlPlaneVersion: this.controlPlaneVersion,
      nodes: [...this.nodes.values()].map(({ cordonedByUs: _c, ...n }) => ({ ...n })),
      ...(this.versions.length > 0 ? { versions: [...this.versions] } : {}),
    };
  }

  record<K extends ActivityName>(activity: K, args: RecordedArgs<K>): void {
    const a = args as Partial<NodeStepArgs>;
    this.calls.push({ activity, node: a?.node, role: a?.role, args, seq: tick() } as FakeCall);
  }

  /** The node; fails non-retryable 'NodeRemoved', as the real activities do, when it was deleted. */
  node(name: string): FakeNode {
    const n = this.nodes.get(name);
    if (!n)
      throw ApplicationFailure.nonRetryable(
        `node ${name} no longer exists in cluster ${this.clusterId}; it is skipped`,
        ErrorType.NodeRemoved,
      );
    return n;
  }

  begin(node: string): void {
    this.attempts.push({ node, start: tick(), end: null, startMs: Date.now(), endMs: null });
  }

  end(node: string): void {
    const a = [...this.attempts].reverse().find((x) => x.node === node && x.end === null);
    if (a) {
      a.end = tick();
      a.endMs = Date.now();
    }
  }

  async upgradePod(args: NodeStepArgs): Promise<{ pod: string }> {
    const pod = `upgrade-${args.node}`;
    // As the real step: a node that went offline before its pod started fails with step 'offline'.
    if (this.offlineAfterCordon.has(args.node) && !this.node(args.node).ready)
      throw stepFailed(
        args.node,
        'offline',
        `${args.node} went offline (Ready Unknown) before its upgrade pod kube-upgrade/${pod} started`,
      );
    if (this.hold) await new Promise<void>((resolve) => this.waiting.set(args.node, resolve));
    if (this.upgradeMs > 0) await new Promise((r) => setTimeout(r, this.upgradeMs));
    if (this.failUpgrade.has(args.node)) {
      this.failedPods.add(args.node);
      this.end(args.node);
      throw stepFailed(
        args.node,
        'upgrade-pod',
        `upgrade pod ${pod} failed: exit code 1`,
        'E1128 kubeadm: preflight failed: [ERROR Swap]: swap is on',
      );
    }
    const n = this.node(args.node);
    n.kubeletVersion = args.targetVersion;
    n.ready = true;
    return { pod };
  }

  /**
   * A prepare pod: refuses an offline node, waits while {@link hold} is set, fails on demand (kept until a resume deletes it),
   * changes nothing on the node.
   */
  async preparePod(args: NodeStepArgs): Promise<{ pod: string }> {
    const pod = `prepare-${args.node}`;
    this.refuseIfOffline(args.node);
    if (this.hold) await new Promise<void>((resolve) => this.waiting.set(args.node, resolve));
    if (this.upgradeMs > 0) await new Promise((r) => setTimeout(r, this.upgradeMs));
    if (this.failPrepare.has(args.node)) {
      this.failedPods.add(pod);
      throw stepFailed(args.node, 'prepare', `prepare pod ${pod} failed`, 'error: only 812 MiB free in /var; 2048 MiB needed');
    }
    return { pod };
  }

  /** Cordon's offline check: a node that is not Ready is refused with 'NodeOffline', untouched. */
  refuseIfOffline(name: string): void {
    const n = this.node(name);
    if (n.ready) return;
    throw ApplicationFailure.create({
      message: `${name} is offline: it is NotReady; nothing was changed on it`,
      type: ErrorType.NodeOffline,
      nonRetryable: true,
      details: [{ node: name, reason: 'it is NotReady' }],
    });
  }

  /** Resolves when one of `nodes` is Ready (or deleted), or after `timeoutMs`; polls every 20 ms. */
  async waitOnline(nodes: string[], timeoutMs: number): Promise<{ online: string[]; removed: string[] }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const removed = nodes.filter((n) => !this.nodes.has(n));
      const online = nodes.filter((n) => this.nodes.get(n)?.ready === true);
      if (online.length > 0 || removed.length > 0 || Date.now() >= deadline) return { online, removed };
      await new Promise((r) => setTimeout(r, 20));
      try {
        Context.current().heartbeat();
        if (Context.current().cancellationSignal.aborted) throw new CancelledFailure('cancelled');
      } catch (err) {
        if (err instanceof CancelledFailure) throw err;
      }
    }
  }

  deleteFailedPods(): number {
    const deleted = this.failedPods.size;
    this.failedPods.clear();
    return deleted;
  }

  /** True while `node` has a failed upgrade pod. */
  hasFailedPod(node: string): boolean {
    return this.failedPods.has(node);
  }
}

function stepFailed(node: string, step: NodeStep, message: string, logTail?: string): ApplicationFailure {
  const details: NodeStepFailureDetails = { node, step, message, ...(logTail ? { logTail } : {}) };
  return ApplicationFailure.create({
    type: ErrorType.NodeStepFailed,
    nonRetryable: true,
    message: `${node}: ${message}`,
    details: [details],
  });
}

/** A gate that held calls wait at while it is closed. */
export class Gate {
  closed = false;
  private readonly waiting: Array<() => void> = [];
  /** Calls waiting at the gate. */
  get held(): number {
    return this.waiting.length;
  }
  async pass(): Promise<void> {
    if (this.closed) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  open(): void {
    this.closed = false;
    for (const go of this.waiting.splice(0)) go();
  }
}

/** Builds nodes: `masters` control planes cp-1…, then cloud workers cloud-1… and edge workers edge-1…, all at `version`. */
export function makeNodes(opts: { masters?: number; cloud?: number; edge?: number; version: string }): ClusterNode[] {
  const nodes: ClusterNode[] = [];
  const base = { kubeletVersion: opts.version, ready: true, unschedulable: false };
  for (let i = 1; i <= (opts.masters ?? 0); i++) nodes.push({ name: `cp-${i}`, kind: 'control-plane', edge: false, ...base });
  for (let i = 1; i <= (opts.cloud ?? 0); i++) nodes.push({ name: `cloud-${i}`, kind: 'worker', edge: false, ...base });
  for (let i = 1; i <= (opts.edge ?? 0); i++) nodes.push({ name: `edge-${i}`, kind: 'worker', edge: true, ...base });
  return nodes;
}

/** Several fake clusters behind one set of activities (dispatching on clusterId), for one worker. */
export class FakeFleet {
  private readonly clusters = new Map<string, FakeCluster>();

  add(opts: FakeClusterOptions): FakeCluster {
    const c = new FakeCluster(opts);
    this.clusters.set(c.clusterId, c);
    return c;
  }

  /** Removes a cluster, as if it left the worker's configuration. */
  remove(clusterId: string): void {
    this.clusters.delete(clusterId);
  }

  get(clusterId: string): FakeCluster {
    const c = this.clusters.get(clusterId);
    if (!c)
      throw ApplicationFailure.nonRetryable(
        `unknown cluster '${clusterId}': it is not in the worker's cluster configuration`,
        ErrorType.UnknownCluster,
      );
    return c;
  }

  /** The activities, as a worker registers them. */
  activities(): UpgradeActivities {
    const on = <K extends ActivityName>(activity: K, args: RecordedArgs<K> & { clusterId: string }) => {
      const c = this.get(args.clusterId);
      c.record(activity, args);
      return c;
    };
    return {
      inventory: async (clusterId: string) => on('inventory', { clusterId }).inventory(),
      precheck: async (args: UpgradeRef) => on('precheck', args).precheckItems,
      probeNodes: async (args) => {
        const c = on('probeNodes', args);
        if (c.probeError) throw ApplicationFailure.nonRetryable(c.probeError, 'ProbeFailed');
        return c.probeItems;
      },
      cordonNode: async (args) => {
        const c = on('cordonNode', args);
        c.refuseIfOffline(args.node);
        const n = c.node(args.node);
        delete n.quarantined;
        c.begin(args.node);
        if (n.unschedulable) return { cordonedByUs: false };
        n.unschedulable = true;
        n.cordonedByUs = true;
        if (c.offlineAfterCordon.has(args.node)) n.ready = false;
        return { cordonedByUs: true };
      },
      drainNode: async (args) => {
        const c = on('drainNode', args);
        if (c.failDrain.has(args.node)) {
          c.end(args.node);
          throw stepFailed(args.node, 'drain', 'eviction of shop/web-0 blocked by PodDisruptionBudget shop/web-pdb past drainTimeout');
        }
        return { evicted: 3, owners: c.evictedOwners };
      },
      runUpgradePod: async (args) => on('runUpgradePod', args).upgradePod(args),
      runPreparePod: async (args) => on('runPreparePod', args).preparePod(args),
      uncordonNode: async (args) => {
        const c = on('uncordonNode', args);
        const n = c.nodes.get(args.node);
        if (!n) return { uncordoned: false };
        const did = n.cordonedByUs;
        if (did) {
          n.unschedulable = false;
          n.cordonedByUs = false;
        }
        c.end(args.node);
        return { uncordoned: did };
      },
      deleteFailedUpgradePods: async (args) => {
        const c = on('deleteFailedUpgradePods', args);
        await c.gates.deleteFailedPods.pass();
        return { deleted: c.deleteFailedPods() };
      },
      waitForNodesOnline: async (args) => on('waitForNodesOnline', args).waitOnline(args.nodes, args.timeoutMs),
      quarantineNode: async (args) => {
        const c = on('quarantineNode', args);
        c.node(args.node).quarantined = args.message;
      },
      recordBatchCancelIgnored: async (args) => {
        on('recordBatchCancelIgnored', args);
      },
      evaluateHealth: async (args) => {
        const c = on('evaluateHealth', args);
        return c.health(args);
      },
      cleanupUpgrade: async (args) => {
        const c = on('cleanupUpgrade', args);
        await c.gates.cleanup.pass();
        if (c.cleanupFailures > 0) {
          c.cleanupFailures--;
          throw new Error('API server https://127.0.0.1:6443 unreachable: connect ECONNREFUSED');
        }
        // As the real cleanup: a node whose upgrade pod failed may be half-upgraded, so it stays cordoned and its pod stays.
        const uncordoned: string[] = [];
        const kept: Array<{ node: string; reason: string }> = [];
        for (const n of c.nodes.values()) {
          if (!n.cordonedByUs) continue;
          if (c.hasFailedPod(n.name)) {
            kept.push({ node: n.name, reason: `its upgrade pod kube-upgrade/upgrade-${n.name} failed; the node may be half-upgraded` });
            continue;
          }
          n.unschedulable = false;
          n.cordonedByUs = false;
          uncordoned.push(n.name);
        }
        // The fake records only failed pods, and those are all kept.
        return { uncordoned, kept, deletedPods: 0, deletedEvents: 0 };
      },
      releaseExpiredDeferred: async (args) => {
        const c = on('releaseExpiredDeferred', args);
        const uncordoned: string[] = [];
        const kept: Array<{ node: string; reason: string }> = [];
        for (const name of args.nodes) {
          const n = c.nodes.get(name);
          if (!n?.cordonedByUs) continue;
          if (c.hasFailedPod(name)) kept.push({ node: name, reason: `its upgrade pod kube-upgrade/upgrade-${name} failed` });
          else {
            n.unschedulable = false;
            n.cordonedByUs = false;
            uncordoned.push(name);
          }
        }
        return { uncordoned, kept, deletedPods: 0, deletedEvents: 0 };
      },
    };
  }
}
