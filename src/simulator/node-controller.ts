/**
 * The simulator's node controller (kwok's node half): it tracks every Node labelled
 * sim.edge-upgrade.io/simulated=true, renews their Leases, posts their status (Ready, NotReady while
 * a Ready flap says so), and keeps silent the nodes that are offline or whose kubelet hung. When a
 * node comes back online, appears late or posts Ready again, it asks the pod controller (through
 * {@link PodSync}) to sync the node's pods, as a reconnecting kubelet does.
 */
import { setHeaderOptions, PatchStrategy, type CoordinationV1Api, type CoreV1Api, type V1Node } from '@kubernetes/client-node';
import { mergePatch } from '../kube/clients.js';
import { statusOf } from '../kube/errors.js';
import { nodeReady } from '../planning/cluster.js';
import {
  SIM_KUBELET_DOWN_LABEL,
  SIM_KUBELET_HANGS_LABEL,
  SIM_NODE_LABEL,
  SIM_OFFLINE_LABEL,
  SIM_READY_FLAP_LABEL,
  SIM_UNREADY_AFTER_UPGRADE_LABEL,
} from '../planning/labels.js';
import { microTime, nodeStatusPatch } from './objects.js';
import type { SimRuntime } from './runtime.js';

/** One simulated node as its kubelet knows it. */
export interface SimNode {
  name: string;
  version: string;
  labels: Record<string, string>;
  nextRenewAt: number;
  nextStatusAt: number;
  statusPending: boolean;
  renewing: boolean;
  /** The new kubelet hung after its upgrade (SIM_KUBELET_HANGS_LABEL): silent while that label stays. */
  hung: boolean;
  /** The Ready status last posted, so a flap posts only its changes. */
  postedReady?: boolean;
  /** An upgrade pod succeeded on this node (in this simulator's lifetime), for SIM_UNREADY_AFTER_UPGRADE_LABEL. */
  upgraded: boolean;
}

/** What the node controller asks of the pod controller. */
export interface PodSync {
  /** Syncs every pod bound to the node, as a kubelet does when it starts or reconnects. */
  syncPods(sim: SimNode): void;
  /** Reports the readiness of the node's Running pods again where it changed. */
  syncReadiness(sim: SimNode): void;
  /** The pods were listed once: a node seen from now on has its pods synced when it appears. */
  podsListed(): boolean;
}

/** Node controller settings. Durations are in seconds. */
export interface NodeControllerSettings {
  /** Lease duration written on each node's Lease; renewals happen every quarter of it. */
  leaseSeconds: number;
  /** How often an unchanged node re-posts its status. */
  statusSeconds: number;
  /** Port of the simulated kubelet's log endpoint, posted in node status. */
  kubeletPort: number;
}

const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

/** Offline (SIM_OFFLINE_LABEL=true): the site is cut off. */
export function isOffline(sim: Pick<SimNode, 'labels'>): boolean {
  return sim.labels[SIM_OFFLINE_LABEL] === 'true';
}

/** Offline, or its kubelet hung after an upgrade: nothing is posted for the node. */
export function isSilent(sim: Pick<SimNode, 'labels' | 'hung'>): boolean {
  return isOffline(sim) || sim.hung;
}

/** Ready as the flap label wants it at `now` (ms), or undefined when the node does not flap. */
export function flapReady(sim: Pick<SimNode, 'labels'>, now = Date.now()): boolean | undefined {
  const seconds = Number(sim.labels[SIM_READY_FLAP_LABEL]);
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  return Math.floor(now / (seconds * 1000)) % 2 === 0;
}

/** Ordinary pods on the node are to be Running but not Ready: it was upgraded and carries SIM_UNREADY_AFTER_UPGRADE_LABEL. */
export function workloadsUnready(sim: Pick<SimNode, 'labels' | 'upgraded'>): boolean {
  return sim.upgraded && sim.labels[SIM_UNREADY_AFTER_UPGRADE_LABEL] === 'true';
}

/** Tracks the simulated nodes, renews their Leases and posts their status. */
export class NodeController {
  private readonly nodes = new Map<string, SimNode>();

  constructor(
    private readonly rt: SimRuntime,
    private readonly api: { core: CoreV1Api; coord: CoordinationV1Api },
    private readonly settings: NodeControllerSettings,
    private readonly pods: PodSync,
  ) {}

  /** The node `name`, if it is simulated here. */
  get(name: string): SimNode | undefined {
    return this.nodes.get(name);
  }

  /** How many nodes are simulated. */
  get size(): number {
    return this.nodes.size;
  }

  /** Forgets a deleted node. */
  forget(name: string): void {
    this.nodes.delete(name);
  }

  /**
   * Takes in the Node as the API server has it now (`version`: the one its creator knows); ignores
   * nodes that are not simulated. Reacts to label changes: back online, workloads unready, hung no more.
   */
  track(node: V1Node, version?: string): void {
    const name = node.metadata?.name;
    if (!name || node.metadata?.labels?.[SIM_NODE_LABEL] !== 'true') return;
    const now = Date.now();
    const isNew = !this.nodes.has(name);
    const sim = this.nodes.get(name) ?? this.add(name, node, version, now);
    // The caller that creates a node knows its version; the API server reports '' until status is posted.
    if (version) sim.version = version;
    else if (sim.version === 'v0.0.0' && node.status?.nodeInfo?.kubeletVersion) sim.version = node.status.nodeInfo.kubeletVersion;
    const wasSilent = isSilent(sim);
    const wasUnready = workloadsUnready(sim);
    sim.labels = { ...(node.metadata?.labels ?? {}) };
    if (wasUnready !== workloadsUnready(sim)) this.pods.syncReadiness(sim);
    if (sim.hung && sim.labels[SIM_KUBELET_HANGS_LABEL] !== 'true' && sim.labels[SIM_KUBELET_DOWN_LABEL] !== 'true') sim.hung = false;
    if (wasSilent && !isSilent(sim)) {
      this.rt.log(`simulator: ${name} is back online`);
      sim.nextRenewAt = now;
      sim.nextStatusAt = now;
      // As a kubelet does on reconnect: sync the pods bound to this node…
      this.pods.syncPods(sim);
      // …and reports its pods' readiness again (the node lifecycle controller marked them not Ready meanwhile).
      this.pods.syncReadiness(sim);
    } else if (isNew && this.pods.podsListed()) {
      // A node that appears after the pods were listed (its watch came back late, or it was re-created or
      // labelled under a name pods are still bound to) may have pods already: adopt them too.
      this.pods.syncPods(sim);
    }
    // Someone (kube-controller-manager) marked it not Ready while we are online: report our status again.
    if (!isSilent(sim) && node.status?.conditions && !nodeReady(node) && flapReady(sim) !== false) sim.nextStatusAt = now;
  }

  private add(name: string, node: V1Node, version: string | undefined, now: number): SimNode {
    const interval = (this.settings.leaseSeconds / 4) * 1000;
    const sim: SimNode = {
      name,
      version: version || node.status?.nodeInfo?.kubeletVersion || 'v0.0.0',
      labels: {},
      // Spread renewals over the interval so 1,000 nodes do not renew in one burst.
      nextRenewAt: now + Math.random() * interval,
      nextStatusAt: now + this.settings.statusSeconds * 1000 * (0.5 + Math.random() / 2),
      statusPending: false,
      renewing: false,
      hung: false,
      upgraded: false,
    };
    this.nodes.set(name, sim);
    return sim;
  }

  /** One beat of the loop (every 500 ms): renews the Leases and posts the status that are due. */
  heartbeat(): void {
    if (this.rt.stopped) return;
    const now = Date.now();
    for (const sim of this.nodes.values()) {
      if (isSilent(sim)) continue;
      // A flapping node posts each change of its Ready status at once.
      const flap = flapReady(sim);
      if (flap !== undefined && flap !== sim.postedReady) sim.nextStatusAt = Math.min(sim.nextStatusAt, now);
      if (!sim.renewing && sim.nextRenewAt <= now) this.renew(sim);
      if (!sim.statusPending && sim.nextStatusAt <= now) {
        sim.statusPending = true;
        void this.rt
          .limit(() => this.postStatus(sim))
          .catch(() => this.rt.counters.apiErrors++)
          .finally(() => {
            sim.statusPending = false;
          });
      }
    }
  }

  private renew(sim: SimNode): void {
    const { counters } = this.rt;
    sim.renewing = true;
    const due = sim.nextRenewAt;
    void this.rt
      .limit(() => this.renewLease(sim.name))
      .then(
        () => {
          counters.leaseRenewals++;
          counters.maxRenewLagMs = Math.max(counters.maxRenewLagMs, Date.now() - due);
        },
        () => counters.apiErrors++,
      )
      .finally(() => {
        sim.renewing = false;
        sim.nextRenewAt = due + (this.settings.leaseSeconds / 4) * 1000;
        if (sim.nextRenewAt < Date.now()) sim.nextRenewAt = Date.now();
      });
  }

  /** Creates the node's Lease in kube-node-lease (an existing one is kept). */
  async createLease(node: V1Node): Promise<void> {
    const name = node.metadata!.name!;
    const body = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace: 'kube-node-lease',
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata!.uid! }],
      },
      spec: { holderIdentity: name, leaseDurationSeconds: this.settings.leaseSeconds, renewTime: microTime(new Date()) },
    };
    try {
      // The body is sent as JSON as is; MicroTime must be a string with six fractional digits.
      await this.api.coord.createNamespacedLease({ namespace: 'kube-node-lease', body: body as never });
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }

  private async renewLease(name: string): Promise<void> {
    try {
      await this.api.coord.patchNamespacedLease(
        { name, namespace: 'kube-node-lease', body: { spec: { holderIdentity: name, renewTime: microTime(new Date()) } } },
        mergePatch,
      );
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      const node = await this.api.core.readNode({ name });
      await this.createLease(node);
    }
  }

  /** Posts the node's status: Ready, or NotReady with `notReady` as the reason's message (flaps say 'PLEG is not healthy'). */
  async postStatus(sim: SimNode, notReady?: string): Promise<void> {
    if (isSilent(sim)) return;
    const message = notReady ?? (flapReady(sim) === false ? 'simulated flap: PLEG is not healthy' : undefined);
    await this.api.core.patchNodeStatus(
      { name: sim.name, body: nodeStatusPatch(sim.name, sim.version, this.settings.kubeletPort, new Date(), message) },
      strategic,
    );
    const wasReady = sim.postedReady;
    sim.postedReady = message === undefined;
    this.rt.counters.statusUpdates++;
    // Ready again (after an upgrade's kubelet restart or a flap), or Ready for the first time since this
    // simulator started: report the pods' readiness again, as a (restarted) kubelet's status manager does,
    // since the node lifecycle controller may have marked them not Ready meanwhile.
    if (sim.postedReady && wasReady !== true) this.pods.syncReadiness(sim);
    sim.nextStatusAt = Date.now() + this.settings.statusSeconds * 1000;
  }
}
