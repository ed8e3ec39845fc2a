/**
 * Acceptance: what an operator sees when things go wrong, on one control plane with 3 masters and
 * 20 workers, scenario after scenario (each later one upgrades to the next patch version):
 * an offline node stops the pre-check; a failing node auto-pauses with its log, and resume
 * retries it; cancel restores cordons but never someone else's; the pause timeout cancels and
 * deletes this upgrade's records; a cancel after a node failed leaves that node cordoned, with its pod.
 * Scenarios that only need their node reached go in batches of up to half the workers (1, 2, 4, 8, 5),
 * not ten batches of the default 10 %.
 */
import type { V1Node } from '@kubernetes/client-node';
import { cancelUpgrade, getProgress, pauseUpgrade, resumeUpgrade, startUpgrade } from '../../src/api.js';
import { mergePatch } from '../../src/kube/clients.js';
import { nodeReady } from '../../src/planning/cluster.js';
import {
  CORDONED_BY_ANNOTATION,
  NODE_EVENT_NAMESPACE,
  SIM_FAIL_UPGRADE_LABEL,
  SIM_KUBELET_DOWN_LABEL,
  SIM_OFFLINE_LABEL,
  SIM_UPGRADE_SECONDS_LABEL,
  TARGET_VERSION_LABEL,
  UPGRADE_NAMESPACE,
} from '../../src/planning/labels.js';
import { upgradePodName } from '../../src/planning/names.js';
import { workflowIdFor } from '../../src/workflows/definitions.js';
import { eventually } from '../helpers/poll.js';
import {
  CLUSTER_ID,
  START,
  cordonedByUs,
  nodes,
  operatorCordon,
  ourEvents,
  podsOf,
  progressUntil,
  setNodeLabel,
  OFFLINE_LEASE_SECONDS,
  startHarness,
  upgradePods,
  waitOnline,
  type Harness,
} from './upgrade-harness.js';
import { NO_GATE } from '../helpers/requests.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ simulator: { leaseDurationSeconds: OFFLINE_LEASE_SECONDS } });
}, 180_000);

afterAll(async () => {
  await h?.stop();
}, 60_000);

const ready = (n: V1Node | undefined) => (n ? nodeReady(n) : false);
const BATCH = { maxPercent: 50 };

test('an offline edge node fails the pre-check, naming it, and no node is touched', async () => {
  await setNodeLabel(h, 'edge-007', SIM_OFFLINE_LABEL, 'true');
  await eventually('edge-007 NotReady', async () => !ready((await nodes(h)).get('edge-007')), 90_000, 1000);
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: 'v1.34.4' });
  const p = await progressUntil(h, 'the pre-check to fail', (x) => x.state !== 'running', 60_000);
  expect(p.state).toBe('failed');
  expect(p.precheck.status).toBe('failed');
  const item = p.precheck.items.find((i) => i.id === 'nodes-ready')!;
  expect(item.result).toBe('error');
  expect(item.nodes).toEqual(['edge-007']);
  expect(item.message).toContain('edge-007');
  const all = await nodes(h);
  expect([...all.values()].filter((n) => n.spec?.unschedulable).map((n) => n.metadata?.name)).toEqual([]);
  expect(await upgradePods(h)).toEqual([]);
  expect([...all.values()].every((n) => n.status?.nodeInfo?.kubeletVersion === START)).toBe(true);

  await setNodeLabel(h, 'edge-007', SIM_OFFLINE_LABEL, null);
  await waitOnline(h, ['edge-007']);
}, 180_000);

test('a failing upgrade auto-pauses with the pod log; after a fix, resume deletes the failed pod and completes', async () => {
  const TARGET = 'v1.34.4';
  // cloud-001 is the first worker: the failure comes early.
  await setNodeLabel(h, 'cloud-001', SIM_FAIL_UPGRADE_LABEL, 'true');
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, batch: BATCH, targetVersion: TARGET });
  const paused = await progressUntil(h, 'an auto-pause', (p) => p.state !== 'running');
  expect(paused).toMatchObject({ state: 'paused', pause: { reason: 'error' }, lastError: { node: 'cloud-001', step: 'upgrade-pod' } });
  expect(paused.lastError?.message).toContain('error: kubeadm upgrade failed on cloud-001');
  expect(paused.lastError?.logTail).toContain('error: kubeadm upgrade failed on cloud-001');
  const podName = upgradePodName('cloud-001', TARGET);
  const failedPod = await h.cluster.core.readNamespacedPod({ name: podName, namespace: UPGRADE_NAMESPACE });
  expect(failedPod.status?.phase).toBe('Failed');
  // The half-upgraded node stays cordoned while paused.
  expect((await nodes(h)).get('cloud-001')?.spec?.unschedulable).toBe(true);

  await setNodeLabel(h, 'cloud-001', SIM_FAIL_UPGRADE_LABEL, null);
  await resumeUpgrade(h.env.client, CLUSTER_ID);
  const done = await progressUntil(h, 'the upgrade to finish', (p) => p.state !== 'running' && p.state !== 'paused', 300_000);
  expect(done.state).toBe('succeeded');
  const pods = await upgradePods(h);
  expect(pods.filter((p) => p.status?.phase === 'Failed')).toEqual([]);
  const retried = pods.find((p) => p.metadata?.name === podName)!;
  expect(retried.metadata?.uid).not.toBe(failedPod.metadata?.uid);
  expect(retried.status?.phase).toBe('Succeeded');
  expect(pods).toHaveLength(23);
  const all = await nodes(h);
  expect([...all.values()].every((n) => n.status?.nodeInfo?.kubeletVersion === TARGET && !n.spec?.unschedulable)).toBe(true);
}, 360_000);

test('cancel after a pause: unstarted nodes keep their version, stay schedulable; a node cordoned by someone else stays so', async () => {
  const TARGET = 'v1.34.5';
  await operatorCordon(h, 'edge-018');
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: TARGET, acceptWarnings: true });
  await progressUntil(h, 'two workers upgraded', (p) => p.workers.upgraded >= 2 || p.state !== 'running');
  await pauseUpgrade(h.env.client, CLUSTER_ID, 'maintenance over');
  const paused = await progressUntil(h, 'paused with nothing in flight', (p) => p.state === 'paused');
  expect(paused.precheck.items.find((i) => i.id === 'cordoned-nodes')).toMatchObject({ result: 'warning', nodes: ['edge-018'] });
  await cancelUpgrade(h.env.client, CLUSTER_ID);
  const cancelled = await progressUntil(h, 'cancelled', (p) => p.state === 'cancelled');
  expect(cancelled.cancelReason).toBe('user');

  const all = await nodes(h);
  const upgraded = [...all.values()].filter((n) => n.status?.nodeInfo?.kubeletVersion === TARGET).map((n) => n.metadata!.name!);
  const untouched = [...all.values()].filter((n) => n.status?.nodeInfo?.kubeletVersion !== TARGET).map((n) => n.metadata!.name!);
  expect(upgraded.length).toBe(3 + cancelled.workers.upgraded);
  expect(untouched.length).toBe(20 - cancelled.workers.upgraded);
  expect(untouched.length).toBeGreaterThan(10);
  expect(cordonedByUs(all)).toEqual([]);
  for (const n of all.values()) {
    expect([n.metadata?.name, n.spec?.unschedulable ?? false]).toEqual([n.metadata?.name, n.metadata?.name === 'edge-018']);
  }
  // No upgrade pod was made for the nodes that were not started.
  const pods = (await upgradePods(h)).filter((p) => p.metadata?.labels?.[TARGET_VERSION_LABEL] === TARGET);
  expect(pods.map((p) => p.spec?.nodeName).sort()).toEqual([...upgraded].sort());
}, 300_000);

test('a pause past pauseTimeout cancels automatically and deletes the upgrade pods and Events it wrote', async () => {
  const TARGET = 'v1.34.6';
  await startUpgrade(h.env.client, {
    clusterId: CLUSTER_ID,
    gate: NO_GATE,
    targetVersion: TARGET,
    acceptWarnings: true,
    pauseTimeout: '4s',
  });
  await progressUntil(h, 'a master upgraded', (p) => p.masters.upgraded >= 1 || p.state !== 'running');
  await pauseUpgrade(h.env.client, CLUSTER_ID);
  const paused = await progressUntil(h, 'paused', (p) => p.state === 'paused');
  expect(paused.pause?.autoCancelAt).not.toBeNull();
  const before = await ourEvents(h, NODE_EVENT_NAMESPACE, `,${TARGET_VERSION_LABEL}=${TARGET}`);
  expect(before.length).toBeGreaterThan(0);
  const cancelled = await progressUntil(h, 'auto-cancelled', (p) => p.state === 'cancelled', 60_000);
  expect(cancelled.cancelReason).toBe('pause-timeout');
  const pods = await upgradePods(h);
  expect(pods.filter((p) => p.metadata?.labels?.[TARGET_VERSION_LABEL] === TARGET)).toEqual([]);
  expect(await ourEvents(h, UPGRADE_NAMESPACE, `,${TARGET_VERSION_LABEL}=${TARGET}`)).toEqual([]);
  expect(await ourEvents(h, NODE_EVENT_NAMESPACE, `,${TARGET_VERSION_LABEL}=${TARGET}`)).toEqual([]);
  // Earlier upgrades' records stay: they are not this upgrade's to delete.
  expect(pods.some((p) => p.metadata?.labels?.[TARGET_VERSION_LABEL] === 'v1.34.4')).toBe(true);
  expect(cordonedByUs(await nodes(h))).toEqual([]);
}, 180_000);

/** What the last run's `cleanupUpgrade` activity returned, read from the workflow's history. */
async function cleanupResult(): Promise<unknown> {
  const history = await h.env.client.workflow.getHandle(workflowIdFor(CLUSTER_ID)).fetchHistory();
  const events = history.events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'cleanupUpgrade');
  const completed = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled?.eventId));
  const data = completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
  return data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
}

test('cancel after a node failed: that node stays cordoned with its failed pod, every other node is schedulable', async () => {
  const TARGET = 'v1.34.7';
  const FAILING = 'cloud-002'; // in the second batch, next to a node that succeeds
  // Lift the operator's cordon of an earlier scenario, so that only what this upgrade leaves is cordoned.
  await h.cluster.core.patchNode({ name: 'edge-018', body: { spec: { unschedulable: false } } }, mergePatch);
  await setNodeLabel(h, FAILING, SIM_FAIL_UPGRADE_LABEL, 'true');
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: TARGET, acceptWarnings: true });
  const paused = await progressUntil(h, 'an auto-pause', (p) => p.state !== 'running');
  expect(paused).toMatchObject({ state: 'paused', pause: { reason: 'error' }, lastError: { node: FAILING, step: 'upgrade-pod' } });
  expect(paused.workers.upgraded).toBeGreaterThanOrEqual(1);
  await cancelUpgrade(h.env.client, CLUSTER_ID);
  const cancelled = await progressUntil(h, 'cancelled', (p) => p.state === 'cancelled');
  expect(cancelled.cancelReason).toBe('user');

  // The half-upgraded node stays cordoned (with our record on it); every other node is schedulable.
  const all = await nodes(h);
  for (const n of all.values()) {
    expect([n.metadata?.name, n.spec?.unschedulable ?? false]).toEqual([n.metadata?.name, n.metadata?.name === FAILING]);
  }
  expect(cordonedByUs(all)).toEqual([FAILING]);
  // Its failed pod is the evidence: it stays.
  const pod = await h.cluster.core.readNamespacedPod({ name: upgradePodName(FAILING, TARGET), namespace: UPGRADE_NAMESPACE });
  expect(pod.status?.phase).toBe('Failed');
  // An Event on the node says why, and the activity's result names it.
  const reason = `its upgrade pod ${UPGRADE_NAMESPACE}/${upgradePodName(FAILING, TARGET)} failed; the node may be half-upgraded`;
  const events = await ourEvents(h, NODE_EVENT_NAMESPACE, `,${TARGET_VERSION_LABEL}=${TARGET}`);
  const why = events.find((e) => e.reason === 'UpgradeCancelledNodeKept' && e.involvedObject.name === FAILING);
  expect(why?.type).toBe('Warning');
  expect(why?.message).toContain(`${FAILING} stays cordoned: ${reason}`);
  expect(await cleanupResult()).toMatchObject({ kept: [{ node: FAILING, reason }] });
}, 300_000);

test('cancel after a node whose pod Succeeded never became Ready at the target: it stays cordoned like a failed one (#25)', async () => {
  const TARGET = 'v1.34.8';
  const DOWN = 'edge-012';
  // The operator's repair of the scenario before: cloud-002 fixed, uncordoned, its failed pod deleted.
  await setNodeLabel(h, 'cloud-002', SIM_FAIL_UPGRADE_LABEL, null);
  const repaired = { metadata: { annotations: { [CORDONED_BY_ANNOTATION]: null } }, spec: { unschedulable: false } };
  await h.cluster.core.patchNode({ name: 'cloud-002', body: repaired }, mergePatch);
  for (const p of (await upgradePods(h)).filter((x) => x.status?.phase === 'Failed'))
    await h.cluster.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: UPGRADE_NAMESPACE, gracePeriodSeconds: 0 });
  const before = (await nodes(h)).get(DOWN)!.status!.nodeInfo!.kubeletVersion;
  await setNodeLabel(h, DOWN, SIM_KUBELET_DOWN_LABEL, 'true');
  await startUpgrade(h.env.client, {
    clusterId: CLUSTER_ID,
    gate: NO_GATE,
    targetVersion: TARGET,
    acceptWarnings: true,
    batch: BATCH,
    nodeTimeout: '30s',
  });
  const paused = await progressUntil(h, 'an auto-pause', (p) => p.state !== 'running', 240_000);
  expect(paused).toMatchObject({ state: 'paused', pause: { reason: 'error' }, lastError: { node: DOWN } });
  const pod = await h.cluster.core.readNamespacedPod({ name: upgradePodName(DOWN, TARGET), namespace: UPGRADE_NAMESPACE });
  expect(pod.status?.phase).toBe('Succeeded');
  await cancelUpgrade(h.env.client, CLUSTER_ID);
  const cancelled = await progressUntil(h, 'cancelled', (p) => p.state === 'cancelled');

  // Not Ready at the target, whatever its pod said: it stays cordoned, with the same Event and lastError as a failed node.
  const all = await nodes(h);
  expect(all.get(DOWN)?.spec?.unschedulable).toBe(true);
  expect(cordonedByUs(all)).toEqual([DOWN]);
  const podRef = `${UPGRADE_NAMESPACE}/${upgradePodName(DOWN, TARGET)}`;
  const reason = `its upgrade pod ${podRef} succeeded, but its kubelet is ${before}, not ${TARGET}`;
  const events = await ourEvents(h, NODE_EVENT_NAMESPACE, `,${TARGET_VERSION_LABEL}=${TARGET}`);
  const why = events.find((e) => e.reason === 'UpgradeCancelledNodeKept' && e.involvedObject.name === DOWN);
  expect(why?.type).toBe('Warning');
  expect(why?.message).toContain(`${DOWN} stays cordoned: ${reason}`);
  expect(cancelled.lastError).toMatchObject({ node: DOWN, step: 'cleanup' });
  expect(cancelled.lastError!.message).toContain(reason);
  await setNodeLabel(h, DOWN, SIM_KUBELET_DOWN_LABEL, null);
}, 360_000);

test('a kubelet that stops while its upgrade pod runs fails the step promptly with step offline, not after nodeTimeout (#25)', async () => {
  const TARGET = 'v1.34.9';
  const GONE = 'edge-015';
  // edge-012's kubelet came back at the end of the scenario before: wait for every node to be Ready again.
  await eventually('every node Ready', async () => [...(await nodes(h)).values()].every((n) => ready(n)), 90_000, 1000);
  // Its upgrade takes a while, so the kubelet can stop in the middle of it.
  await setNodeLabel(h, GONE, SIM_UPGRADE_SECONDS_LABEL, '600');
  await startUpgrade(h.env.client, {
    clusterId: CLUSTER_ID,
    gate: NO_GATE,
    targetVersion: TARGET,
    acceptWarnings: true,
    batch: BATCH,
    nodeTimeout: '10m',
  });
  await eventually('its upgrade pod Running', async () => (await podsOf(h, TARGET)).get(GONE) === 'Running', 240_000, 500);
  // The scenario before kept edge-012 cordoned under the same workflow ID: this upgrade's pre-check names it and why.
  const cordoned = (await getProgress(h.env.client, CLUSTER_ID)).precheck.items.find((i) => i.id === 'cordoned-nodes');
  expect(cordoned).toMatchObject({ result: 'warning', nodes: ['edge-012'] });
  expect(cordoned!.message).toContain('(to v1.34.8): kept at the cancel: its upgrade pod kube-upgrade/upgrade-edge-012-v1-34-8 succeeded');
  await setNodeLabel(h, GONE, SIM_OFFLINE_LABEL, 'true');
  // Old code waited the whole nodeTimeout (10 min) here, then failed with step 'wait'.
  const paused = await progressUntil(h, 'a pause naming the offline node', (p) => p.state !== 'running', 150_000);
  expect(paused).toMatchObject({ state: 'paused', pause: { reason: 'error' }, lastError: { node: GONE, step: 'offline' } });
  expect(paused.lastError!.message).toMatch(new RegExp(`^${GONE} went offline \\(.*\\) before its upgrade pod ${UPGRADE_NAMESPACE}/`));
  // The pod stays for the node's return; a cancel keeps the node cordoned (its pod has not finished).
  expect((await podsOf(h, TARGET)).get(GONE)).toBe('Running');
  await cancelUpgrade(h.env.client, CLUSTER_ID);
  await progressUntil(h, 'cancelled', (p) => p.state === 'cancelled');
  const after = await nodes(h);
  expect(cordonedByUs(after)).toContain(GONE);
  // edge-012 is never made schedulable unless this upgrade took it over and upgraded it.
  const kept = after.get('edge-012')!;
  if (kept.status?.nodeInfo?.kubeletVersion !== TARGET) expect(kept.spec?.unschedulable).toBe(true);
  await setNodeLabel(h, GONE, SIM_OFFLINE_LABEL, null);
  await setNodeLabel(h, GONE, SIM_UPGRADE_SECONDS_LABEL, null);
}, 420_000);
