/**
 * The node-step activities against a real kube-apiserver and the simulator, called directly (no
 * Temporal): what they do when Kubernetes misbehaves, and what a cancel's cleanup leaves alone. API outages go through a TCP proxy between
 * the activities and the API server; the simulator talks to the API server directly.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupUpgrade, releaseExpiredDeferred } from '../../src/activities/cleanup.js';
import { cordonNode, uncordonNode } from '../../src/activities/cordon.js';
import { drainNode } from '../../src/activities/drain.js';
import { recordBatchCancelIgnored } from '../../src/activities/events.js';
import { mergePatch } from '../../src/kube/clients.js';
import { KubeClients } from '../../src/activities/kube.js';
import { precheck } from '../../src/activities/inventory.js';
import { ensureUpgradeNamespace } from '../../src/activities/namespace.js';
import type { NodeStepArgs } from '../../src/activities/types.js';
import { getRaw } from '../../src/activities/node-probes.js';
import { runUpgradePod } from '../../src/activities/upgrade-pod.js';
import { ClusterRegistry } from '../../src/cluster-registry.js';
import { batchCancelIgnoredMessage } from '../../src/planning/batches.js';
import { ErrorType } from '../../src/planning/errors.js';
import {
  AGENT_MODE_LABEL,
  CORDONED_BY_ANNOTATION,
  CORDONED_BY_RUN_ANNOTATION,
  KEPT_REASON_ANNOTATION,
  MADE_BY_LABEL,
  NODE_EVENT_NAMESPACE,
  SIM_FAIL_UPGRADE_LABEL,
  SIM_KUBELET_HANGS_LABEL,
  SIM_OFFLINE_LABEL,
  SIM_UPGRADE_SECONDS_LABEL,
  TARGET_VERSION_LABEL,
  UPGRADE_NAMESPACE,
} from '../../src/planning/labels.js';
import { probePodName, upgradePodName } from '../../src/planning/names.js';
import { buildUpgradePod } from '../../src/planning/upgrade-pod.js';
import { nodeReady } from '../../src/planning/cluster.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/poll.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { k8sBinDir } from '../helpers/tools.js';

const START = 'v1.33.7';
const TARGET = 'v1.34.4';
const IMAGE = 'example.invalid/edge-upgrade-agent:test';

let cluster: TestCluster;
let proxy: TcpProxy;
/** Clients straight to the API server, and through the proxy. */
let direct: KubeClients;
let proxied: KubeClients;
/**
 * Through the proxy, giving up after 13 s instead of CORDON_RETRY_MS (45 s): the give-up test then waits
 * out a 16 s outage, not a 50 s one. With backoffs of 0.5, 1, 2, 4 and 5 s it gives up 12.5 s in.
 */
let proxiedShort: KubeClients;
const SHORT_RETRY_MS = 13_000;

beforeAll(async () => {
  // A grace period well past the tests' 15 s node timeouts: a hung kubelet's node must still look Ready (stale) when the check gives up.
  cluster = await startCluster({ nodeMonitorGracePeriodSeconds: 40, simulator: { leaseDurationSeconds: 8, upgradeSeconds: 1 } });
  await cluster.simulator.createCluster({ controlPlanes: 0, edgeWorkers: 8, version: START });
  await eventually('8 Ready nodes', async () => {
    const list = (await cluster.core.listNode()).items;
    return list.length === 8 && list.every(nodeReady);
  });
  proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(cluster.controlPlane.server).port) });
  const proxiedPath = join(cluster.controlPlane.dir, 'kubeconfig-proxied');
  writeFileSync(proxiedPath, readFileSync(cluster.controlPlane.kubeconfigPath, 'utf8').replace(cluster.controlPlane.server, proxy.url), {
    mode: 0o600,
  });
  const registry = new ClusterRegistry(
    new Map([
      ['direct', { id: 'direct', kubeconfig: cluster.controlPlane.kubeconfigPath }],
      ['proxied', { id: 'proxied', kubeconfig: proxiedPath }],
    ]),
  );
  direct = new KubeClients(registry);
  proxied = new KubeClients(registry);
  proxiedShort = new KubeClients(registry, undefined, { stepRetryMs: SHORT_RETRY_MS });
}, 180_000);

afterAll(async () => {
  await proxy?.stop();
  await cluster?.stop();
}, 60_000);

const step = (node: string, clusterId = 'direct'): NodeStepArgs => ({
  clusterId,
  targetVersion: TARGET,
  upgradeId: 'edge-upgrade-activity-faults',
  node,
  role: 'worker',
});
const kubectl = (...args: string[]) =>
  execFileSync(join(k8sBinDir(), 'kubectl'), ['--kubeconfig', cluster.controlPlane.kubeconfigPath, ...args], { encoding: 'utf8' });
const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected the step to fail, but it succeeded');
    },
    (e: unknown) => e as ApplicationFailure,
  );
const setLabel = (node: string, key: string, value: string | null) =>
  cluster.core.patchNode({ name: node, body: { metadata: { labels: { [key]: value } } } }, mergePatch);

function barePod(name: string, node: string, extra: { finalizers?: string[] } = {}): V1Pod {
  return {
    metadata: { name, namespace: 'default', ...(extra.finalizers ? { finalizers: extra.finalizers } : {}) },
    spec: { nodeName: node, terminationGracePeriodSeconds: 1, containers: [{ name: 'app', image: 'example.invalid/app:1' }] },
  };
}

async function runningPod(body: V1Pod): Promise<V1Pod> {
  await cluster.core.createNamespacedPod({ namespace: 'default', body });
  return eventually(`${body.metadata!.name} Running`, async () => {
    const p = await cluster.core.readNamespacedPod({ name: body.metadata!.name!, namespace: 'default' });
    return p.status?.phase === 'Running' ? p : undefined;
  });
}

test('requests to a cluster share keep-alive connections instead of one TLS connection each', async () => {
  // Fresh clients, so earlier tests' connections do not count.
  const clients = new KubeClients(
    new ClusterRegistry(new Map([['proxied', { id: 'proxied', kubeconfig: join(cluster.controlPlane.dir, 'kubeconfig-proxied') }]])),
  );
  const before = proxy.connections;
  for (let i = 0; i < 20; i++) await clients.for('proxied').core.readNode({ name: 'edge-001' });
  await Promise.all(Array.from({ length: 10 }, () => clients.for('proxied').core.readNode({ name: 'edge-002' })));
  // 30 requests: at most the 10 of the parallel burst need a connection of their own.
  expect(proxy.connections - before).toBeLessThanOrEqual(10);
});

test('an operator who uncordons a node we cordoned and cordons it again keeps their cordon', async () => {
  const args = step('edge-001');
  expect(await cordonNode(direct, args)).toEqual({ cordonedByUs: true });
  kubectl('uncordon', 'edge-001');
  kubectl('cordon', 'edge-001');
  expect(await uncordonNode(direct, args)).toEqual({ uncordoned: false });
  const node = await cluster.core.readNode({ name: 'edge-001' });
  expect(node.spec?.unschedulable).toBe(true);
  // Our stale record is gone, so a later cleanup will not touch it either.
  expect(node.metadata?.annotations?.[CORDONED_BY_ANNOTATION]).toBeUndefined();

  // Our own cordon, untouched by anyone, is lifted.
  kubectl('uncordon', 'edge-001');
  expect(await cordonNode(direct, args)).toEqual({ cordonedByUs: true });
  expect(await uncordonNode(direct, args)).toEqual({ uncordoned: true });
  expect((await cluster.core.readNode({ name: 'edge-001' })).spec?.unschedulable).toBeFalsy();
});

/** The API server's count of node PATCH requests it answered 409 Conflict (its /metrics). */
async function nodePatchConflicts(): Promise<number> {
  const text = await getRaw({ kc: cluster.kubeConfig, server: cluster.kubeConfig.getCurrentCluster()!.server }, '/metrics');
  return text
    .split('\n')
    .filter(
      (l) =>
        l.startsWith('apiserver_request_total{') &&
        /code="409"/.test(l) &&
        /resource="nodes"/.test(l) &&
        /verb="PATCH"/.test(l) &&
        /subresource=""/.test(l),
    )
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

test('cordon and uncordon ride out 409 conflicts from concurrent writers (re-read, re-apply)', async () => {
  let writing = true;
  let writes = 0;
  const conflictsBefore = await nodePatchConflicts();
  // Another controller keeps changing the node, so our conditional patches keep meeting a newer
  // resourceVersion. Every 20 ms, not flat out: a conflict needs only a write between our read and
  // our patch, and a writer flat out would spend the machine's CPU that the files beside this one need.
  const writer = (async () => {
    while (writing) {
      await setLabel('edge-002', 'example.com/churn', String(writes++));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    for (let i = 0; i < 5; i++) {
      expect(await cordonNode(direct, step('edge-002'))).toEqual({ cordonedByUs: true });
      expect(await uncordonNode(direct, step('edge-002'))).toEqual({ uncordoned: true });
    }
  } finally {
    writing = false;
    await writer;
  }
  // The API server itself answered some of our patches 409: the steps above rode out real conflicts.
  expect(await nodePatchConflicts()).toBeGreaterThan(conflictsBefore);
  expect((await cluster.core.readNode({ name: 'edge-002' })).metadata?.labels?.['example.com/churn']).toBe(String(writes - 1));
});

test('drain waits for a terminating pod, also on a retry, naming its finalizer; it proceeds once the finalizer is gone', async () => {
  await runningPod(barePod('blocked', 'edge-003', { finalizers: ['example.com/block'] }));
  const first = await failureOf(drainNode(direct, { ...step('edge-003'), drainTimeoutMs: 6_000 }));
  expect(first.type).toBe(ErrorType.NodeStepFailed);
  expect(first.message).toContain('drain of edge-003 timed out');
  expect(first.message).toContain('default/blocked (finalizers: example.com/block)');
  const pod = await cluster.core.readNamespacedPod({ name: 'blocked', namespace: 'default' });
  expect(pod.metadata?.deletionTimestamp).toBeDefined();

  // A retry (as after a worker crash) finds the pod terminating: it must wait for it again, not skip it.
  const retry = await failureOf(drainNode(direct, { ...step('edge-003'), drainTimeoutMs: 4_000 }));
  expect(retry.message).toContain('default/blocked (finalizers: example.com/block)');

  await cluster.core.patchNamespacedPod({ name: 'blocked', namespace: 'default', body: { metadata: { finalizers: null } } }, mergePatch);
  // The simulator may finalize the pod before this drain lists it: either way the drain now completes.
  await expect(drainNode(direct, { ...step('edge-003'), drainTimeoutMs: 30_000 })).resolves.toHaveProperty('evicted');
  await expect(cluster.core.readNamespacedPod({ name: 'blocked', namespace: 'default' })).rejects.toMatchObject({ code: 404 });
});

test('a node whose new kubelet posts Ready once and then hangs is not counted as upgraded', async () => {
  await setLabel('edge-004', SIM_KUBELET_HANGS_LABEL, 'true');
  try {
    const err = await failureOf(runUpgradePod(direct, IMAGE, { ...step('edge-004'), nodeTimeoutMs: 15_000 }));
    expect(err.type).toBe(ErrorType.NodeStepFailed);
    const stale = /but its kubelet has not reported since \(last heartbeat .*\): its Ready status is stale/;
    expect(err.message).toMatch(new RegExp(/Succeeded at .* and the node reports kubelet v1\.34\.4, /.source + stale.source));
  } finally {
    await setLabel('edge-004', SIM_KUBELET_HANGS_LABEL, null);
  }
  // A healthy node passes the same check within seconds.
  expect(await runUpgradePod(direct, IMAGE, { ...step('edge-005'), nodeTimeoutMs: 30_000 })).toEqual({
    pod: upgradePodName('edge-005', TARGET),
  });
}, 60_000);

test('an upgrade pod deleted by hand mid-upgrade is a node failure, never silently recreated', async () => {
  await setLabel('edge-006', SIM_UPGRADE_SECONDS_LABEL, '120');
  const name = upgradePodName('edge-006', TARGET);
  const running = failureOf(runUpgradePod(direct, IMAGE, { ...step('edge-006'), nodeTimeoutMs: 90_000 }));
  const pod = await eventually('the upgrade pod Running', async () => {
    const p = await cluster.core.readNamespacedPod({ name, namespace: UPGRADE_NAMESPACE }).catch(() => undefined);
    return p?.status?.phase === 'Running' ? p : undefined;
  });
  await cluster.core.deleteNamespacedPod({ name, namespace: UPGRADE_NAMESPACE, gracePeriodSeconds: 0 });
  const err = await running;
  expect(err.type).toBe(ErrorType.NodeStepFailed);
  expect(err.message).toContain(`upgrade pod ${UPGRADE_NAMESPACE}/${name} (uid ${pod.metadata?.uid}) was deleted while upgrading edge-006`);
  await new Promise((r) => setTimeout(r, 5_000));
  await expect(cluster.core.readNamespacedPod({ name, namespace: UPGRADE_NAMESPACE })).rejects.toMatchObject({ code: 404 });
  await setLabel('edge-006', SIM_UPGRADE_SECONDS_LABEL, null);
}, 60_000);

test('a cancel leaves a node whose upgrade pod is still running cordoned, with its pod, even when deleting records', async () => {
  // Its own upgrade and target, so its pods and records are apart from the other tests'.
  const ref = { clusterId: 'direct', upgradeId: 'edge-upgrade-cleanup-kept', targetVersion: 'v1.34.5' };
  const args = (node: string): NodeStepArgs => ({ ...ref, node, role: 'worker' });
  const [busy, done] = ['edge-001', 'edge-002'];
  await setLabel(busy, SIM_UPGRADE_SECONDS_LABEL, '15');
  try {
    for (const n of [busy, done]) expect(await cordonNode(direct, args(n))).toEqual({ cordonedByUs: true });
    expect(await runUpgradePod(direct, IMAGE, { ...args(done), nodeTimeoutMs: 30_000 })).toEqual({
      pod: upgradePodName(done, ref.targetVersion),
    });
    const upgrading = runUpgradePod(direct, IMAGE, { ...args(busy), nodeTimeoutMs: 60_000 });
    const busyPod = upgradePodName(busy, ref.targetVersion);
    await eventually('the upgrade pod Running', async () => {
      const p = await cluster.core.readNamespacedPod({ name: busyPod, namespace: UPGRADE_NAMESPACE }).catch(() => undefined);
      return p?.status?.phase === 'Running';
    });

    // The pause-timeout cancel: uncordon and delete the records, but not of the node still upgrading.
    const result = await cleanupUpgrade(direct, { ...ref, deleteRecords: true });
    expect(result).toMatchObject({ uncordoned: [done], deletedPods: 1 });
    expect(result.kept).toEqual([
      { node: busy, reason: `its upgrade pod ${UPGRADE_NAMESPACE}/${busyPod} has not finished (Running); the node may be half-upgraded` },
    ]);
    const node = await cluster.core.readNode({ name: busy });
    expect(node.spec?.unschedulable).toBe(true);
    expect(node.metadata?.annotations?.[CORDONED_BY_ANNOTATION]).toBe(ref.upgradeId);
    expect((await cluster.core.readNode({ name: done })).spec?.unschedulable).toBeFalsy();
    const left = (await cluster.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE, labelSelector: `${TARGET_VERSION_LABEL}=v1.34.5` }))
      .items;
    expect(left.map((p) => p.metadata?.name)).toEqual([busyPod]);
    const events = await cluster.core.listNamespacedEvent({
      namespace: NODE_EVENT_NAMESPACE,
      fieldSelector: `involvedObject.name=${busy}`,
    });
    const why = events.items.find((e) => e.reason === 'UpgradeCancelledNodeKept');
    expect(why).toMatchObject({ type: 'Warning' });
    expect(why?.message).toContain(`the upgrade was cancelled, but ${busy} stays cordoned: its upgrade pod`);

    // Once its pod has finished, a cleanup lifts the cordon.
    expect(await upgrading).toEqual({ pod: busyPod });
    expect(await cleanupUpgrade(direct, { ...ref, deleteRecords: false })).toMatchObject({ uncordoned: [busy], kept: [] });
    expect((await cluster.core.readNode({ name: busy })).spec?.unschedulable).toBeFalsy();
  } finally {
    await setLabel(busy, SIM_UPGRADE_SECONDS_LABEL, null);
  }
}, 120_000);

test('a batch child cancelled by hand: a Warning Event UpgradeBatchCancelIgnored on each of its nodes (#25)', async () => {
  const upgradeId = 'edge-upgrade-activity-faults';
  const workflowId = `${upgradeId}-batch-3-0a1b2c3d`;
  const nodes = ['edge-004', 'edge-005'];
  const at = new Date().toISOString();
  await recordBatchCancelIgnored(direct, { clusterId: 'direct', upgradeId, targetVersion: 'v1.34.6', nodes, workflowId, at });
  for (const node of nodes) {
    const events = await cluster.core.listNamespacedEvent({
      namespace: NODE_EVENT_NAMESPACE,
      fieldSelector: `involvedObject.name=${node}`,
    });
    const told = events.items.filter((e) => e.reason === 'UpgradeBatchCancelIgnored');
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Node', name: node } });
    expect(told[0]!.metadata?.labels?.[TARGET_VERSION_LABEL]).toBe('v1.34.6');
    expect(told[0]!.message).toBe(`edge-upgrade ${upgradeId}: ${batchCancelIgnoredMessage(workflowId, upgradeId)} (cancelled at ${at})`);
  }
});

test('deferred workers left out: ours uncordoned, a pod no kubelet took deleted, one whose pod runs kept with an Event (#25)', async () => {
  const ref = { clusterId: 'direct', upgradeId: 'edge-upgrade-deferred', targetVersion: 'v1.34.7' };
  const args = (node: string): NodeStepArgs => ({ ...ref, node, role: 'worker' });
  // edge-004: cordoned, then its kubelet stopped before taking its pod; edge-005: its pod runs; edge-006: cordoned, no pod.
  const [unstarted, busy, bare] = ['edge-004', 'edge-005', 'edge-006'];
  await setLabel(busy, SIM_UPGRADE_SECONDS_LABEL, '8');
  try {
    for (const n of [unstarted, busy, bare]) expect(await cordonNode(direct, args(n))).toEqual({ cordonedByUs: true });
    await setLabel(unstarted, SIM_OFFLINE_LABEL, 'true');
    await ensureUpgradeNamespace(direct.for('direct'));
    const pending = buildUpgradePod({ ...ref, node: unstarted, role: 'worker', image: IMAGE, nodeTimeoutMs: 60_000 });
    await cluster.core.createNamespacedPod({ namespace: UPGRADE_NAMESPACE, body: pending });
    const upgrading = runUpgradePod(direct, IMAGE, { ...args(busy), nodeTimeoutMs: 60_000 });
    const busyPod = upgradePodName(busy, ref.targetVersion);
    await eventually('the upgrade pod Running', async () => {
      const p = await cluster.core.readNamespacedPod({ name: busyPod, namespace: UPGRADE_NAMESPACE }).catch(() => undefined);
      return p?.status?.phase === 'Running';
    });
    expect((await cluster.core.readNamespacedPod({ name: pending.metadata!.name!, namespace: UPGRADE_NAMESPACE })).status?.phase).toBe(
      'Pending',
    );

    const released = await releaseExpiredDeferred(direct, { ...ref, nodes: [unstarted, busy, bare] });
    expect(released.uncordoned.sort()).toEqual([unstarted, bare]);
    expect(released.kept).toEqual([
      { node: busy, reason: expect.stringContaining(`its upgrade pod ${UPGRADE_NAMESPACE}/${busyPod} has not finished`) },
    ]);
    const nodes = new Map((await cluster.core.listNode()).items.map((n) => [n.metadata!.name!, n]));
    expect([unstarted, bare].map((n) => nodes.get(n)!.spec?.unschedulable ?? false)).toEqual([false, false]);
    expect(nodes.get(busy)!.spec?.unschedulable).toBe(true);
    const left = (await cluster.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE, labelSelector: `${TARGET_VERSION_LABEL}=v1.34.7` }))
      .items;
    expect(left.map((p) => p.metadata!.name)).toEqual([busyPod]);
    const events = await cluster.core.listNamespacedEvent({
      namespace: NODE_EVENT_NAMESPACE,
      fieldSelector: `involvedObject.name=${busy}`,
    });
    const why = events.items.find((e) => e.reason === 'UpgradeDeferredNodeKept');
    expect(why?.type).toBe('Warning');
    expect(why?.message).toContain(`${busy} was left out (offline past the defer timeout), but stays cordoned: its upgrade pod`);
    await upgrading;
  } finally {
    await setLabel(unstarted, SIM_OFFLINE_LABEL, null);
    await setLabel(busy, SIM_UPGRADE_SECONDS_LABEL, null);
    await uncordonNode(direct, args(busy));
  }
}, 120_000);

test("a cancel's cleanup deletes the upgrade's own probe pods, never those a precheck made for the same upgrade ID", async () => {
  const ref = { clusterId: 'direct', upgradeId: 'edge-upgrade-cleanup-probes', targetVersion: 'v1.34.6' };
  const precheckId = 'edge-upgrade-inspect-cleanup-probes-1765000000000';
  const probe = (madeBy: string) =>
    buildUpgradePod({ ...ref, node: 'edge-003', role: 'worker', image: IMAGE, nodeTimeoutMs: 60_000, mode: 'check', madeBy });
  await ensureUpgradeNamespace(direct.for('direct'));
  for (const madeBy of [ref.upgradeId, precheckId]) {
    // A namespace just created has no default ServiceAccount for a moment: admission refuses pods until it does.
    await eventually(`the probe pod made by ${madeBy}`, () =>
      cluster.core.createNamespacedPod({ namespace: UPGRADE_NAMESPACE, body: probe(madeBy) }).then(
        () => true,
        () => false,
      ),
    );
  }

  expect(await cleanupUpgrade(direct, { ...ref, deleteRecords: true })).toMatchObject({ deletedPods: 1 });
  const left = await cluster.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE, labelSelector: `${AGENT_MODE_LABEL}=check` });
  const live = left.items.filter((p) => !p.metadata?.deletionTimestamp);
  expect(live.map((p) => [p.metadata?.name, p.metadata?.labels?.[MADE_BY_LABEL]])).toEqual([
    [probePodName('edge-003', ref.targetVersion, precheckId), precheckId],
  ]);
  await cluster.core.deleteNamespacedPod({ name: live[0]!.metadata!.name!, namespace: UPGRADE_NAMESPACE, gracePeriodSeconds: 0 });
}, 60_000);

test('a cordon an earlier upgrade of one ID kept: a later cancel leaves it, the pre-check names it, the next takes it over', async () => {
  // Three upgrades of one cluster share the workflow ID; their run chains differ.
  const a = { clusterId: 'direct', upgradeId: 'edge-upgrade-chain', targetVersion: 'v1.34.8', runChain: 'run-a' };
  const b = { ...a, targetVersion: 'v1.34.9', runChain: 'run-b' };
  const c = { ...b, runChain: 'run-c' };
  const [kept, own] = ['edge-006', 'edge-003'];
  const aPod = `${UPGRADE_NAMESPACE}/${upgradePodName(kept, a.targetVersion)}`;
  const annotations = async () => (await cluster.core.readNode({ name: kept })).metadata?.annotations ?? {};
  await setLabel(kept, SIM_FAIL_UPGRADE_LABEL, 'true');
  await setLabel(kept, SIM_UPGRADE_SECONDS_LABEL, '6');
  try {
    // A: its upgrade pod on `kept` runs when A is cancelled, so the node stays cordoned, and the pod then fails.
    expect(await cordonNode(direct, { ...a, node: kept, role: 'worker' })).toEqual({ cordonedByUs: true });
    const failing = failureOf(runUpgradePod(direct, IMAGE, { ...a, node: kept, role: 'worker', nodeTimeoutMs: 60_000 }));
    await eventually('the upgrade pod Running', async () => {
      const p = await cluster.core.readNamespacedPod({ name: aPod.split('/')[1]!, namespace: UPGRADE_NAMESPACE }).catch(() => undefined);
      return p?.status?.phase === 'Running';
    });
    expect((await cleanupUpgrade(direct, { ...a, deleteRecords: false })).kept.map((k) => k.node)).toEqual([kept]);
    expect(await annotations()).toMatchObject({
      [CORDONED_BY_ANNOTATION]: a.upgradeId,
      [CORDONED_BY_RUN_ANNOTATION]: 'run-a',
      [KEPT_REASON_ANNOTATION]: `kept at the cancel: its upgrade pod ${aPod} has not finished (Running); the node may be half-upgraded`,
    });

    // B never reaches it: its pre-check names it and why, its cancel lifts only its own cordon.
    const items = await precheck(direct, b);
    const cordoned = items.find((i) => i.id === 'cordoned-nodes')!;
    expect(cordoned.result).toBe('warning');
    expect(cordoned.nodes).toContain(kept);
    expect(cordoned.message).toContain(`${kept} (run run-a (to v1.34.8): kept at the cancel: its upgrade pod ${aPod} has not finished`);
    // The `precheck` command knows no run chain: it names the node by the reason it was kept.
    expect((await precheck(direct, { ...b, runChain: undefined })).find((i) => i.id === 'cordoned-nodes')?.nodes).toContain(kept);
    expect(await cordonNode(direct, { ...b, node: own, role: 'worker' })).toEqual({ cordonedByUs: true });
    expect(await cleanupUpgrade(direct, { ...b, deleteRecords: true })).toMatchObject({ uncordoned: [own], kept: [] });
    expect((await cluster.core.readNode({ name: kept })).spec?.unschedulable).toBe(true);
    expect((await annotations())[CORDONED_BY_RUN_ANNOTATION]).toBe('run-a');

    // C reaches it while A's pod still runs: no second upgrade on the node; the step fails and says why.
    const refused = await failureOf(cordonNode(direct, { ...c, node: kept, role: 'worker' }));
    expect(refused.message).toContain(
      `is kept cordoned by an earlier upgrade (run run-a (to v1.34.8)), whose upgrade pod ${aPod} is still`,
    );
    expect((await failing).details?.[0]).toMatchObject({ step: 'upgrade-pod' });
    // Once it has ended, C takes the cordon over: A's pod goes, the reason stays until C has upgraded the node.
    await setLabel(kept, SIM_FAIL_UPGRADE_LABEL, null);
    expect(await cordonNode(direct, { ...c, node: kept, role: 'worker' })).toEqual({ cordonedByUs: true });
    expect(await annotations()).toMatchObject({ [CORDONED_BY_RUN_ANNOTATION]: 'run-c', [KEPT_REASON_ANNOTATION]: expect.any(String) });
    const events = await cluster.core.listNamespacedEvent({
      namespace: NODE_EVENT_NAMESPACE,
      fieldSelector: `involvedObject.name=${kept}`,
    });
    expect(events.items.find((e) => e.reason === 'UpgradeCordonTakenOver')?.message).toContain(
      `${kept} was kept cordoned by an earlier upgrade (run run-a (to v1.34.8)) (its pods ${aPod} were deleted): kept at the cancel`,
    );
    await expect(cluster.core.readNamespacedPod({ name: aPod.split('/')[1]!, namespace: UPGRADE_NAMESPACE })).rejects.toThrow();
    // A cancel of C before it upgraded the node keeps it cordoned; once C has upgraded it, it is uncordoned, record and all.
    expect((await cleanupUpgrade(direct, { ...c, deleteRecords: false })).kept).toEqual([
      { node: kept, reason: expect.stringContaining('it was kept cordoned before this upgrade took it over (kept at the cancel: ') },
    ]);
    await runUpgradePod(direct, IMAGE, { ...c, node: kept, role: 'worker', nodeTimeoutMs: 60_000 });
    expect(await uncordonNode(direct, { ...c, node: kept, role: 'worker' })).toEqual({ uncordoned: true });
    const after = await cluster.core.readNode({ name: kept });
    expect(after.spec?.unschedulable).toBeFalsy();
    expect(Object.keys(after.metadata?.annotations ?? {}).filter((k) => k.startsWith('edge-upgrade.io/'))).toEqual([]);
  } finally {
    await setLabel(kept, SIM_FAIL_UPGRADE_LABEL, null);
    await setLabel(kept, SIM_UPGRADE_SECONDS_LABEL, null);
    await cluster.core.patchNode({ name: kept, body: { spec: { unschedulable: null } } }, mergePatch);
  }
}, 120_000);

test('cordon, drain and the upgrade wait ride out a 20-30 s API server outage', async () => {
  const node = 'edge-007';
  await runningPod(barePod('evicted-in-outage', node));
  await setLabel(node, SIM_UPGRADE_SECONDS_LABEL, '6');

  await proxy.outage(20_000);
  const cordonStarted = Date.now();
  expect(await cordonNode(proxied, step(node, 'proxied'))).toEqual({ cordonedByUs: true });
  expect(Date.now() - cordonStarted).toBeGreaterThan(15_000);

  await proxy.outage(20_000);
  expect(await drainNode(proxied, { ...step(node, 'proxied'), drainTimeoutMs: 60_000 })).toEqual({ evicted: 1, owners: [] });

  const upgrade = runUpgradePod(proxied, IMAGE, { ...step(node, 'proxied'), nodeTimeoutMs: 120_000 });
  await eventually('the upgrade pod Running', async () => {
    const p = await cluster.core
      .readNamespacedPod({ name: upgradePodName(node, TARGET), namespace: UPGRADE_NAMESPACE })
      .catch(() => undefined);
    return p?.status?.phase === 'Running';
  });
  await proxy.outage(30_000);
  expect(await upgrade).toEqual({ pod: upgradePodName(node, TARGET) });
  expect(proxy.outages.at(-1)!.to).toBeDefined();
  const pods = (await cluster.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE })).items.filter((p) => p.spec?.nodeName === node);
  expect(pods).toHaveLength(1);
  expect(await uncordonNode(proxied, step(node, 'proxied'))).toEqual({ uncordoned: true });
}, 180_000);

test('a step that outlasts its retries says which API server was unreachable, for how long and why', async () => {
  await proxy.outage(16_000);
  const started = Date.now();
  const err = await failureOf(cordonNode(proxiedShort, step('edge-008', 'proxied')));
  // It kept trying for its budget, and gave up while the API server was still unreachable.
  expect(Date.now() - started).toBeGreaterThanOrEqual(SHORT_RETRY_MS - 5_000);
  expect(proxy.outages.at(-1)!.to).toBeUndefined();
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err.type).toBe(ErrorType.KubeApiUnavailable);
  expect(err.nonRetryable).toBe(false);
  expect(err.message).toMatch(new RegExp(`^API server ${proxy.url.replace(/[.]/g, '\\.')} unreachable for 1[0-3] s: connection refused$`));
  await proxy.restored();
}, 120_000);
