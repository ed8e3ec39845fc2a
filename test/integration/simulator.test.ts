/**
 * The foundation, end to end: a real control plane with the edge node simulator. Nodes become
 * Ready, upgrade pods run or fail as the fault labels say, an offline node goes NotReady through
 * kube-controller-manager, and the real API server refuses evictions a PodDisruptionBudget forbids.
 * The simulator is strict where tests depend on it: grace periods, finalizers, syncing pods on
 * reconnect, a kubelet that hangs after its upgrade, and Ready flaps.
 */
import { ApiException, AppsV1Api, CoordinationV1Api, PolicyV1Api, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { mergePatch } from '../../src/kube/clients.js';
import { nodeReady } from '../../src/planning/cluster.js';
import {
  ENV_NODE_NAME,
  ENV_NODE_ROLE,
  ENV_TARGET_VERSION,
  SIM_FAIL_UPGRADE_LABEL,
  SIM_KUBELET_HANGS_LABEL,
  SIM_NODE_LABEL,
  SIM_OFFLINE_LABEL,
  SIM_READY_FLAP_LABEL,
  UPGRADE_NAMESPACE,
} from '../../src/planning/labels.js';
import { EdgeSimulator } from '../../src/simulator/index.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/poll.js';
import { k8sBinDir } from '../helpers/tools.js';
import { deployment } from '../helpers/workloads.js';

const START = 'v1.33.7';
const TARGET = 'v1.34.4';
let cluster: TestCluster;

beforeAll(async () => {
  // The shared control plane's 20 s grace period, so the offline test does not wait 40 s for the node lifecycle
  // controller; 8 s Leases, renewed every 2 s, which the hung-kubelet test counts on.
  cluster = await startCluster({ simulator: { leaseDurationSeconds: 8 } });
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
      containers: [
        {
          name: 'upgrade',
          image: 'example.invalid/agent:dev',
          env: [
            { name: ENV_TARGET_VERSION, value: TARGET },
            { name: ENV_NODE_NAME, value: node },
            { name: ENV_NODE_ROLE, value: 'worker' },
          ],
        },
      ],
    },
  };
}

test('3 control-plane and 20 worker nodes are Ready at the starting version', async () => {
  const nodes = await eventually('23 Ready nodes', async () => {
    const list = (await cluster.core.listNode()).items;
    return list.length === 23 && list.every(nodeReady) ? list : undefined;
  });
  expect(nodes.map((n: V1Node) => n.status?.nodeInfo?.kubeletVersion)).toEqual(Array(23).fill(START));
  const masters = nodes.filter((n: V1Node) => n.metadata?.labels?.['node-role.kubernetes.io/control-plane'] !== undefined);
  expect(masters.map((n: V1Node) => n.metadata?.name).sort()).toEqual(['cp-1', 'cp-2', 'cp-3']);
});

test('the built kubectl lists the nodes with the generated kubeconfig', () => {
  const out = execFileSync(
    join(k8sBinDir(), 'kubectl'),
    ['--kubeconfig', cluster.controlPlane.kubeconfigPath, 'get', 'nodes', '-o', 'name'],
    { encoding: 'utf8' },
  );
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
  expect((await nodeByName('edge-001')).status?.nodeInfo?.kubeletVersion).toBe(TARGET);
  // The restarted kubelet reports NotReady at first, then Ready once its runtime checks pass.
  const node = await eventually(
    'edge-001 Ready again',
    async () => {
      const n = await nodeByName('edge-001');
      return nodeReady(n) ? n : undefined;
    },
    10_000,
  );
  expect(node.status?.nodeInfo?.kubeletVersion).toBe(TARGET);
  // Neighbours are untouched.
  expect((await nodeByName('edge-002')).status?.nodeInfo?.kubeletVersion).toBe(START);
});

test('a node labelled fail-upgrade fails its upgrade pod, with a readable log', async () => {
  await cluster.core.patchNode({
    name: 'edge-003',
    body: [{ op: 'add', path: `/metadata/labels/${SIM_FAIL_UPGRADE_LABEL.replace('/', '~1')}`, value: 'true' }],
  });
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
  await cluster.core.patchNode({
    name: 'edge-010',
    body: [{ op: 'add', path: `/metadata/labels/${SIM_OFFLINE_LABEL.replace('/', '~1')}`, value: 'true' }],
  });
  // The controller marks the Ready condition first and adds the taint in a later update of its own.
  const node = await eventually(
    'edge-010 to go NotReady and be tainted unreachable',
    async () => {
      const n = await nodeByName('edge-010');
      const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
      const tainted = n.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable');
      return ready && ready.status !== 'True' && tainted ? n : undefined;
    },
    90_000,
    1000,
  );
  const ready = node.status!.conditions!.find((c) => c.type === 'Ready')!;
  expect(ready.status).toBe('Unknown');
  expect(ready.reason).toBe('NodeStatusUnknown');
  // Its neighbours keep their heartbeats.
  expect(nodeReady(await nodeByName('edge-011'))).toBe(true);
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
  const pods = await eventually(
    '2 Ready shop-pos pods',
    async () => {
      const list = (await cluster.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=shop-pos' })).items;
      const ready = list.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === 2 ? ready : undefined;
    },
    60_000,
  );
  expect(pods.every((p) => p.spec?.nodeName && !p.spec.nodeName.startsWith('cp-'))).toBe(true);
  await eventually('the PDB status to be observed', async () => {
    const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'shop-pos', namespace: 'default' });
    return pdb.status?.observedGeneration === pdb.metadata?.generation && pdb.status?.currentHealthy === 2;
  });
  const name = pods[0]!.metadata!.name!;
  const err = await cluster.core
    .createNamespacedPodEviction({
      name,
      namespace: 'default',
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'default' } },
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(ApiException);
  expect((err as ApiException<unknown>).code).toBe(429);
  expect(String((err as ApiException<unknown>).body)).toContain('disruption budget shop-pos');
  // The pod is still there and not terminating.
  const still = await cluster.core.readNamespacedPod({ name, namespace: 'default' });
  expect(still.metadata?.deletionTimestamp).toBeUndefined();
}, 120_000);

describe('the simulator behaves like a kubelet', () => {
  const setLabel = (node: string, key: string, value: string | null) =>
    cluster.core.patchNode({ name: node, body: { metadata: { labels: { [key]: value } } } }, mergePatch);
  const pod = (name: string, node: string, extra: Partial<V1Pod['metadata']> = {}, grace = 3): V1Pod => ({
    metadata: { name, namespace: 'default', ...extra },
    spec: { nodeName: node, terminationGracePeriodSeconds: grace, containers: [{ name: 'app', image: 'example.invalid/app:1' }] },
  });
  const phaseOf = async (name: string) => (await cluster.core.readNamespacedPod({ name, namespace: 'default' })).status?.phase;
  const gone = async (name: string) =>
    cluster.core.readNamespacedPod({ name, namespace: 'default' }).then(
      () => false,
      (e: { code?: number }) => e.code === 404,
    );

  test('a deleted pod lives out its grace period, and one with a finalizer stays until the finalizer is removed', async () => {
    await cluster.core.createNamespacedPod({ namespace: 'default', body: pod('graceful', 'edge-012') });
    await cluster.core.createNamespacedPod({
      namespace: 'default',
      body: pod('finalized', 'edge-012', { finalizers: ['example.com/hold'] }, 1),
    });
    await eventually('both Running', async () => (await phaseOf('graceful')) === 'Running' && (await phaseOf('finalized')) === 'Running');
    const deletedAt = Date.now();
    await cluster.core.deleteNamespacedPod({ name: 'graceful', namespace: 'default' });
    await cluster.core.deleteNamespacedPod({ name: 'finalized', namespace: 'default' });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await gone('graceful')).toBe(false);
    await eventually('graceful gone', () => gone('graceful'), 15_000, 100);
    // The API server truncates deletionTimestamp to whole seconds.
    expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(2_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await gone('finalized')).toBe(false);
    const noFinalizers = { metadata: { finalizers: null } };
    await cluster.core.patchNamespacedPod({ name: 'finalized', namespace: 'default', body: noFinalizers }, mergePatch);
    await eventually('finalized gone', () => gone('finalized'), 15_000, 100);
  }, 60_000);

  test('a node that comes back online starts the Pending pods bound to it', async () => {
    await setLabel('edge-013', SIM_OFFLINE_LABEL, 'true');
    await new Promise((r) => setTimeout(r, 1_000));
    await cluster.core.createNamespacedPod({ namespace: 'default', body: pod('while-offline', 'edge-013') });
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await phaseOf('while-offline')).toBe('Pending');
    await setLabel('edge-013', SIM_OFFLINE_LABEL, null);
    await eventually('the pod Running after the node reconnects', async () => (await phaseOf('while-offline')) === 'Running', 20_000);
  }, 60_000);

  test('with kubelet-hangs-after-upgrade the node reports the new version once, then its Lease stops being renewed', async () => {
    const coord = cluster.kubeConfig.makeApiClient(CoordinationV1Api);
    await setLabel('edge-014', SIM_KUBELET_HANGS_LABEL, 'true');
    await cluster.core.createNamespacedPod({ namespace: UPGRADE_NAMESPACE, body: upgradePod('edge-014') });
    await eventually(
      'the upgrade pod Succeeded',
      async () =>
        (await cluster.core.readNamespacedPod({ name: 'upgrade-edge-014', namespace: UPGRADE_NAMESPACE })).status?.phase === 'Succeeded',
    );
    expect((await nodeByName('edge-014')).status?.nodeInfo?.kubeletVersion).toBe(TARGET);
    const renewed = async () =>
      new Date(
        (await coord.readNamespacedLease({ name: 'edge-014', namespace: 'kube-node-lease' })).spec!.renewTime as unknown as string,
      ).getTime();
    const before = await renewed();
    // Healthy nodes renew every 2 s here (8 s leases).
    await new Promise((r) => setTimeout(r, 6_000));
    expect(await renewed()).toBe(before);
    await setLabel('edge-014', SIM_KUBELET_HANGS_LABEL, null);
    await eventually('renewals again once the label is gone', async () => (await renewed()) > before, 15_000);
  }, 60_000);

  test('with ready-flap-seconds the Ready condition alternates while the Lease keeps renewing', async () => {
    await setLabel('edge-015', SIM_READY_FLAP_LABEL, '2');
    const seen = new Set<string>();
    const deadline = Date.now() + 12_000;
    while (Date.now() < deadline && seen.size < 2) {
      const ready = (await nodeByName('edge-015')).status?.conditions?.find((c) => c.type === 'Ready');
      seen.add(`${ready?.status}/${ready?.reason}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await setLabel('edge-015', SIM_READY_FLAP_LABEL, null);
    expect([...seen].sort()).toEqual(['False/KubeletNotReady', 'True/KubeletReady']);
    await eventually('Ready again', async () => nodeReady(await nodeByName('edge-015')), 15_000);
  }, 60_000);

  test('a restarted simulator adopts the pods bound to its nodes: the terminating ones go, the others are Running and Ready', async () => {
    const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
    const isReady = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    const shopPods = async () => (await cluster.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=restart-shop' })).items;
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('restart-shop', { replicas: 2, node: 'edge-016' }) });
    await cluster.core.createNamespacedPod({ namespace: 'default', body: pod('kept-running', 'edge-017') });
    await cluster.core.createNamespacedPod({ namespace: 'default', body: pod('past-its-grace', 'edge-016') });
    await eventually('2 Ready restart-shop pods, kept-running and past-its-grace Running', async () => {
      const shop = (await shopPods()).filter(isReady);
      return shop.length === 2 && (await phaseOf('kept-running')) === 'Running' && (await phaseOf('past-its-grace')) === 'Running';
    });

    // The simulator process stops: nothing finalizes or starts pods on its nodes meanwhile.
    await cluster.simulator.stop();
    await apps.deleteNamespacedDeployment({ name: 'restart-shop', namespace: 'default', propagationPolicy: 'Background' });
    // Its 3 s grace period is over long before the new simulator starts.
    await cluster.core.deleteNamespacedPod({ name: 'past-its-grace', namespace: 'default' });
    const terminating = await eventually('both restart-shop pods Terminating', async () => {
      const list = await shopPods();
      return list.length === 2 && list.every((p) => p.metadata?.deletionTimestamp) ? list : undefined;
    });
    await cluster.core.createNamespacedPod({ namespace: 'default', body: pod('born-while-down', 'edge-017') });
    // Down past the node monitor grace period: the node lifecycle controller marks edge-017 NotReady and its pods not Ready.
    await eventually(
      'kept-running marked not Ready by the node lifecycle controller',
      async () => !isReady(await cluster.core.readNamespacedPod({ name: 'kept-running', namespace: 'default' })),
      60_000,
      500,
    );
    expect((await shopPods()).map((p) => p.metadata?.uid).sort()).toEqual(terminating.map((p) => p.metadata?.uid).sort());

    // A new simulator over the same API server and nodes, as after a process restart.
    const restartedAt = Date.now();
    cluster.simulator = await EdgeSimulator.start({ kubeConfig: cluster.kubeConfig, leaseDurationSeconds: 8 });
    await eventually('past-its-grace finalized at once', () => gone('past-its-grace'), 5_000);
    // The Deployment's pods (30 s grace) go when their grace period ends, or at once if it already has; 10 s of slack.
    const graceEnds = Math.max(...terminating.map((p) => new Date(p.metadata!.deletionTimestamp!).getTime()));
    await eventually(
      'the terminating restart-shop pods finalized',
      async () => (await shopPods()).length === 0,
      graceEnds - restartedAt + 10_000,
    );
    for (const name of ['born-while-down', 'kept-running']) {
      const p = await eventually(`${name} Running and Ready`, async () => {
        const found = await cluster.core.readNamespacedPod({ name, namespace: 'default' });
        return found.status?.phase === 'Running' && isReady(found) ? found : undefined;
      });
      expect(p.spec?.nodeName).toBe('edge-017');
    }
  }, 150_000);

  test('a node the simulator takes on after listing the pods has its pods adopted too, as when its node watch came back late', async () => {
    // Not simulated for a while: its pods wait, one Pending, one deleted (Terminating, 1 s grace).
    await setLabel('edge-018', SIM_NODE_LABEL, null);
    await new Promise((r) => setTimeout(r, 1_000));
    await cluster.core.createNamespacedPod({ namespace: 'default', body: pod('late-pending', 'edge-018') });
    await cluster.core.createNamespacedPod({ namespace: 'default', body: pod('late-deleted', 'edge-018', {}, 1) });
    await cluster.core.deleteNamespacedPod({ name: 'late-deleted', namespace: 'default' });
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await gone('late-deleted')).toBe(false);
    expect(await phaseOf('late-pending')).toBe('Pending');
    await setLabel('edge-018', SIM_NODE_LABEL, 'true');
    await eventually('late-deleted finalized', () => gone('late-deleted'), 10_000);
    await eventually('late-pending Running', async () => (await phaseOf('late-pending')) === 'Running', 10_000);
  }, 60_000);
});
