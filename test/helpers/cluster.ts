/**
 * Gives an integration test file a real control plane (etcd, kube-apiserver, controller manager,
 * scheduler) and the edge node simulator. Call `startCluster()` in beforeAll and `stop()` in afterAll.
 * A file gets its jest worker's shared control plane, emptied for it (./shared-control-plane.ts),
 * unless it asks for a control plane of its own: other API server flags, a Pod Security default, a
 * node-monitor grace period other than the shared one, or `private: true`.
 */
import { CoordinationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ConnectionPool } from '../../src/kube/connections.js';
import { makeClient } from '../../src/kube/clients.js';
import { LocalControlPlane } from '../../src/local/control-plane.js';
import { EdgeSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { SHARED_NODE_MONITOR_GRACE_SECONDS, sharedControlPlane } from './shared-control-plane.js';
import { stopInSteps } from './stop-steps.js';
import { etcdBinary, k8sBinDir } from './tools.js';

/**
 * How long a kubelet restarted by an upgrade stays NotReady in the tests (the simulator's default is 2 s):
 * every master and every batch waits it out once, and 1 s is enough for an upgrade to see the restart (its
 * Ready heartbeat still comes a whole second after the pod finished). A file whose timing leans on slower
 * batches (edge-rollout-offline) passes its own.
 */
export const TEST_KUBELET_RESTART_SECONDS = 1;

export interface TestCluster {
  controlPlane: LocalControlPlane;
  /** The simulator; a test that restarts it replaces it here, so `stop()` stops the one running. */
  simulator: EdgeSimulator;
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  /** Leases (kube-node-lease): what says a kubelet is alive, beside its Ready condition. */
  coordination: CoordinationV1Api;
  stop(): Promise<void>;
}

/** Starts a control plane and a simulator (with no nodes yet). */
export async function startCluster(
  opts: {
    nodeMonitorGracePeriodSeconds?: number;
    podSecurityDefault?: 'baseline' | 'restricted';
    /** Further kube-apiserver flags, e.g. a --runtime-config serving a deprecated API version. */
    extraApiServerArgs?: readonly string[];
    simulator?: Partial<SimulatorOptions>;
    /** A control plane of this file's own, even when the shared one would do. */
    private?: boolean;
  } = {},
): Promise<TestCluster> {
  const grace = opts.nodeMonitorGracePeriodSeconds;
  const sharable =
    !opts.private &&
    !opts.podSecurityDefault &&
    !opts.extraApiServerArgs?.length &&
    (grace ?? SHARED_NODE_MONITOR_GRACE_SECONDS) === SHARED_NODE_MONITOR_GRACE_SECONDS;
  const controlPlane =
    (sharable ? await sharedControlPlane() : undefined) ??
    (await LocalControlPlane.start({
      k8sBinDir: k8sBinDir(),
      etcdBinary: etcdBinary(),
      nodeMonitorGracePeriodSeconds: grace ?? SHARED_NODE_MONITOR_GRACE_SECONDS,
      podSecurityDefault: opts.podSecurityDefault,
      extraApiServerArgs: opts.extraApiServerArgs,
      keepDir: process.env.EDGE_UPGRADE_KEEP_TEST_DIRS === '1',
    }));
  const kubeConfig = controlPlane.kubeConfig();
  let simulator: EdgeSimulator;
  try {
    simulator = await EdgeSimulator.start({ kubeConfig, kubeletRestartSeconds: TEST_KUBELET_RESTART_SECONDS, ...opts.simulator });
  } catch (err) {
    await controlPlane.stop();
    throw err;
  }
  // Tests poll through `core` many times a second: keep-alive connections, not a TLS handshake each.
  const pool = new ConnectionPool();
  const cluster: TestCluster = {
    controlPlane,
    simulator,
    kubeConfig,
    core: makeClient(kubeConfig, CoreV1Api, { pool }),
    coordination: makeClient(kubeConfig, CoordinationV1Api, { pool }),
    async stop() {
      await stopInSteps('cluster stop', [
        ["the test's connections", () => pool.close()],
        // The simulator in place now: a test that restarts it puts the new one here.
        ['the simulator', () => cluster.simulator.stop()],
        ['the control plane', () => controlPlane.stop()],
      ]);
    },
  };
  return cluster;
}
