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
 *
 * This class composes the parts and owns the informers: the node controller (node-controller.ts:
 * status, Leases, offline and flaps), the pod controller (pod-controller.ts: phases, termination,
 * finalizers), the upgrade executor (upgrade-executor.ts) and the prepare runner (prepare.ts).
 */
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  makeInformer,
  type Informer,
  type ObjectCache,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Server } from 'node:https';
import { makeClient } from '../kube/clients.js';
import { ConnectionPool } from '../kube/connections.js';
import { statusOf } from '../kube/errors.js';
import { KUBE_SYSTEM_NAMESPACE, SIM_NODE_LABEL } from '../planning/labels.js';
import { startKubeletServer, type LogStore } from './kubelet-server.js';
import { isSilent, NodeController } from './node-controller.js';
import { apiServerMirrorPod, nodeObject, type SimNodeSpec } from './objects.js';
import { PodController } from './pod-controller.js';
import { PrepareRunner, type PrepareHost } from './prepare.js';
import { SimRuntime, type SimulatorStats } from './runtime.js';
import { UpgradeExecutor, type UpgradeStep } from './upgrade-executor.js';

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

/** A running simulator. Create with `EdgeSimulator.start`, stop with `stop()`. */
export class EdgeSimulator {
  private readonly core: CoreV1Api;
  private readonly rt: SimRuntime;
  private readonly nodes: NodeController;
  private readonly pods: PodController;
  private nodeInformer?: Informer<V1Node> & ObjectCache<V1Node>;
  private podInformer?: Informer<V1Pod> & ObjectCache<V1Pod>;
  private tick?: NodeJS.Timeout;

  private constructor(
    private readonly opts: SimulatorOptions,
    /** One set of keep-alive connections for every request (client-node alone opens one per request). */
    private readonly pool: ConnectionPool,
    private readonly kubelet: { server: Server; port: number; logs: LogStore },
  ) {
    const core = makeClient(opts.kubeConfig, CoreV1Api, { pool });
    const coord = makeClient(opts.kubeConfig, CoordinationV1Api, { pool });
    const rt = new SimRuntime({ concurrency: opts.concurrency, log: opts.log });
    const { logs } = kubelet;
    const current = (name: string, namespace: string) => this.podInformer?.get(name, namespace);
    this.core = core;
    this.rt = rt;
    const settings = {
      leaseSeconds: opts.leaseDurationSeconds ?? 40,
      statusSeconds: opts.statusIntervalSeconds ?? 60,
      kubeletPort: kubelet.port,
    };
    // The node controller asks the pod controller to sync a node's pods; built next, it is there by the first event.
    this.nodes = new NodeController(rt, { core, coord }, settings, {
      syncPods: (sim) => this.pods.syncPods(sim),
      syncReadiness: (sim) => this.pods.syncReadiness(sim),
      podsListed: () => this.pods.podsListed(),
    });
    const upgrades = new UpgradeExecutor({
      rt,
      core,
      logs,
      current,
      postStatus: (sim, notReady) => this.nodes.postStatus(sim, notReady),
      upgradeSeconds: opts.upgradeSeconds ?? 2,
      restartSeconds: opts.kubeletRestartSeconds ?? 2,
      ...(opts.onUpgradeStart ? { onUpgradeStart: opts.onUpgradeStart } : {}),
      ...(opts.onUpgradeStep ? { onUpgradeStep: opts.onUpgradeStep } : {}),
    });
    const pods = { get: current, list: () => this.podInformer?.list() ?? [] };
    this.pods = new PodController({ rt, core, logs, pods, node: (n) => this.nodes.get(n), prepares: this.prepareRunner(), upgrades });
  }

  private prepareRunner(): PrepareRunner {
    const { rt } = this;
    return new PrepareRunner({
      core: this.core,
      logs: this.kubelet.logs,
      later: (ms, fn) => rt.later(ms, fn),
      once: (key, fn) => rt.once(key, fn),
      current: (name, namespace) => this.podInformer?.get(name, namespace),
      node: (name) => {
        const sim = this.nodes.get(name);
        return sim && { labels: sim.labels, silent: isSilent(sim) };
      },
      log: (m) => rt.log(m),
      ...(this.opts.onPrepareStep ? { onPrepareStep: this.opts.onPrepareStep } : {}),
    });
  }

  /** Starts the log endpoint, the informers and the heartbeat loop. */
  static async start(opts: SimulatorOptions): Promise<EdgeSimulator> {
    const logs: LogStore = new Map();
    const { server, port } = await startKubeletServer(logs);
    const sim = new EdgeSimulator(opts, new ConnectionPool(), { server, port, logs });
    await sim.startInformers();
    sim.tick = setInterval(() => sim.nodes.heartbeat(), 500);
    return sim;
  }

  /**
   * Creates the nodes (idempotent: existing ones are adopted), their Leases and a Ready status.
   * Resolves when all are posted.
   */
  async addNodes(specs: SimNodeSpec[]): Promise<void> {
    await Promise.all(
      specs.map((spec) =>
        this.rt.limit(async () => {
          let node: V1Node;
          try {
            node = await this.core.createNode({ body: nodeObject(spec) });
          } catch (err) {
            if (statusOf(err) !== 409) throw err;
            node = await this.core.readNode({ name: spec.name });
          }
          this.nodes.track(node, spec.version);
          const sim = this.nodes.get(spec.name)!;
          await this.nodes.createLease(node);
          await this.nodes.postStatus(sim);
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
    return { ...this.rt.counters, nodes: this.nodes.size };
  }

  /** Resets `maxRenewLagMs`, e.g. after a warm-up. */
  resetLag(): void {
    this.rt.counters.maxRenewLagMs = 0;
  }

  /** Stops everything the simulator runs. The nodes stay (and go NotReady once their Leases expire). */
  async stop(): Promise<void> {
    this.rt.stop();
    if (this.tick) clearInterval(this.tick);
    await this.nodeInformer?.stop();
    await this.podInformer?.stop();
    // Connections the API server keeps to the kubelet (logs) are closed now, not when they end by themselves.
    const { server } = this.kubelet;
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections();
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
    this.nodeInformer.on('add', (n) => this.nodes.track(n));
    this.nodeInformer.on('update', (n) => this.nodes.track(n));
    this.nodeInformer.on('delete', (n) => this.nodes.forget(n.metadata?.name ?? ''));
    this.restartOnError(this.nodeInformer, 'nodes');
    await this.nodeInformer.start();

    this.podInformer = makeInformer(kc, '/api/v1/pods', () => this.core.listPodForAllNamespaces());
    // The initial list adds every pod, after the nodes: a restarted simulator adopts the pods already bound
    // to its nodes, terminating ones included. Their readiness is reported once the node posts Ready (postStatus).
    this.podInformer.on('add', (p) => this.pods.onPod(p));
    this.podInformer.on('update', (p) => this.pods.onPod(p));
    this.restartOnError(this.podInformer, 'pods');
    await this.podInformer.start();
    this.pods.markListed();
  }

  // Informers do not restart themselves after an error; this does, with a short backoff.
  private restartOnError(informer: Informer<V1Node> | Informer<V1Pod>, what: string): void {
    informer.on('error', (err) => {
      if (this.rt.stopped) return;
      this.rt.log(`simulator: ${what} watch failed (${String(err)}); restarting`);
      this.rt.later(2000, () => void informer.start().catch(() => {}));
    });
  }
}
