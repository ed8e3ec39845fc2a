/**
 * Acceptance: the pre-check's node probes on the real stack (real Temporal, real kube-apiserver,
 * nodes played by the simulator). Each probe item gives its warning or error for the simulated
 * node carrying the matching fault label; an offline node gets no probe pod and is named; a probe
 * that never finishes is a warning, not a hang; no probe pod is left in kube-upgrade and nothing on
 * a node changes. The deprecated-API item is read from the real API server's /metrics.
 */
import { Watch, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { startUpgrade } from '../../src/api.js';
import { INSPECT_WORKFLOW_TYPE, TASK_QUEUE, inspectWorkflowIdFor, workflowIdFor } from '../../src/workflows/definitions.js';
import type { ClusterInspection } from '../../src/workflows/inspect-cluster.js';
import {
  AGENT_MODE_LABEL,
  CORDONED_BY_ANNOTATION,
  MADE_BY_LABEL,
  SIM_CERT_DAYS_LABEL,
  SIM_CLOCK_SKEW_LABEL,
  SIM_DISK_FREE_MB_LABEL,
  SIM_OFFLINE_LABEL,
  SIM_PROBE_HANGS_LABEL,
  SIM_REPO_UNREACHABLE_LABEL,
  SIM_RUNTIME_DOWN_LABEL,
  SIM_SWAP_LABEL,
  UPGRADE_NAMESPACE,
} from '../../src/planning/labels.js';
import { nodeReady } from '../../src/planning/cluster.js';
import { getRaw } from '../../src/activities/node-probes.js';
import { parseDeprecatedApis } from '../../src/planning/deprecated-apis.js';
import type { PrecheckItem, Progress } from '../../src/planning/types.js';
import { eventually } from '../helpers/poll.js';
import { NO_GATE } from '../helpers/requests.js';
import {
  CLUSTER_ID,
  START,
  nodes,
  setNodeLabel,
  OFFLINE_LEASE_SECONDS,
  startHarness,
  upgradePods,
  type Harness,
} from './upgrade-harness.js';

const TARGET = 'v1.34.4';
let h: Harness;
/** Every pod created in kube-upgrade during the test, as first seen. */
const created: V1Pod[] = [];
let stopWatch: (() => void) | undefined;

beforeAll(async () => {
  // A control plane of its own: the deprecated-API item reads the API server's request counters since
  // it started, and emptying a shared one deletes namespaces, whose controller requests v1 Endpoints.
  h = await startHarness({
    shape: { controlPlanes: 1, cloudWorkers: 1, edgeWorkers: 6 },
    privateControlPlane: true,
    simulator: { leaseDurationSeconds: OFFLINE_LEASE_SECONDS },
  });
  const req = await new Watch(h.cluster.kubeConfig).watch(
    `/api/v1/namespaces/${UPGRADE_NAMESPACE}/pods`,
    {},
    (type: string, pod: V1Pod) => {
      if (type === 'ADDED') created.push(pod);
    },
    () => undefined,
  );
  stopWatch = () => req.abort();
  // An offline worker throughout: the pre-check always has it (an error, or deferred with offline 'defer').
  await setNodeLabel(h, 'edge-006', SIM_OFFLINE_LABEL, 'true');
  await eventually('edge-006 NotReady', async () => !nodeReady((await nodes(h)).get('edge-006')!), 90_000);
}, 240_000);

const FAULTS = [
  SIM_SWAP_LABEL,
  SIM_DISK_FREE_MB_LABEL,
  SIM_REPO_UNREACHABLE_LABEL,
  SIM_RUNTIME_DOWN_LABEL,
  SIM_CLOCK_SKEW_LABEL,
  SIM_CERT_DAYS_LABEL,
  SIM_PROBE_HANGS_LABEL,
];
afterEach(async () => {
  for (const [name, n] of await nodes(h)) {
    for (const k of FAULTS) if (n.metadata?.labels?.[k] !== undefined) await setNodeLabel(h, name, k, null);
  }
});

afterAll(async () => {
  stopWatch?.();
  await h?.stop();
}, 60_000);

/** What an operator would notice changed on a node: labels, annotations, cordon, kubelet version. */
function fingerprint(all: Map<string, V1Node>): Record<string, unknown> {
  return Object.fromEntries(
    [...all].map(([name, n]) => [
      name,
      {
        labels: n.metadata?.labels,
        annotations: n.metadata?.annotations ?? {},
        unschedulable: n.spec?.unschedulable ?? false,
        // The node lifecycle controller taints the offline node (node.kubernetes.io/unreachable) when it gets to it.
        taints: (n.spec?.taints ?? []).filter((t) => !t.key.startsWith('node.kubernetes.io/')),
        version: n.status?.nodeInfo?.kubeletVersion,
      },
    ]),
  );
}

/** Runs an upgrade that the pre-check stops; returns its report by item ID. */
async function precheckOnly(extra: Record<string, unknown> = {}): Promise<Record<string, PrecheckItem> & { _p: Progress }> {
  const handle = await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, targetVersion: TARGET, gate: NO_GATE, ...extra });
  const p = await handle.result().then(
    () => {
      throw new Error('the upgrade should have been stopped by the pre-check');
    },
    async () => (await handle.query<Progress>('progress')) as Progress,
  );
  expect(p).toMatchObject({ phase: 'precheck', state: 'failed' });
  return Object.assign(Object.fromEntries(p.precheck.items.map((i) => [i.id, i])), { _p: p });
}

const labels = async (node: string, set: Record<string, string | null>) => {
  for (const [k, v] of Object.entries(set)) await setNodeLabel(h, node, k, v);
};

test('each probe item gives its error for the node with the fault label; an offline node gets no probe; nothing is changed', async () => {
  await labels('edge-001', { [SIM_SWAP_LABEL]: 'on' });
  await labels('edge-002', { [SIM_DISK_FREE_MB_LABEL]: '300' });
  await labels('edge-003', { [SIM_REPO_UNREACHABLE_LABEL]: 'true' });
  await labels('edge-004', { [SIM_RUNTIME_DOWN_LABEL]: 'true' });
  await labels('edge-005', { [SIM_CLOCK_SKEW_LABEL]: 'behind-600' });
  await labels('cp-1', { [SIM_CERT_DAYS_LABEL]: '0' });
  const before = fingerprint(await nodes(h));
  const podsBefore = created.length;

  const r = await precheckOnly();

  expect(r.swap).toMatchObject({ result: 'error', nodes: ['edge-001'] });
  expect(r['disk-space']).toMatchObject({ result: 'error', nodes: ['edge-002'] });
  expect(r['disk-space']!.message).toContain('edge-002 /var/lib (300 MiB)');
  expect(r['package-repository']).toMatchObject({ result: 'error', nodes: ['edge-003'] });
  expect(r['package-repository']!.message).toContain('https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release unreachable');
  expect(r['container-runtime']).toMatchObject({ result: 'error', nodes: ['edge-004'] });
  expect(r['clock-skew']).toMatchObject({ result: 'error', nodes: ['edge-005'] });
  expect(r['clock-skew']!.message).toMatch(/edge-005 \((59\d|60\d) s\)/);
  expect(r.certificates).toMatchObject({ result: 'error', nodes: ['cp-1'] });
  expect(r['node-probes']).toMatchObject({ result: 'warning', nodes: ['edge-006'] });
  expect(r['node-probes']!.message).toContain('1 offline node(s) could not be probed: edge-006');
  expect(r['nodes-ready']).toMatchObject({ result: 'error', nodes: ['edge-006'] });

  // One check pod per online node, none for the offline one, each the agent in check mode; none is left.
  const probes = created.slice(podsBefore);
  expect(probes.map((p) => p.spec?.nodeName).sort()).toEqual([
    'cloud-001',
    'cp-1',
    'edge-001',
    'edge-002',
    'edge-003',
    'edge-004',
    'edge-005',
  ]);
  for (const p of probes) {
    expect(p.metadata?.labels?.[AGENT_MODE_LABEL]).toBe('check');
    expect(p.spec?.containers[0]?.args).toEqual(['--check']);
    expect(p.spec?.containers[0]?.env).toContainEqual({ name: 'AGENT_MODE', value: 'check' });
  }
  expect(await upgradePods(h)).toEqual([]);
  // Nothing on any node changed: no cordon, no label or annotation of ours, no new kubelet.
  const after = await nodes(h);
  expect(fingerprint(after)).toEqual(before);
  expect([...after.values()].every((n) => n.status?.nodeInfo?.kubeletVersion === START)).toBe(true);
  expect([...after.values()].some((n) => n.metadata?.annotations?.[CORDONED_BY_ANNOTATION])).toBe(false);
  expect(h.cluster.simulator.stats()).toMatchObject({ upgradesSucceeded: 0, upgradesFailed: 0 });

  // The deprecated-API item was read from this API server's /metrics (a warning if it could not be); nothing deprecated
  // was requested here (deprecated-apis.test.ts requests one and gets the error).
  const served = parseDeprecatedApis(
    await getRaw({ kc: h.cluster.kubeConfig, server: h.cluster.kubeConfig.getCurrentCluster()!.server }, '/metrics'),
  );
  expect(served).toEqual([]);
  expect(r['deprecated-apis']).toMatchObject({ result: 'normal', message: expect.stringContaining('no deprecated API was requested') });
}, 240_000);

test('warning levels: low disk, certificates expiring soon, a small clock skew, and a probe that never finishes', async () => {
  await labels('edge-001', { [SIM_DISK_FREE_MB_LABEL]: '1500' });
  await labels('cp-1', { [SIM_CERT_DAYS_LABEL]: '10' });
  await labels('edge-002', { [SIM_CLOCK_SKEW_LABEL]: '90' });
  await labels('edge-003', { [SIM_PROBE_HANGS_LABEL]: 'true' });
  // The offline worker is deferred: named in the item, no warning.
  const r = await precheckOnly({ offline: 'defer', nodeProbes: { timeout: '5s' } });

  expect(r['disk-space']).toMatchObject({ result: 'warning', nodes: ['edge-001'] });
  expect(r.certificates).toMatchObject({ result: 'warning', nodes: ['cp-1'] });
  expect(r.certificates!.message).toContain('cp-1 apiserver (10d)');
  expect(r['clock-skew']).toMatchObject({ result: 'warning', nodes: ['edge-002'] });
  expect(r['node-probes']).toMatchObject({ result: 'warning', nodes: ['edge-003'] });
  expect(r['node-probes']!.message).toContain('probes did not finish in time on edge-003');
  expect(r['node-probes']!.message).toContain('1 offline worker(s) will be deferred and were not probed: edge-006');
  for (const id of ['swap', 'package-repository', 'container-runtime', 'nodes-ready']) expect(r[id]!.result).toBe('normal');
  expect(r._p.failure).toContain('pre-check found warnings, no node was touched');
  // The hanging probe pod was deleted too.
  expect(await upgradePods(h)).toEqual([]);
}, 240_000);

test('nodeProbes: false: no probe pod, and the report says the probes were skipped (the offline node stops the upgrade)', async () => {
  const podsBefore = created.length;
  const r = await precheckOnly({ nodeProbes: false });
  expect(r['node-probes']).toMatchObject({ result: 'normal', message: expect.stringContaining('disabled') });
  expect(r.swap).toBeUndefined();
  expect(created.length).toBe(podsBefore);
}, 120_000);

test("the precheck command's inspectCluster runs the probes too, and only when asked", async () => {
  await labels('edge-002', { [SIM_SWAP_LABEL]: 'on' });
  const inspect = async (nodeProbes?: { concurrency: number; timeoutMs: number }) => {
    const res = await h.env.client.workflow.execute<(a: unknown) => Promise<ClusterInspection>>(INSPECT_WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUE,
      workflowId: inspectWorkflowIdFor(CLUSTER_ID, Date.now()),
      args: [{ clusterId: CLUSTER_ID, targetVersion: TARGET, runPrecheck: true, ...(nodeProbes ? { nodeProbes } : {}) }],
    });
    return Object.fromEntries(res.precheck!.items.map((i) => [i.id, i]));
  };
  const probed = await inspect({ concurrency: 3, timeoutMs: 30_000 });
  expect(probed.swap).toMatchObject({ result: 'error', nodes: ['edge-002'] });
  expect(probed['deprecated-apis']!.result).toBe('normal');
  expect(await upgradePods(h)).toEqual([]);
  // An older CLI sends no nodeProbes: the API-server items only.
  const podsBefore = created.length;
  const plain = await inspect();
  expect(plain.swap).toBeUndefined();
  expect(plain['nodes-ready']).toBeDefined();
  expect(created.length).toBe(podsBefore);
}, 120_000);

test("a precheck probing while the upgrade of the same cluster probes: each runs its own pods, neither deletes the other's", async () => {
  // edge-003's probes never finish, so the upgrade's probe pod there is still running when the precheck probes the node.
  await labels('edge-003', { [SIM_PROBE_HANGS_LABEL]: 'true' });
  const podsBefore = created.length;
  const checkPods = async () =>
    (await upgradePods(h)).filter((p) => p.spec?.nodeName === 'edge-003' && p.metadata?.labels?.[AGENT_MODE_LABEL] === 'check');
  const upgrade = precheckOnly({ offline: 'defer', nodeProbes: { timeout: '40s' } });
  await eventually('the upgrade probes edge-003', async () => (await checkPods()).some((p) => p.status?.phase === 'Running'), 60_000);

  // The precheck command's inspectCluster probes the same nodes for the same upgrade ID and target, with its own ID.
  const precheckId = inspectWorkflowIdFor(CLUSTER_ID, Date.now());
  const inspection = await h.env.client.workflow.execute<(a: unknown) => Promise<ClusterInspection>>(INSPECT_WORKFLOW_TYPE, {
    taskQueue: TASK_QUEUE,
    workflowId: precheckId,
    args: [{ clusterId: CLUSTER_ID, targetVersion: TARGET, runPrecheck: true, nodeProbes: { concurrency: 8, timeoutMs: 10_000 } }],
  });
  const precheck = Object.fromEntries(inspection.precheck!.items.map((i) => [i.id, i]));
  const upgraded = await upgrade;

  // Both timed out on edge-003 with their own pod; neither saw its pod deleted or replaced by the other.
  for (const r of [precheck, upgraded]) {
    expect(r['node-probes']!.message).toContain('probes did not finish in time on edge-003');
    expect(r['node-probes']!.message).not.toContain('probes failed');
    expect(r['node-probes']!.nodes).toContain('edge-003');
  }
  const onNode = created.slice(podsBefore).filter((p) => p.spec?.nodeName === 'edge-003');
  expect(onNode.map((p) => p.metadata?.labels?.[MADE_BY_LABEL]).sort()).toEqual([precheckId, workflowIdFor(CLUSTER_ID)].sort());
  expect(new Set(onNode.map((p) => p.metadata?.name)).size).toBe(2);
  expect(await upgradePods(h)).toEqual([]);
}, 240_000);
