/**
 * Acceptance on the real stack (#12): edge workers that go offline (the simulator stops their
 * kubelet: no Lease renewals, no status, NotReady after the controller's grace period) are refused
 * untouched by default, or deferred and upgraded once back; failed workers are quarantined under a
 * failure budget. Each test upgrades the same cluster to the next patch version.
 */
import { AppsV1Api } from '@kubernetes/client-node';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { getProgress, resumeUpgrade, startUpgrade, upgradeHandle } from '../../src/api.js';
import { upgradePodName } from '../../src/planning/names.js';
import {
  QUARANTINED_LABEL,
  QUARANTINE_REASON_ANNOTATION,
  SIM_FAIL_UPGRADE_LABEL,
  SIM_OFFLINE_LABEL,
  SIM_READY_FLAP_LABEL,
  SIM_UNREADY_AFTER_UPGRADE_LABEL,
} from '../../src/planning/labels.js';
import { nodeReady } from '../../src/planning/cluster.js';
import { runCli } from '../helpers/cli.js';
import { childrenIn, type HistoryEvent } from '../helpers/histories.js';
import { eventually } from '../helpers/poll.js';
import { NO_GATE } from '../helpers/requests.js';
import {
  CLUSTER_ID,
  cordonedByUs,
  nodes,
  progressUntil,
  setNodeLabel,
  startHarness,
  upgradePods,
  type Harness,
} from './upgrade-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ shape: { controlPlanes: 1, cloudWorkers: 0, edgeWorkers: 30 }, upgradeSeconds: 1 });
}, 180_000);

afterAll(async () => {
  await h?.stop();
}, 60_000);

const offline = (node: string) => setNodeLabel(h, node, SIM_OFFLINE_LABEL, 'true');
const online = (node: string) => setNodeLabel(h, node, SIM_OFFLINE_LABEL, null);
const waitReady = (names: string[]) =>
  eventually(`${names.join(', ')} Ready`, async () => {
    const all = await nodes(h);
    return names.every((n) => nodeReady(all.get(n)!));
  });
/** Upgrade pods of `target`, by node. */
async function podsOf(target: string): Promise<Map<string, string>> {
  return new Map(
    (await upgradePods(h))
      .filter((p) => p.metadata!.name === upgradePodName(p.spec!.nodeName!, target))
      .map((p) => [p.spec!.nodeName!, p.status?.phase ?? '']),
  );
}

test('without deferral, a worker offline at its turn is not touched: pause at once; back and resumed, it goes first', async () => {
  const TARGET = 'v1.34.4';
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: TARGET });
  await progressUntil(h, 'the master upgrading', (p) => p.masters.current !== null, 60_000);
  // A worker of the fifth batch (1, 2, 3, 3, 3 of 30): its turn comes after four batches of at least
  // 3 s each (a 1 s upgrade pod, then the kubelet's 2 s restart), so its 8 s Lease (renewed every 2 s)
  // has run out by then however fast the machine is. A node of the third batch was once reached in CI
  // while its Lease was still fresh, so it was cordoned and given a pod its stopped kubelet never ran.
  await offline('edge-012');

  const paused = await progressUntil(h, 'a pause', (p) => p.state !== 'running', 240_000);
  expect(paused).toMatchObject({ state: 'paused', pause: { reason: 'error' }, lastError: { node: 'edge-012', step: 'offline' } });
  expect(paused.lastError!.message).toMatch(/edge-012 is offline: .*nothing was changed on it/);
  const all = await nodes(h);
  expect(all.get('edge-012')!.spec?.unschedulable).toBeFalsy();
  expect(cordonedByUs(all)).toEqual([]);
  expect((await podsOf(TARGET)).has('edge-012')).toBe(false);
  const before = paused.workers.upgraded;

  await online('edge-012');
  await waitReady(['edge-012']);
  await resumeUpgrade(h.env.client, CLUSTER_ID);
  await progressUntil(h, 'edge-012 upgraded first', (p) => p.workers.upgraded > before, 60_000);
  expect((await podsOf(TARGET)).get('edge-012')).toBe('Succeeded');
  const done = await progressUntil(h, 'the end', (p) => p.state !== 'running', 240_000);
  expect(done).toMatchObject({ state: 'succeeded', workers: { total: 30, upgraded: 30 } });
  expect((await podsOf(TARGET)).size).toBe(31);
}, 600_000);

test('offline defer: 3 workers offline before their batch wait, the other 27 finish without a pause, the 3 follow', async () => {
  const TARGET = 'v1.34.5';
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: TARGET, offline: 'defer' });
  await progressUntil(h, 'the master upgrading', (p) => p.masters.current !== null, 60_000);
  const gone = ['edge-028', 'edge-029', 'edge-030'];
  for (const n of gone) await offline(n);

  const waiting = await progressUntil(h, 'waiting for deferred workers', (p) => p.workers.waiting === 'deferred' || p.state !== 'running');
  expect(waiting).toMatchObject({ state: 'running', phase: 'workers', pause: null, workers: { upgraded: 27 } });
  expect(waiting.workers.deferred!.map((d) => d.node).sort()).toEqual(gone);
  const pods = await podsOf(TARGET);
  for (const n of gone) expect(pods.has(n)).toBe(false);
  expect(cordonedByUs(await nodes(h))).toEqual([]);

  for (const n of gone) await online(n);
  const done = await progressUntil(h, 'the end', (p) => p.state !== 'running', 240_000);
  expect(done).toMatchObject({ state: 'succeeded', workers: { upgraded: 30, deferred: [] } });
  expect(done.partial).toBeUndefined();
  const after = await podsOf(TARGET);
  expect(after.size).toBe(31);
  for (const n of gone) expect(after.get(n)).toBe('Succeeded');
  await eventually(
    'the workflow closed',
    async () => (await upgradeHandle(h.env.client, CLUSTER_ID).describe()).status.name === 'COMPLETED',
  );
}, 600_000);

test('a worker offline past --defer-timeout is left out: the CLI exits 1 naming it', async () => {
  const TARGET = 'v1.34.6';
  await offline('edge-015');
  await eventually('edge-015 NotReady', async () => !nodeReady((await nodes(h)).get('edge-015')!), 60_000);
  const r = await runCli(
    ['start', '--cluster', CLUSTER_ID, '--to', TARGET, '--defer-offline', '--defer-timeout', '20s', '--gate-stable-for', '0', '--wait'],
    { TEMPORAL_ADDRESS: h.env.address },
    400_000,
  );
  // stderr too, so a failure shows what the CLI said.
  expect(`${r.stdout}\n${r.stderr}`).toMatch(/succeeded partially: 1 deferred \(edge-015\) not at v1\.34\.6/);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/Deferred \(left out: offline past the defer timeout\): edge-015/);
  expect((await podsOf(TARGET)).has('edge-015')).toBe(false);
  await online('edge-015');
  await waitReady(['edge-015']);
}, 600_000);

test('health gate: Deployment pods unready after the upgrade pause it naming both; a flapping Ready delays the next batch', async () => {
  const TARGET = 'v1.34.7';
  const apps = h.cluster.kubeConfig.makeApiClient(AppsV1Api);
  await h.cluster.core.createNamespace({ body: { metadata: { name: 'shop' } } });
  const app = 'pos-api';
  await apps.createNamespacedDeployment({
    namespace: 'shop',
    body: {
      metadata: { name: app },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app } },
        template: {
          metadata: { labels: { app } },
          spec: {
            nodeSelector: { 'kubernetes.io/hostname': 'edge-001' },
            terminationGracePeriodSeconds: 1,
            containers: [{ name: app, image: `example.invalid/${app}:1` }],
          },
        },
      },
    },
  });
  await eventually(
    'pos-api available',
    async () => (await apps.readNamespacedDeployment({ name: app, namespace: 'shop' })).status?.availableReplicas === 1,
    60_000,
  );
  await setNodeLabel(h, 'edge-001', SIM_UNREADY_AFTER_UPGRADE_LABEL, 'true');
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, targetVersion: TARGET, gate: { stableFor: '6s', timeout: '20s' } });

  const paused = await progressUntil(h, 'the gate pausing', (p) => p.state !== 'running', 300_000);
  expect(paused).toMatchObject({ state: 'paused', pause: { reason: 'error' }, lastError: { node: 'edge-001', step: 'health-gate' } });
  expect(paused.lastError!.message).toMatch(/workloads: .*Deployment shop\/pos-api.*edge-001/);
  expect(paused.workers).toMatchObject({ upgraded: 1, gate: { nodes: ['edge-001'] } });
  expect((await podsOf(TARGET)).has('edge-002')).toBe(false);

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
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: TARGET, maxFailures: '10%' });
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
  const pods = await podsOf(TARGET);
  expect(pods.get('edge-004')).toBe('Failed');
  expect(pods.get('edge-017')).toBe('Failed');

  // The next upgrade: a budget of 2 with the same two failing nodes plus a third. As the pre-check
  // asks, the operator looks at the failed pods and deletes them first.
  for (const pod of (await upgradePods(h)).filter((p) => p.status?.phase === 'Failed')) {
    await h.cluster.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, gracePeriodSeconds: 0 });
  }
  const NEXT = 'v1.34.9';
  await setNodeLabel(h, 'edge-020', SIM_FAIL_UPGRADE_LABEL, 'true');
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: NEXT, maxFailures: 2, acceptWarnings: true });
  const paused = await progressUntil(h, 'a pause over the budget', (p) => p.state !== 'running', 300_000);
  expect(paused).toMatchObject({ state: 'paused', pause: { reason: 'error' } });
  expect(paused.lastError!.message).toMatch(/3 workers failed, over the failure budget of 2: .*edge-004.*edge-017.*edge-020/);
}, 900_000);
