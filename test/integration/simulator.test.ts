/**
 * The foundation, end to end: a real control plane with the edge node simulator. Nodes become
 * Ready, upgrade pods run or fail as the fault labels say, an offline node goes NotReady through
 * kube-controller-manager, and the real API server refuses evictions a PodDisruptionBudget forbids.
 */
import { ApiException, AppsV1Api, PolicyV1Api, type V1Node } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { isNodeReady } from '../../src/simulator/index.js';
import {
  ENV_NODE_NAME,
  ENV_NODE_ROLE,
  ENV_TARGET_VERSION,
  SIM_FAIL_UPGRADE_LABEL,
  SIM_OFFLINE_LABEL,
  UPGRADE_NAMESPACE,
} from '../../src/planning/labels.js';
import { eventually, startCluster, type TestCluster } from '../helpers/cluster.js';
import { k8sBinDir } from '../helpers/tools.js';

const START = 'v1.33.7';
const TARGET = 'v1.34.4';
let cluster: TestCluster;

beforeAll(async () => {
  // A short grace period so the offline test does not wait 40 s for the node lifecycle controller.
  cluster = await startCluster({ nodeMonitorGracePeriodSeconds: 12, simulator: { leaseDurationSeconds: 8 } });
  await cluster.simulator.createCluster({ controlPlanes: 3, cloudWorkers: 2, edgeWorkers: 18, version: START });
  await cluster.core.createNamespace({ body: { metadata: { name: UPGRADE_NAMESPACE } } });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

const nodeByName = (name: string) => cluster.core.readNode({ name });

function upgradePod(node: string) {
  return {
    metadata: { name: `upgrade-${node}`, namespace: UPGRADE_NAMESPACE },
    spec: {
      nodeName: node,
      restartPolicy: 'Never',
      tolerations: [{ operator: 'Exists' }],
      containers: [{
        name: 'upgrade',
        image: 'example.invalid/agent:dev',
        env: [
          { name: ENV_TARGET_VERSION, value: TARGET },
          { name: ENV_NODE_NAME, value: node },
          { name: ENV_NODE_ROLE, value: 'worker' },
        ],
      }],
    },
  };
}

test('3 control-plane and 20 worker nodes are Ready at the starting version', async () => {
  const nodes = await eventually('23 Ready nodes', async () => {
    const list = (await cluster.core.listNode()).items;
    return list.length === 23 && list.every(isNodeReady) ? list : undefined;
  });
  expect(nodes.map((n: V1Node) => n.status?.nodeInfo?.kubeletVersion)).toEqual(Array(23).fill(START));
  const masters = nodes.filter((n: V1Node) => n.metadata?.labels?.['node-role.kubernetes.io/control-plane'] !== undefined);
  expect(masters.map((n: V1Node) => n.metadata?.name).sort()).toEqual(['cp-1', 'cp-2', 'cp-3']);
});

test('the built kubectl lists the nodes with the generated kubeconfig', () => {
  const out = execFileSync(join(k8sBinDir(), 'kubectl'), ['--kubeconfig', cluster.controlPlane.kubeconfigPath, 'get', 'nodes', '-o', 'name'], { encoding: 'utf8' });
  const names = out.trim().split('\n');
  expect(names).toHaveLength(23);
  expect(names).toContain('node/edge-018');
});

test('an upgrade pod runs: the node reports the target kubeletVersion and the pod Succeeded', async () => {
  await cluster.core.createNamespacedPod({ namespace: UPGRADE_NAMESPACE, body: upgradePod('edge-001') });
  const pod = await eventually('the upgrade pod to finish', async () => {
    const p = await cluster.core.readNamespacedPod({ name: 'upgrade-edge-001', namespace: UPGRADE_NAMESPACE });
    return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
  });
  expect(pod.status?.phase).toBe('Succeeded');
  const node = await nodeByName('edge-001');
  expect(node.status?.nodeInfo?.kubeletVersion).toBe(TARGET);
  expect(isNodeReady(node)).toBe(true);
  // Neighbours are untouched.
  expect((await nodeByName('edge-002')).status?.nodeInfo?.kubeletVersion).toBe(START);
});

test('a node labelled fail-upgrade fails its upgrade pod, with a readable log', async () => {
  await cluster.core.patchNode(
    { name: 'edge-003', body: [{ op: 'add', path: `/metadata/labels/${SIM_FAIL_UPGRADE_LABEL.replace('/', '~1')}`, value: 'true' }] },
  );
  await cluster.core.createNamespacedPod({ namespace: UPGRADE_NAMESPACE, body: upgradePod('edge-003') });
  const pod = await eventually('the upgrade pod to finish', async () => {
    const p = await cluster.core.readNamespacedPod({ name: 'upgrade-edge-003', namespace: UPGRADE_NAMESPACE });
    return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
  });
  expect(pod.status?.phase).toBe('Failed');
  // The log comes through the API server's pods/log subresource, from the simulated kubelet.
  const log = await cluster.core.readNamespacedPodLog({ name: 'upgrade-edge-003', namespace: UPGRADE_NAMESPACE, container: 'upgrade' });
  expect(log).toContain('error: kubeadm upgrade failed on edge-003');
  expect((await nodeByName('edge-003')).status?.nodeInfo?.kubeletVersion).toBe(START);
});

test('a node labelled offline becomes NotReady through the node lifecycle controller', async () => {
  await cluster.core.patchNode(
    { name: 'edge-010', body: [{ op: 'add', path: `/metadata/labels/${SIM_OFFLINE_LABEL.replace('/', '~1')}`, value: 'true' }] },
  );
  const node = await eventually('edge-010 to go NotReady', async () => {
    const n = await nodeByName('edge-010');
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
    return ready && ready.status !== 'True' ? n : undefined;
  }, 90_000, 1000);
  const ready = node.status!.conditions!.find((c) => c.type === 'Ready')!;
  expect(ready.status).toBe('Unknown');
  expect(ready.reason).toBe('NodeStatusUnknown');
  expect(node.spec?.taints?.map((t) => t.key)).toContain('node.kubernetes.io/unreachable');
  // Its neighbours keep their heartbeats.
  expect(isNodeReady(await nodeByName('edge-011'))).toBe(true);
}, 120_000);

test('the API server refuses, with 429, evicting a pod whose PDB allows 0 disruptions', async () => {
  const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
  const policy = cluster.kubeConfig.makeApiClient(PolicyV1Api);
  const labels = { app: 'shop-pos' };
  await apps.createNamespacedDeployment({
    namespace: 'default',
    body: {
      metadata: { name: 'shop-pos' },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'pos', image: 'example.invalid/pos:1' }] } },
      },
    },
  });
  await policy.createNamespacedPodDisruptionBudget({
    namespace: 'default',
    body: { metadata: { name: 'shop-pos' }, spec: { maxUnavailable: 0, selector: { matchLabels: labels } } },
  });
  // kube-scheduler places the pods on simulated workers; the simulator makes them Running and Ready.
  const pods = await eventually('2 Ready shop-pos pods', async () => {
    const list = (await cluster.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=shop-pos' })).items;
    const ready = list.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === 2 ? ready : undefined;
  }, 60_000);
  expect(pods.every((p) => p.spec?.nodeName && !p.spec.nodeName.startsWith('cp-'))).toBe(true);
  await eventually('the PDB status to be observed', async () => {
    const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'shop-pos', namespace: 'default' });
    return pdb.status?.observedGeneration === pdb.metadata?.generation && pdb.status?.currentHealthy === 2;
  });
  const name = pods[0]!.metadata!.name!;
  const err = await cluster.core
    .createNamespacedPodEviction({ name, namespace: 'default', body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'default' } } })
    .then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApiException);
  expect((err as ApiException<unknown>).code).toBe(429);
  expect(String((err as ApiException<unknown>).body)).toContain('disruption budget shop-pos');
  // The pod is still there and not terminating.
  const still = await cluster.core.readNamespacedPod({ name, namespace: 'default' });
  expect(still.metadata?.deletionTimestamp).toBeUndefined();
}, 120_000);
