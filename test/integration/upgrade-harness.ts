/**
 * Shared set-up of the upgrade acceptance tests: a real control plane with simulated nodes, a
 * real Temporal dev server, and a real worker built by src/worker.ts createWorker, plus helpers to
 * watch progress and read what the upgrade left in the cluster.
 */
import type { CoreV1Event, V1Node, V1Pod } from '@kubernetes/client-node';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { mergePatch } from '../../src/kube/clients.js';
import { getProgress } from '../../src/api.js';
import type { WorkerConfig } from '../../src/config.js';
import { nodeReady, offlineReason } from '../../src/planning/cluster.js';
import { upgradePodName } from '../../src/planning/names.js';
import { CORDONED_BY_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, UPGRADE_NAMESPACE } from '../../src/planning/labels.js';
import type { Progress } from '../../src/planning/types.js';
import type { SimulatorOptions } from '../../src/simulator/index.js';
import { createWorker } from '../../src/worker.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/poll.js';
import { stopInSteps } from '../helpers/stop-steps.js';
import { DIST_WORKFLOW_BUNDLE, startDevServer } from '../helpers/temporal.js';

export const START = 'v1.33.7';
export const CLUSTER_ID = 'edge-test';

/**
 * The harness's Lease duration: renewed every 5 s, so under the control plane's 20 s grace period a
 * renewal must be 15 s late before a node reads NotReady, however busy the machine. A renewal costs
 * about 6 ms of CPU (API server, etcd, controller manager, simulator): 30 nodes renewing every 2 s
 * instead take 4 CPU-seconds a minute from the files running beside this one.
 */
export const HARNESS_LEASE_SECONDS = 20;
/**
 * For files whose nodes go offline or hang (SIM_OFFLINE_LABEL, SIM_KUBELET_DOWN_LABEL): renewed every
 * 2 s, so a silent node's Lease expires within 8 s and the upgrade sees it offline at once.
 */
export const OFFLINE_LEASE_SECONDS = 8;

/** One test file's world. */
export interface Harness {
  cluster: TestCluster;
  env: TestWorkflowEnvironment;
  config: WorkerConfig;
  worker: Worker;
  running: Promise<void>;
  stop(): Promise<void>;
}

/** How a test file wants its world. */
export interface HarnessOptions {
  shape?: { controlPlanes: number; cloudWorkers: number; edgeWorkers: number };
  /** Seconds each simulated upgrade pod runs. Default 1 (the kubelet's restart: TEST_KUBELET_RESTART_SECONDS, ../helpers/cluster.ts). */
  upgradeSeconds?: number;
  /** The kubeconfig the worker uses; defaults to the admin one. */
  kubeconfig?: (cluster: TestCluster) => Promise<string>;
  /**
   * Extra simulator options, e.g. an onUpgradeStart hook or another Lease (leaseDurationSeconds:
   * {@link HARNESS_LEASE_SECONDS} by default, {@link OFFLINE_LEASE_SECONDS} where nodes go offline).
   */
  simulator?: Partial<SimulatorOptions>;
  /** The version every node starts at. Default {@link START}. */
  version?: string;
  /** Further kube-apiserver flags (LocalControlPlane extraApiServerArgs). */
  extraApiServerArgs?: readonly string[];
  /** A control plane of the file's own instead of the jest worker's shared one (see ../helpers/cluster.ts). */
  privateControlPlane?: boolean;
}

/** Starts control plane, simulator, `shape` nodes at START, the dev server and a worker. */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const shape = opts.shape ?? { controlPlanes: 3, cloudWorkers: 2, edgeWorkers: 18 };
  const [cluster, env] = await Promise.all([
    startCluster({
      extraApiServerArgs: opts.extraApiServerArgs,
      private: opts.privateControlPlane,
      simulator: { leaseDurationSeconds: HARNESS_LEASE_SECONDS, upgradeSeconds: opts.upgradeSeconds ?? 1, ...opts.simulator },
    }),
    startDevServer(),
  ]);
  await cluster.simulator.createCluster({ ...shape, version: opts.version ?? START });
  const total = shape.controlPlanes + shape.cloudWorkers + shape.edgeWorkers;
  await eventually(`${total} Ready nodes`, async () => {
    const nodes = (await cluster.core.listNode()).items;
    return nodes.length === total && nodes.every(nodeReady);
  });
  const config = workerConfig(opts.kubeconfig ? await opts.kubeconfig(cluster) : cluster.controlPlane.kubeconfigPath, env);
  // A shutdown that hangs inside the SDK on a busy machine (seen once in CI) must not outlast afterAll.
  const worker = await createWorker({
    connection: env.nativeConnection,
    config,
    workflowBundlePath: DIST_WORKFLOW_BUNDLE,
    shutdownForceTime: '10 seconds',
  });
  const running = worker.run();
  return {
    cluster,
    env,
    config,
    worker,
    running,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await stopInSteps('harness stop', [
        // A shutdown the worker gave up on (shutdownForceTime) is said in the line.
        [
          'worker',
          () =>
            running.then(
              () => undefined,
              (err: Error) => (err.name === 'GracefulShutdownPeriodExpiredError' ? err.message : undefined),
            ),
        ],
        ['dev server', () => env.teardown()],
        ['cluster', () => cluster.stop()],
      ]);
    },
  };
}

/** A WorkerConfig with one cluster, `CLUSTER_ID`, at `kubeconfig`. */
export function workerConfig(kubeconfig: string, env: TestWorkflowEnvironment, clusterId = CLUSTER_ID): WorkerConfig {
  return {
    temporal: { address: env.address, namespace: 'default' },
    upgradeImage: 'example.invalid/edge-upgrade-agent:test',
    clusters: new Map([[clusterId, { id: clusterId, kubeconfig }]]),
  };
}

/**
 * Polls progress until `pred` holds (every 500 ms: a query costs CPU, see ../helpers/poll.ts); returns that
 * progress. On a timeout the error says what the progress last was (state, pause, counts, lastError).
 */
export async function progressUntil(
  h: Harness,
  what: string,
  pred: (p: Progress) => boolean,
  timeoutMs = 180_000,
  clusterId = CLUSTER_ID,
): Promise<Progress> {
  let last: Progress | undefined;
  try {
    return await eventually(
      what,
      async () => {
        last = await getProgress(h.env.client, clusterId);
        return pred(last) ? last : undefined;
      },
      timeoutMs,
      500,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; the progress last was ${progressSummary(last)}`);
  }
}

/** The parts of a progress that say where an upgrade stands, for a failure message. */
function progressSummary(p: Progress | undefined): string {
  if (!p) return 'never read';
  const { state, phase, pause, masters, workers, lastError } = p;
  return JSON.stringify({ state, phase, pause, masters, workers, lastError });
}

/**
 * Waits until the nodes are back as the upgrade sees them (src/planning/cluster.ts offlineReason): Ready,
 * and a Lease renewal or status post within the Lease duration. Ready alone is not enough: a node set
 * online before the controller's grace period ran out never stopped reading Ready, and a resume in that
 * moment found its Lease still stale and paused again ("offline").
 */
export async function waitOnline(h: Harness, names: string[], timeoutMs = 60_000): Promise<void> {
  await eventually(
    `${names.join(', ')} back online`,
    async () => {
      const all = await nodes(h);
      for (const n of names) {
        const lease = await h.cluster.coordination.readNamespacedLease({ name: n, namespace: 'kube-node-lease' });
        if (offlineReason(all.get(n)!, lease.spec, Date.now()) !== null) return false;
      }
      return true;
    },
    timeoutMs,
    500,
  );
}

/** All nodes, by name. */
export async function nodes(h: Harness): Promise<Map<string, V1Node>> {
  return new Map((await h.cluster.core.listNode()).items.map((n) => [n.metadata!.name!, n]));
}

/** Pods in kube-upgrade (none when the namespace does not exist). */
export async function upgradePods(h: Harness): Promise<V1Pod[]> {
  return (await h.cluster.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE })).items;
}

/** The phase of each upgrade pod to `target`, by node. */
export async function podsOf(h: Harness, target: string): Promise<Map<string, string>> {
  return new Map(
    (await upgradePods(h))
      .filter((p) => p.metadata!.name === upgradePodName(p.spec!.nodeName!, target))
      .map((p) => [p.spec!.nodeName!, p.status?.phase ?? '']),
  );
}

/** Waits (up to a minute) until some upgrade pods are Running; returns their nodes. */
export function upgradePodsRunning(h: Harness): Promise<Array<string | undefined>> {
  return eventually(
    'an upgrade pod running',
    async () => {
      const running = (await upgradePods(h)).filter((p) => p.status?.phase === 'Running').map((p) => p.spec?.nodeName);
      return running.length ? running : undefined;
    },
    60_000,
    100,
  );
}

/** Events this project wrote in `namespace`. */
export async function ourEvents(h: Harness, namespace: string, extraSelector = ''): Promise<CoreV1Event[]> {
  return (await h.cluster.core.listNamespacedEvent({ namespace, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}${extraSelector}` }))
    .items;
}

/** Nodes carrying our cordon annotation. */
export function cordonedByUs(all: Map<string, V1Node>): string[] {
  return [...all.values()].filter((n) => n.metadata?.annotations?.[CORDONED_BY_ANNOTATION]).map((n) => n.metadata!.name!);
}

/** Sets (value) or removes (null) a label on a node. */
export async function setNodeLabel(h: Harness, node: string, key: string, value: string | null): Promise<void> {
  await h.cluster.core.patchNode({ name: node, body: { metadata: { labels: { [key]: value } } } }, mergePatch);
}

/** Cordons a node as an operator would with kubectl cordon (no annotation). */
export async function operatorCordon(h: Harness, node: string): Promise<void> {
  await h.cluster.core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, mergePatch);
}
