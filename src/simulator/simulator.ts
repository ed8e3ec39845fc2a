/**
 * The edge node simulator: plays the kubelets of simulated nodes against a real API server, in
 * the manner of kwok. It keeps Leases and node status fresh, makes pods bound to its nodes Running
 * and Ready, and executes upgrade pods in kube-upgrade. Like a kubelet it finalizes a deleted pod
 * only when its grace period is over and its finalizers are gone, and when an offline node
 * reconnects it starts the Pending pods bound to it. Faults come from node labels
 * (sim.edge-upgrade.io/*, see planning/labels.ts), so tests and operators trigger them with kubectl.
 *
 * It manages every Node labelled sim.edge-upgrade.io/simulated=true, so a restarted simulator
 * picks up the nodes an earlier one created, and, as a restarted kubelet does, adopts the pods bound
 * to them: it finalizes the ones deleted meanwhile, starts the Pending ones, re-runs unfinished
 * upgrade pods, and reports the Running ones Ready again once their node is Ready.
 */
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type ObjectCache,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Server } from 'node:https';
import pLimit, { type LimitFunction } from 'p-limit';
import { makeClient, mergePatch } from '../kube/clients.js';
import { ConnectionPool } from '../kube/connections.js';
import { statusOf } from '../kube/errors.js';
import { nodeReady } from '../planning/cluster.js';
import {
  CONTROL_PLANE_LABEL,
  ENV_NODE_ROLE,
  ENV_TARGET_VERSION,
  KUBE_SYSTEM_NAMESPACE,
  SIM_FAIL_UPGRADE_LABEL,
  SIM_KUBELET_DOWN_LABEL,
  SIM_KUBELET_HANGS_LABEL,
  SIM_NODE_LABEL,
  SIM_OFFLINE_LABEL,
  SIM_READY_FLAP_LABEL,
  SIM_UNREADY_AFTER_UPGRADE_LABEL,
  SIM_UPGRADE_SECONDS_LABEL,
  UPGRADE_NAMESPACE,
} from '../planning/labels.js';
import { logKey, startKubeletServer, type LogStore } from './kubelet-server.js';
import { PrepareRunner, isPreparePod, type PrepareHost } from './prepare.js';
import { answerCheckPod, isCheckPod, type ProbeContext } from './probes.js';
import {
  apiServerImage,
  apiServerMirrorPod,
  apiServerPodName,
  microTime,
  nodeObject,
  nodeStatusPatch,
  podEnv,
  podReadinessPatch,
  runningPodStatus,
  terminatedPodStatus,
  type SimNodeSpec,
} from './objects.js';

/** Simulator settings. Durations are in seconds. */
export interface SimulatorOptions {
  kubeConfig: KubeConfig;
  /** Lease duration written on each node's Lease; renewals happen every quarter of it. Default 40. */
  leaseDurationSeconds?: number;
  /** How often an unchanged node re-posts its status (kubelet's nodeStatusReportFrequency). Default 60. */
  statusIntervalSeconds?: number;
  /** How long an upgrade pod runs unless the node's upgrade-seconds label says otherwise. Default 2. */
  upgradeSeconds?: number;
  /**
   * How long a kubelet restarted by an upgrade reports NotReady before it posts Ready (its runtime
   * checks). Default 2.
   */
  kubeletRestartSeconds?: number;
  /** Most API requests in flight at once. Default 32. */
  concurrency?: number;
  /** Where to write one-line progress messages; silent by default. */
  log?: (message: string) => void;
  /**
   * Called when an upgrade pod starts running on a node (the agent's first step), e.g. so a test
   * can restart or cut off the API server while the first master runs `kubeadm upgrade apply`.
   */
  onUpgradeStart?: (e: { node: string; role: string; pod: string }) => void;
  /**
   * Called at each step of an upgrade pod's run, with the time (ms) it happened, for benchmarks:
   * `seen` (the pod arrived through the watch), `running` (its Running status is written),
   * `succeeded` or `failed` (its final status is written) and `ready` (the restarted kubelet posted Ready).
   */
  onUpgradeStep?: (e: { node: string; pod: string; step: UpgradeStep; at: number }) => void;
  /** Called at each step of a prepare pod's run (prepare phase, cloud nodes): `running`, then `succeeded` or `failed`. */
  onPrepareStep?: PrepareHost['onPrepareStep'];
}

/** A step of an upgrade pod's simulated run, see {@link SimulatorOptions.onUpgradeStep}. */
export type UpgradeStep = 'seen' | 'running' | 'succeeded' | 'failed' | 'ready';

/** Counters for benchmarks and tests. Lags are in milliseconds. */
export interface SimulatorStats {
  nodes: number;
  leaseRenewals: number;
  statusUpdates: number;
  podsStarted: number;
  podsFinalized: number;
  upgradesSucceeded: number;
  upgradesFailed: number;
  apiErrors: number;
  /** Worst delay between a lease renewal's due time and its completion since the last reset. */
  maxRenewLagMs: number;
}

interface SimNode {
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

/** One upgrade pod the simulator is executing, and its log as the simulated kubelet serves it. */
interface UpgradeRun {
  pod: V1Pod;
  sim: SimNode;
  uid: string;
  name: string;
  namespace: string;
  target: string;
  lines: string[];
  say: (line: string) => void;
  /** Reports a step of the run to {@link SimulatorOptions.onUpgradeStep}. */
  step: (s: UpgradeStep) => void;
}

const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** A running simulator. Create with `EdgeSimulator.start`, stop with `stop()`. */
export class EdgeSimulator {
  private readonly core: CoreV1Api;
  private readonly coord: CoordinationV1Api;
  /** One set of keep-alive connections for every request (client-node alone opens one per request). */
  private readonly pool = new ConnectionPool();
  private readonly limit: LimitFunction;
  private readonly nodes = new Map<string, SimNode>();
  private readonly logs: LogStore = new Map();
  private readonly podsInFlight = new Set<string>();
  private readonly upgrades = new Set<string>();
  /** Pods (by UID) whose grace period timer is set. */
  private readonly terminating = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nodeInformer?: Informer<V1Node> & ObjectCache<V1Node>;
  private podInformer?: Informer<V1Pod> & ObjectCache<V1Pod>;
  private kubelet?: Server;
  private tick?: NodeJS.Timeout;
  /** The pod informer's initial list is done: a node seen from now on has its pods synced when it appears. */
  private podsListed = false;
  private stopped = false;
  private readonly counters: SimulatorStats = {
    nodes: 0,
    leaseRenewals: 0,
    statusUpdates: 0,
    podsStarted: 0,
    podsFinalized: 0,
    upgradesSucceeded: 0,
    upgradesFailed: 0,
    apiErrors: 0,
    maxRenewLagMs: 0,
  };
  private readonly leaseSeconds: number;
  private readonly statusSeconds: number;
  private readonly upgradeSeconds: number;
  private readonly restartSeconds: number;
  private readonly log: (m: string) => void;
  private readonly prepares: PrepareRunner;

  private constructor(
    private readonly opts: SimulatorOptions,
    private kubeletPort = 0,
  ) {
    this.core = makeClient(opts.kubeConfig, CoreV1Api, { pool: this.pool });
    this.coord = makeClient(opts.kubeConfig, CoordinationV1Api, { pool: this.pool });
    this.limit = pLimit(opts.concurrency ?? 32);
    this.leaseSeconds = opts.leaseDurationSeconds ?? 40;
    this.statusSeconds = opts.statusIntervalSeconds ?? 60;
    this.upgradeSeconds = opts.upgradeSeconds ?? 2;
    this.restartSeconds = opts.kubeletRestartSeconds ?? 2;
    this.log = opts.log ?? (() => {});
    this.prepares = new PrepareRunner({
      core: this.core,
      logs: this.logs,
      later: (ms, fn) => this.later(ms, fn),
      once: (key, fn) => this.once(key, fn),
      current: (name, namespace) => this.podInformer?.get(name, namespace),
      node: (name) => {
        const sim = this.nodes.get(name);
        return sim && { labels: sim.labels, silent: isSilent(sim) };
      },
      log: (m) => this.log(m),
      ...(opts.onPrepareStep ? { onPrepareStep: opts.onPrepareStep } : {}),
    });
  }

  /** Starts the log endpoint, the informers and the heartbeat loop. */
  static async start(opts: SimulatorOptions): Promise<EdgeSimulator> {
    const sim = new EdgeSimulator(opts);
    const { server, port } = await startKubeletServer(sim.logs);
    sim.kubelet = server;
    sim.kubeletPort = port;
    await sim.startInformers();
    sim.tick = setInterval(() => sim.heartbeat(), 500);
    return sim;
  }

  /**
   * Creates the nodes (idempotent: existing ones are adopted), their Leases and a Ready status.
   * Resolves when all are posted.
   */
  async addNodes(specs: SimNodeSpec[]): Promise<void> {
    await Promise.all(
      specs.map((spec) =>
        this.limit(async () => {
          let node: V1Node;
          try {
            node = await this.core.createNode({ body: nodeObject(spec) });
          } catch (err) {
            if (statusOf(err) !== 409) throw err;
            node = await this.core.readNode({ name: spec.name });
          }
          this.track(node, spec.version);
          const sim = this.nodes.get(spec.name)!;
          await this.createLease(node);
          await this.postStatus(sim);
          if (spec.kind === 'control-plane') await this.createApiServerPod(spec.name, spec.version);
        }),
      ),
    );
  }

  /** Creates the kube-apiserver mirror pod of a simulated master (an existing one is kept). */
  private async createApiServerPod(node: string, version: string): Promise<void> {
    try {
      await this.core.createNamespacedPod({ namespace: KUBE_SYSTEM_NAMESPACE, body: apiServerMirrorPod(node, version) });
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }

  /** A master's upgrade restarted its kube-apiserver at `version`: the kubelet updates the mirror pod. */
  private async bumpApiServerPod(node: string, version: string): Promise<void> {
    const body = [{ op: 'replace', path: '/spec/containers/0/image', value: apiServerImage(version) }];
    try {
      await this.core.patchNamespacedPod({ name: apiServerPodName(node), namespace: KUBE_SYSTEM_NAMESPACE, body }, jsonPatch);
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  /**
   * Creates a cluster: `controlPlanes` masters (cp-1…), `cloudWorkers` (cloud-001…) and
   * `edgeWorkers` (edge-001…), all at `version`. Returns the node names.
   */
  async createCluster(shape: { controlPlanes: number; cloudWorkers?: number; edgeWorkers: number; version: string }): Promise<string[]> {
    const pad = (n: number, total: number) => String(n).padStart(Math.max(3, String(total).length), '0');
    const specs: SimNodeSpec[] = [];
    for (let i = 1; i <= shape.controlPlanes; i++) specs.push({ name: `cp-${i}`, kind: 'control-plane', version: shape.version });
    const cloud = shape.cloudWorkers ?? 0;
    for (let i = 1; i <= cloud; i++) specs.push({ name: `cloud-${pad(i, cloud)}`, kind: 'worker', edge: false, version: shape.version });
    for (let i = 1; i <= shape.edgeWorkers; i++)
      specs.push({ name: `edge-${pad(i, shape.edgeWorkers)}`, kind: 'worker', edge: true, version: shape.version });
    await this.addNodes(specs);
    return specs.map((s) => s.name);
  }

  /** A copy of the counters. */
  stats(): SimulatorStats {
    return { ...this.counters, nodes: this.nodes.size };
  }

  /** Resets `maxRenewLagMs`, e.g. after a warm-up. */
  resetLag(): void {
    this.counters.maxRenewLagMs = 0;
  }

  /** Stops everything the simulator runs. The nodes stay (and go NotReady once their Leases expire). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.tick) clearInterval(this.tick);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.nodeInformer?.stop();
    await this.podInformer?.stop();
    // Connections the API server keeps to the kubelet (logs) are closed now, not when they end by themselves.
    const closed = new Promise<void>((r) => (this.kubelet ? this.kubelet.close(() => r()) : r()));
    this.kubelet?.closeAllConnections();
    await closed;
    await this.pool.close();
  }

  private async startInformers(): Promise<void> {
    const kc = this.opts.kubeConfig;
    this.nodeInformer = makeInformer(
      kc,
      '/api/v1/nodes',
      () => this.core.listNode({ labelSelector: `${SIM_NODE_LABEL}=true` }),
      `${SIM_NODE_LABEL}=true`,
    );
    this.nodeInformer.on('add', (n) => this.track(n));
    this.nodeInformer.on('update', (n) => this.track(n));
    this.nodeInformer.on('delete', (n) => this.nodes.delete(n.metadata?.name ?? ''));
    this.restartOnError(this.nodeInformer, 'nodes');
    await this.nodeInformer.start();

    this.podInformer = makeInformer(kc, '/api/v1/pods', () => this.core.listPodForAllNamespaces());
    // The initial list adds every pod, after the nodes: a restarted simulator adopts the pods already bound
    // to its nodes, terminating ones included. Their readiness is reported once the node posts Ready (postStatus).
    this.podInformer.on('add', (p) => this.onPod(p));
    this.podInformer.on('update', (p) => this.onPod(p));
    this.restartOnError(this.podInformer, 'pods');
    await this.podInformer.start();
    this.podsListed = true;
  }

  // Informers do not restart themselves after an error; this does, with a short backoff.
  private restartOnError(informer: Informer<V1Node> | Informer<V1Pod>, what: string): void {
    informer.on('error', (err) => {
      if (this.stopped) return;
      this.log(`simulator: ${what} watch failed (${String(err)}); restarting`);
      this.later(2000, () => void informer.start().catch(() => {}));
    });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private track(node: V1Node, version?: string): void {
    const name = node.metadata?.name;
    if (!name || node.metadata?.labels?.[SIM_NODE_LABEL] !== 'true') return;
    const now = Date.now();
    let sim = this.nodes.get(name);
    const isNew = !sim;
    if (!sim) {
      const interval = (this.leaseSeconds / 4) * 1000;
      sim = {
        name,
        version: version || node.status?.nodeInfo?.kubeletVersion || 'v0.0.0',
        labels: {},
        // Spread renewals over the interval so 1,000 nodes do not renew in one burst.
        nextRenewAt: now + Math.random() * interval,
        nextStatusAt: now + this.statusSeconds * 1000 * (0.5 + Math.random() / 2),
        statusPending: false,
        renewing: false,
        hung: false,
        upgraded: false,
      };
      this.nodes.set(name, sim);
    }
    // The caller that creates a node knows its version; the API server reports '' until status is posted.
    if (version) sim.version = version;
    else if (sim.version === 'v0.0.0' && node.status?.nodeInfo?.kubeletVersion) sim.version = node.status.nodeInfo.kubeletVersion;
    const wasSilent = isSilent(sim);
    const wasUnready = workloadsUnready(sim);
    sim.labels = { ...(node.metadata?.labels ?? {}) };
    if (wasUnready !== workloadsUnready(sim)) this.syncReadiness(sim);
    if (sim.hung && sim.labels[SIM_KUBELET_HANGS_LABEL] !== 'true' && sim.labels[SIM_KUBELET_DOWN_LABEL] !== 'true') sim.hung = false;
    if (wasSilent && !isSilent(sim)) {
      this.log(`simulator: ${name} is back online`);
      sim.nextRenewAt = now;
      sim.nextStatusAt = now;
      // As a kubelet does on reconnect: sync the pods bound to this node…
      this.syncPods(sim);
      // …and reports its pods' readiness again (the node lifecycle controller marked them not Ready meanwhile).
      this.syncReadiness(sim);
    } else if (isNew && this.podsListed) {
      // A node that appears after the pods were listed (its watch came back late, or it was re-created or
      // labelled under a name pods are still bound to) may have pods already: adopt them too.
      this.syncPods(sim);
    }
    // Someone (kube-controller-manager) marked it not Ready while we are online: report our status again.
    if (!isSilent(sim) && node.status?.conditions && !nodeReady(node) && flapReady(sim) !== false) sim.nextStatusAt = now;
  }

  /**
   * As a kubelet does when it starts or reconnects: syncs every pod bound to the node (starts the
   * Pending ones, finalizes the deleted ones, runs upgrade pods).
   */
  private syncPods(sim: SimNode): void {
    for (const pod of this.podInformer?.list() ?? []) if (pod.spec?.nodeName === sim.name) this.onPod(pod);
  }

  /** Handles the pod again as the informer has it now, unless it is gone or was replaced (another UID). */
  private resync(name: string, namespace: string, uid: string): void {
    const now = this.podInformer?.get(name, namespace);
    if (now?.metadata?.uid === uid) this.onPod(now);
  }

  private heartbeat(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const sim of this.nodes.values()) {
      if (isSilent(sim)) continue;
      // A flapping node posts each change of its Ready status at once.
      const flap = flapReady(sim);
      if (flap !== undefined && flap !== sim.postedReady) sim.nextStatusAt = Math.min(sim.nextStatusAt, now);
      if (!sim.renewing && sim.nextRenewAt <= now) {
        sim.renewing = true;
        const due = sim.nextRenewAt;
        void this.limit(() => this.renewLease(sim.name))
          .then(
            () => {
              this.counters.leaseRenewals++;
              this.counters.maxRenewLagMs = Math.max(this.counters.maxRenewLagMs, Date.now() - due);
            },
            () => this.counters.apiErrors++,
          )
          .finally(() => {
            sim.renewing = false;
            sim.nextRenewAt = due + (this.leaseSeconds / 4) * 1000;
            if (sim.nextRenewAt < Date.now()) sim.nextRenewAt = Date.now();
          });
      }
      if (!sim.statusPending && sim.nextStatusAt <= now) {
        sim.statusPending = true;
        void this.limit(() => this.postStatus(sim))
          .catch(() => this.counters.apiErrors++)
          .finally(() => {
            sim.statusPending = false;
          });
      }
    }
  }

  private async createLease(node: V1Node): Promise<void> {
    const name = node.metadata!.name!;
    const body = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace: 'kube-node-lease',
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata!.uid! }],
      },
      spec: { holderIdentity: name, leaseDurationSeconds: this.leaseSeconds, renewTime: microTime(new Date()) },
    };
    try {
      // The body is sent as JSON as is; MicroTime must be a string with six fractional digits.
      await this.coord.createNamespacedLease({ namespace: 'kube-node-lease', body: body as never });
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }

  private async renewLease(name: string): Promise<void> {
    try {
      await this.coord.patchNamespacedLease(
        { name, namespace: 'kube-node-lease', body: { spec: { holderIdentity: name, renewTime: microTime(new Date()) } } },
        mergePatch,
      );
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      const node = await this.core.readNode({ name });
      await this.createLease(node);
    }
  }

  /** Posts the node's status: Ready, or NotReady with `notReady` as the reason's message (flaps say 'PLEG is not healthy'). */
  private async postStatus(sim: SimNode, notReady?: string): Promise<void> {
    if (isSilent(sim)) return;
    const message = notReady ?? (flapReady(sim) === false ? 'simulated flap: PLEG is not healthy' : undefined);
    await this.core.patchNodeStatus(
      { name: sim.name, body: nodeStatusPatch(sim.name, sim.version, this.kubeletPort, new Date(), message) },
      strategic,
    );
    const wasReady = sim.postedReady;
    sim.postedReady = message === undefined;
    this.counters.statusUpdates++;
    // Ready again (after an upgrade's kubelet restart or a flap), or Ready for the first time since this
    // simulator started: report the pods' readiness again, as a (restarted) kubelet's status manager does,
    // since the node lifecycle controller may have marked them not Ready meanwhile.
    if (sim.postedReady && wasReady !== true) this.syncReadiness(sim);
    sim.nextStatusAt = Date.now() + this.statusSeconds * 1000;
  }

  private onPod(pod: V1Pod): void {
    if (this.stopped) return;
    const nodeName = pod.spec?.nodeName;
    const uid = pod.metadata?.uid;
    if (!nodeName || !uid) return;
    const sim = this.nodes.get(nodeName);
    // An offline (or hung) node's kubelet cannot act: its pods freeze, as on a real disconnected site.
    if (!sim || isSilent(sim)) return;
    const phase = pod.status?.phase;
    if (pod.metadata?.deletionTimestamp) {
      this.onPodDeleting(pod, uid);
      return;
    }
    if (phase === 'Succeeded' || phase === 'Failed') return;
    if (isPreparePod(pod)) {
      this.prepares.run(pod, sim.name);
      return;
    }
    // A check pod (agent --check) only reads the node: answered from its probe fault labels, never an upgrade.
    if (isCheckPod(pod)) {
      answerCheckPod(this.probeContext(), pod, sim.name, sim.labels);
      return;
    }
    if (isUpgradePod(pod)) {
      this.runUpgrade(pod, sim);
      return;
    }
    if (phase === 'Running') return;
    this.once(`start/${uid}`, async () => {
      const body = runningPodStatus(pod, new Date(), !workloadsUnready(sim));
      await this.core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body }, mergePatch);
      this.counters.podsStarted++;
    });
  }

  // A pod being deleted: as a kubelet, after its grace period (finalizers permitting), delete it for good.
  private onPodDeleting(pod: V1Pod, uid: string): void {
    // The kubelet gives the containers their grace period (the API server set deletionTimestamp
    // to its end; a pod found past it, e.g. by a restarted simulator, goes at once), then deletes
    // with grace 0; finalizers keep the object until they are removed.
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const left = new Date(pod.metadata!.deletionTimestamp!).getTime() - Date.now();
    if (left > 0) {
      if (!this.terminating.has(uid)) {
        this.terminating.add(uid);
        this.later(left, () => {
          this.terminating.delete(uid);
          this.resync(name, namespace, uid);
        });
      }
      return;
    }
    if ((pod.metadata!.finalizers?.length ?? 0) > 0) return;
    this.once(`delete/${uid}`, async () => {
      try {
        await this.core.deleteNamespacedPod({
          name,
          namespace,
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid } },
        });
        this.counters.podsFinalized++;
      } catch (err) {
        if (statusOf(err) === 404 || statusOf(err) === 409) return;
        // A pod that only waits to be finalized may see no further event to retry on: look again shortly.
        this.later(2_000, () => this.resync(name, namespace, uid));
        throw err;
      }
    });
  }

  /**
   * Makes the Running ordinary pods on the node Ready, or not Ready while workloads are unready
   * there (SIM_UNREADY_AFTER_UPGRADE_LABEL after an upgrade). Only when that changes or the node
   * is Ready again, so the simulator does not fight the node lifecycle controller marking the pods
   * of a NotReady node.
   */
  private syncReadiness(sim: SimNode): void {
    if (isSilent(sim)) return;
    const ready = !workloadsUnready(sim);
    for (const pod of this.podInformer?.list() ?? []) {
      if (pod.spec?.nodeName !== sim.name || isUpgradePod(pod) || pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp)
        continue;
      const isReady = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      if (isReady === ready) continue;
      this.once(`ready/${pod.metadata!.uid!}`, async () => {
        const body = podReadinessPatch(pod, new Date(), ready);
        await this.core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body }, mergePatch);
      });
    }
  }

  private probeContext(): ProbeContext {
    return {
      core: this.core,
      once: (key, fn) => this.once(key, fn),
      setLog: (pod, lines) =>
        this.logs.set(logKey(pod.metadata!.namespace!, pod.metadata!.name!, pod.spec?.containers?.[0]?.name ?? 'upgrade'), lines),
    };
  }

  /** Runs `fn` once per key at a time, through the request limiter; failures count and are retried by the next event. */
  private once(key: string, fn: () => Promise<void>): void {
    if (this.podsInFlight.has(key)) return;
    this.podsInFlight.add(key);
    void this.limit(fn)
      .catch((err: unknown) => {
        this.counters.apiErrors++;
        this.log(`simulator: ${key}: ${String(err)}`);
      })
      .finally(() => this.podsInFlight.delete(key));
  }

  // Executes an upgrade pod as the node upgrade agent would: log, wait, then succeed (new kubelet
  // version) or fail (fault label). A simulator restart re-runs pods it finds still Running.
  private runUpgrade(pod: V1Pod, sim: SimNode): void {
    const uid = pod.metadata!.uid!;
    if (this.upgrades.has(uid)) return;
    this.upgrades.add(uid);
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const container = pod.spec?.containers?.[0]?.name ?? 'upgrade';
    const target = podEnv(pod, ENV_TARGET_VERSION) ?? '';
    const role = podEnv(pod, ENV_NODE_ROLE) ?? 'worker';
    const lines: string[] = [];
    this.logs.set(logKey(namespace, name, container), lines);
    const say = (l: string) => lines.push(`${new Date().toISOString()} ${l}`);
    const step = (s: UpgradeStep) => this.opts.onUpgradeStep?.({ node: sim.name, pod: name, step: s, at: Date.now() });
    const run: UpgradeRun = { pod, sim, uid, name, namespace, target, lines, say, step };
    step('seen');
    say(`edge-upgrade agent (simulated) on ${sim.name}: role ${role}, ${sim.version} -> ${target}`);
    this.once(`run/${uid}`, async () => {
      await this.core.patchNamespacedPodStatus({ name, namespace, body: runningPodStatus(pod, new Date(), false) }, mergePatch);
      step('running');
    });
    this.opts.onUpgradeStart?.({ node: sim.name, role, pod: name });
    const seconds = Number(sim.labels[SIM_UPGRADE_SECONDS_LABEL] ?? this.upgradeSeconds);
    say(role === 'first-control-plane' ? `kubeadm upgrade apply ${target}` : 'kubeadm upgrade node');
    this.later(Math.max(0, seconds) * 1000, () => this.finishUpgrade(run));
  }

  // The end of the simulated upgrade time: unless the site is offline (then later) or the pod is
  // gone, log the outcome and report it.
  private finishUpgrade(run: UpgradeRun): void {
    const { sim, uid, name, namespace, say } = run;
    if (isSilent(sim)) {
      // The result cannot be reported while the site is offline; try again later.
      this.later(1000, () => this.finishUpgrade(run));
      return;
    }
    const current = this.podInformer?.get(name, namespace);
    if (!current || current.metadata?.uid !== uid || current.metadata?.deletionTimestamp) {
      // The pod was deleted mid-upgrade: the agent was killed and the node keeps its old kubelet.
      say('terminated: the upgrade pod was deleted');
      this.log(`simulator: upgrade pod ${name} on ${sim.name} was deleted before it finished`);
      return;
    }
    const fail = sim.labels[SIM_FAIL_UPGRADE_LABEL] === 'true';
    if (fail) {
      say(`error: kubeadm upgrade failed on ${sim.name}: simulated fault (${SIM_FAIL_UPGRADE_LABEL}=true)`);
    } else {
      say(`upgraded kubelet and kubectl to ${run.target}; kubelet restarted`);
    }
    this.once(`finish/${uid}`, () => this.reportUpgrade(run, fail));
  }

  // Posts the outcome as a kubelet and the agent would: the node's new version (unless it failed),
  // then the pod's terminated status with the last log lines.
  private async reportUpgrade(run: UpgradeRun, fail: boolean): Promise<void> {
    const { pod, sim, name, namespace } = run;
    const hangs = !fail && sim.labels[SIM_KUBELET_HANGS_LABEL] === 'true';
    const down = !fail && sim.labels[SIM_KUBELET_DOWN_LABEL] === 'true';
    if (down) {
      // The agent reports success, but the new kubelet never starts: the old version, and silence.
      sim.hung = true;
      this.log(`simulator: the kubelet on ${sim.name} does not come back after its upgrade (${SIM_KUBELET_DOWN_LABEL}=true)`);
    } else if (!fail) {
      sim.version = run.target;
      sim.upgraded = true;
      if (CONTROL_PLANE_LABEL in sim.labels) await this.bumpApiServerPod(sim.name, run.target);
      if (hangs) {
        // The new kubelet posts Ready with its version once, then hangs: no more Lease renewals or status posts.
        await this.postStatus(sim);
        sim.hung = true;
        this.log(`simulator: the new kubelet on ${sim.name} hangs (${SIM_KUBELET_HANGS_LABEL}=true)`);
      } else {
        // A restarted kubelet first reports its new version NotReady, then Ready once its runtime checks pass (below).
        await this.postStatus(sim, 'container runtime status check may not have completed yet');
      }
    }
    await this.core.patchNamespacedPodStatus(
      { name, namespace, body: terminatedPodStatus(pod, new Date(), !fail, run.lines.slice(-3).join('\n')) },
      mergePatch,
    );
    if (fail) this.counters.upgradesFailed++;
    else this.counters.upgradesSucceeded++;
    run.step(fail ? 'failed' : 'succeeded');
    if (!fail && !hangs && !down) {
      const ready = () => this.limit(() => this.postStatus(sim)).then(() => run.step('ready'));
      this.later(this.restartSeconds * 1000, () => void ready().catch(() => this.counters.apiErrors++));
    }
    this.log(`simulator: upgrade pod ${name} on ${sim.name} ${fail ? 'failed' : 'succeeded'}`);
  }
}

function isOffline(sim: SimNode): boolean {
  return sim.labels[SIM_OFFLINE_LABEL] === 'true';
}

/** Offline, or its kubelet hung after an upgrade: nothing is posted for the node. */
function isSilent(sim: SimNode): boolean {
  return isOffline(sim) || sim.hung;
}

/** Ready as the flap label wants it now, or undefined when the node does not flap. */
function flapReady(sim: SimNode): boolean | undefined {
  const seconds = Number(sim.labels[SIM_READY_FLAP_LABEL]);
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  return Math.floor(Date.now() / (seconds * 1000)) % 2 === 0;
}

/** Ordinary pods on the node are to be Running but not Ready: it was upgraded and carries SIM_UNREADY_AFTER_UPGRADE_LABEL. */
function workloadsUnready(sim: SimNode): boolean {
  return sim.upgraded && sim.labels[SIM_UNREADY_AFTER_UPGRADE_LABEL] === 'true';
}

function isUpgradePod(pod: V1Pod): boolean {
  return pod.metadata?.namespace === UPGRADE_NAMESPACE && podEnv(pod, ENV_TARGET_VERSION) !== undefined;
}
