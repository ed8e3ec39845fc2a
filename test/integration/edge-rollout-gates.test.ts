/**
 * Acceptance on the real stack (#12): a health gate pauses the rollout naming the unready workload
 * and its node, and a flapping Ready condition holds the next batch until every check has held for
 * `stableFor`; failed workers are quarantined under a failure budget, and one over it pauses. Each
 * test upgrades the same 30-worker cluster to the next patch version, in batches of up to half the
 * workers (1, 2, 4, 8, 15) rather than the default 10 %, which would make eleven batches of waiting
 * that no assertion here needs. Offline workers are in edge-rollout-offline.test.ts.
 */
import { AppsV1Api } from '@kubernetes/client-node';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { getProgress, resumeUpgrade, startUpgrade, upgradeHandle } from '../../src/api.js';
import {
  QUARANTINED_LABEL,
  QUARANTINE_REASON_ANNOTATION,
  SIM_FAIL_UPGRADE_LABEL,
  SIM_READY_FLAP_LABEL,
  SIM_UNREADY_AFTER_UPGRADE_LABEL,
} from '../../src/planning/labels.js';
import { childrenIn, type HistoryEvent } from '../helpers/histories.js';
import { eventually } from '../helpers/poll.js';
import { NO_GATE } from '../helpers/requests.js';
import { deployment } from '../helpers/workloads.js';
import { CLUSTER_ID, nodes, podsOf, progressUntil, setNodeLabel, startHarness, upgradePods, type Harness } from './upgrade-harness.js';

let h: Harness;
const BATCH = { maxPercent: 50 };

beforeAll(async () => {
  h = await startHarness({ shape: { controlPlanes: 1, cloudWorkers: 0, edgeWorkers: 30 }, upgradeSeconds: 1 });
}, 180_000);

afterAll(async () => {
  await h?.stop();
}, 60_000);

test('health gate: Deployment pods unready after the upgrade pause it naming both; a flapping Ready delays the next batch', async () => {
  const TARGET = 'v1.34.7';
  const apps = h.cluster.kubeConfig.makeApiClient(AppsV1Api);
  await h.cluster.core.createNamespace({ body: { metadata: { name: 'shop' } } });
  const app = 'pos-api';
  await apps.createNamespacedDeployment({ namespace: 'shop', body: deployment(app, { node: 'edge-001', graceSeconds: 1 }) });
  await eventually(
    'pos-api available',
    async () => (await apps.readNamespacedDeployment({ name: app, namespace: 'shop' })).status?.availableReplicas === 1,
    60_000,
  );
  await setNodeLabel(h, 'edge-001', SIM_UNREADY_AFTER_UPGRADE_LABEL, 'true');
  await startUpgrade(h.env.client, {
    clusterId: CLUSTER_ID,
    targetVersion: TARGET,
    batch: BATCH,
    gate: { stableFor: '6s', timeout: '12s' },
  });

  const paused = await progressUntil(h, 'the gate pausing', (p) => p.state !== 'running', 300_000);
  expect(paused).toMatchObject({ state: 'paused', pause: { reason: 'error' }, lastError: { node: 'edge-001', step: 'health-gate' } });
  expect(paused.lastError!.message).toMatch(/workloads: .*Deployment shop\/pos-api.*edge-001/);
  expect(paused.workers).toMatchObject({ upgraded: 1, gate: { nodes: ['edge-001'] } });
  expect((await podsOf(h, TARGET)).has('edge-002')).toBe(false);

  // Fixed: the workloads recover; resume runs the gate again, then batch 2 (edge-002, edge-003).
  await setNodeLabel(h, 'edge-001', SIM_UNREADY_AFTER_UPGRADE_LABEL, null);
  await resumeUpgrade(h.env.client, CLUSTER_ID);
  await progressUntil(h, "batch 2's gate", (p) => p.workers.gate?.nodes.includes('edge-002') === true, 120_000, CLUSTER_ID);
  // edge-002's Ready flaps (2 s up, 2 s down) during the gate: it cannot hold 6 s (the flap starts within ~3 s).
  await setNodeLabel(h, 'edge-002', SIM_READY_FLAP_LABEL, '2');
  await new Promise((r) => setTimeout(r, 8_000));
  const flapping = await getProgress(h.env.client, CLUSTER_ID);
  expect(flapping.workers.batch!.number).toBe(2);
  expect(flapping.workers.gate!.checks.find((c) => c.name === 'nodes')).toBeDefined();
  await setNodeLabel(h, 'edge-002', SIM_READY_FLAP_LABEL, null);
  const done = await progressUntil(h, 'the end', (p) => p.state !== 'running', 300_000);
  // lastError keeps the gate's error as the record of the last failure.
  expect(done).toMatchObject({ state: 'succeeded', workers: { upgraded: 30, gate: null } });

  // From the history: batch 2's gate saw edge-002 flap, and batch 3 started only once every check had held stableFor since.
  const { evaluations, scheduled } = await gateHistory();
  const batch2 = evaluations.filter((e) => e.nodes.includes('edge-002'));
  const failing = batch2.filter((e) => e.failing.some((m) => m.includes('edge-002')));
  expect(failing.length).toBeGreaterThanOrEqual(1);
  const batch3 = scheduled('cordonNode', 'edge-004');
  expect(batch3 - failing.at(-1)!.at).toBeGreaterThanOrEqual(5_900);
  await apps.deleteNamespacedDeployment({ name: app, namespace: 'shop' });
}, 900_000);

/** The run's health-gate evaluations (when each completed, its nodes, its failing checks' messages) and when a node step was scheduled. */
async function gateHistory(): Promise<{
  evaluations: Array<{ at: number; nodes: string[]; failing: string[] }>;
  scheduled: (activity: string, node: string) => number;
}> {
  const events = (await upgradeHandle(h.env.client, CLUSTER_ID).fetchHistory()).events ?? [];
  const ms = (e: (typeof events)[number]) => Number(String(e.eventTime!.seconds)) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
  const decode = <T>(payloads: unknown): T => defaultPayloadConverter.fromPayload<T>((payloads as Payload[])[0]!);
  const byId = new Map(events.map((e) => [String(e.eventId), e]));
  const evaluations = events.flatMap((e) => {
    const done = e.activityTaskCompletedEventAttributes;
    const sched = done && byId.get(String(done.scheduledEventId))?.activityTaskScheduledEventAttributes;
    if (!done || sched?.activityType?.name !== 'evaluateHealth') return [];
    const args = decode<{ nodes: string[] }>(sched.input?.payloads);
    const checks = decode<Array<{ ok: boolean; message: string }>>(done.result?.payloads);
    return [{ at: ms(e), nodes: args.nodes, failing: checks.filter((c) => !c.ok).map((c) => c.message) }];
  });
  // The worker batches' node steps are in their child workflows' histories.
  const childEvents: HistoryEvent[] = [];
  for (const child of childrenIn(events))
    childEvents.push(...((await h.env.client.workflow.getHandle(child.workflowId, child.runId).fetchHistory()).events ?? []));
  const scheduled = (activity: string, node: string) => {
    const e = [...events, ...childEvents].find((x) => {
      const a = x.activityTaskScheduledEventAttributes;
      return a?.activityType?.name === activity && decode<{ node: string }>(a.input?.payloads).node === node;
    });
    return ms(e!);
  };
  return { evaluations, scheduled };
}

test('10% of 30 workers: two failures are quarantined (cordoned, labelled, pods kept), it completes; a third pauses', async () => {
  const TARGET = 'v1.34.8';
  // 31 nodes, 30 workers: 10% is 3; two failures are within it.
  for (const n of ['edge-004', 'edge-017']) await setNodeLabel(h, n, SIM_FAIL_UPGRADE_LABEL, 'true');
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, batch: BATCH, targetVersion: TARGET, maxFailures: '10%' });
  const done = await progressUntil(h, 'the end', (p) => p.state !== 'running', 300_000);
  expect(done).toMatchObject({ state: 'succeeded', partial: true, workers: { upgraded: 28 } });
  expect(done.workers.quarantined!.map((q) => q.node).sort()).toEqual(['edge-004', 'edge-017']);
  const all = await nodes(h);
  for (const n of ['edge-004', 'edge-017']) {
    const node = all.get(n)!;
    expect(node.spec?.unschedulable).toBe(true);
    expect(node.metadata?.labels?.[QUARANTINED_LABEL]).toBeDefined();
    expect(node.metadata?.annotations?.[QUARANTINE_REASON_ANNOTATION]).toMatch(/upgrade pod .* failed/);
  }
  const pods = await podsOf(h, TARGET);
  expect(pods.get('edge-004')).toBe('Failed');
  expect(pods.get('edge-017')).toBe('Failed');

  // The next upgrade: a budget of 2 with the same two failing nodes plus a third. As the pre-check
  // asks, the operator looks at the failed pods and deletes them first.
  for (const pod of (await upgradePods(h)).filter((p) => p.status?.phase === 'Failed')) {
    await h.cluster.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, gracePeriodSeconds: 0 });
  }
  const NEXT = 'v1.34.9';
  await setNodeLabel(h, 'edge-020', SIM_FAIL_UPGRADE_LABEL, 'true');
  await startUpgrade(h.env.client, {
    clusterId: CLUSTER_ID,
    gate: NO_GATE,
    batch: BATCH,
    targetVersion: NEXT,
    maxFailures: 2,
    acceptWarnings: true,
  });
  const paused = await progressUntil(h, 'a pause over the budget', (p) => p.state !== 'running', 300_000);
  expect(paused).toMatchObject({ state: 'paused', pause: { reason: 'error' } });
  // edge-017 and edge-020 fail in the same batch: the message lists the three in the order they were quarantined.
  expect(paused.lastError!.message).toMatch(/^3 workers failed, over the failure budget of 2: /);
  for (const n of ['edge-004', 'edge-017', 'edge-020']) expect(paused.lastError!.message).toContain(`${n} (upgrade-pod)`);
}, 900_000);
