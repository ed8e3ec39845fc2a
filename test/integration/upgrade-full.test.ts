/**
 * Acceptance: a full upgrade of 3 masters and 20 workers through the real worker, with a
 * PodDisruptionBudget respected throughout; then a budget that allows no disruption, added
 * mid-upgrade, auto-pauses the upgrade naming it.
 */
import { AppsV1Api, PolicyV1Api, type V1Pod } from '@kubernetes/client-node';
import { cancelUpgrade, startUpgrade } from '../../src/api.js';
import { readInFlight } from '../../src/in-flight.js';
import { batchPlan } from '../../src/planning/batches.js';
import { NODE_EVENT_NAMESPACE, UPGRADE_NAMESPACE } from '../../src/planning/labels.js';
import { runInProcess } from '../helpers/in-process-cli.js';
import { note } from '../helpers/logs.js';
import { eventually } from '../helpers/poll.js';
import { CLUSTER_ID, cordonedByUs, nodes, progressUntil, startHarness, upgradePods, ourEvents, type Harness } from './upgrade-harness.js';
import { NO_GATE } from '../helpers/requests.js';

const TARGET = 'v1.34.4';
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 180_000);

afterAll(async () => {
  await h?.stop();
}, 60_000);

function deployment(name: string, replicas: number) {
  return {
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'app', image: 'example.invalid/app:1' }] },
      },
    },
  };
}

const readyPods = async (app: string) =>
  (await h.cluster.core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${app}` })).items.filter(
    (p: V1Pod) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  ).length;

test('3 masters and 20 workers are upgraded in planned batches, one pod per node, and a PDB is never violated', async () => {
  const apps = h.cluster.kubeConfig.makeApiClient(AppsV1Api);
  const policy = h.cluster.kubeConfig.makeApiClient(PolicyV1Api);
  const MIN = 5;
  await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web', 6) });
  await policy.createNamespacedPodDisruptionBudget({
    namespace: 'default',
    body: { metadata: { name: 'web' }, spec: { minAvailable: MIN, selector: { matchLabels: { app: 'web' } } } },
  });
  await eventually(
    '6 Ready web pods and the PDB observed',
    async () => {
      const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'web', namespace: 'default' });
      return (await readyPods('web')) === 6 && pdb.status?.disruptionsAllowed === 1;
    },
    60_000,
  );

  let minReady = Infinity;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      minReady = Math.min(minReady, await readyPods('web'));
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  const started = Date.now();
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: TARGET, drainTimeout: '2m', nodeTimeout: '2m' });
  const batches = new Map<number, number>();
  const final = await progressUntil(
    h,
    'the upgrade to finish',
    (p) => {
      if (p.workers.batch) batches.set(p.workers.batch.number, p.workers.batch.size);
      return p.state !== 'running';
    },
    300_000,
  );
  sampling = false;
  await sampler;
  note(`full upgrade of 23 nodes took ${Math.round((Date.now() - started) / 1000)} s`);

  expect(final.state).toBe('succeeded');
  expect(final.precheck.status).toBe('passed');
  expect(final.masters).toMatchObject({ total: 3, upgraded: 3 });
  expect(final.workers).toMatchObject({ total: 20, upgraded: 20 });
  expect([...batches.entries()].sort((a, b) => a[0] - b[0]).map(([, size]) => size)).toEqual(batchPlan(20, 10));

  const all = await nodes(h);
  for (const n of all.values()) {
    expect([n.metadata?.name, n.status?.nodeInfo?.kubeletVersion, n.spec?.unschedulable ?? false]).toEqual([
      n.metadata?.name,
      TARGET,
      false,
    ]);
  }
  expect(cordonedByUs(all)).toEqual([]);
  const pods = await upgradePods(h);
  expect(pods).toHaveLength(23);
  expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(23);
  expect(pods.every((p) => p.status?.phase === 'Succeeded')).toBe(true);
  expect(h.cluster.simulator.stats().upgradesSucceeded).toBe(23);
  expect(minReady).toBeGreaterThanOrEqual(MIN);
  // `kubectl get events` on a node tells its story, one Event per step; upgrade pods get Events only when something fails.
  const nodeEvents = await ourEvents(h, NODE_EVENT_NAMESPACE);
  expect(new Set(nodeEvents.filter((e) => e.reason === 'UpgradeSucceeded').map((e) => e.involvedObject.name)).size).toBe(23);
  const story = ['UpgradeCordoned', 'UpgradeDrained', 'UpgradeStarted', 'UpgradeSucceeded', 'UpgradeUncordoned'];
  for (const name of all.keys()) {
    const reasons = nodeEvents.filter((e) => e.involvedObject.name === name).map((e) => e.reason);
    // Cloud workers were prepared first (the prepare phase), which says so once.
    expect([name, reasons.sort()]).toEqual([name, name.startsWith('cloud-') ? ['NodePrepared', ...story] : story]);
  }
  expect(await ourEvents(h, UPGRADE_NAMESPACE)).toEqual([]);
}, 360_000);

test('a PodDisruptionBudget allowing no disruption, added mid-upgrade, auto-pauses the upgrade naming it', async () => {
  const apps = h.cluster.kubeConfig.makeApiClient(AppsV1Api);
  const policy = h.cluster.kubeConfig.makeApiClient(PolicyV1Api);
  // One replica per worker is not guaranteed, so spread enough replicas that the first workers carry one.
  await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('critical', 20) });
  await eventually('20 Ready critical pods', async () => (await readyPods('critical')) === 20, 60_000);
  const NEXT = 'v1.34.5';
  // A drain timeout long enough to see the blocked drain in flight first.
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: NEXT, drainTimeout: '20s', nodeTimeout: '2m' });
  await progressUntil(h, 'the masters phase', (p) => p.phase !== 'precheck' || p.state !== 'running');
  await policy.createNamespacedPodDisruptionBudget({
    namespace: 'default',
    body: { metadata: { name: 'critical-pdb' }, spec: { maxUnavailable: 0, selector: { matchLabels: { app: 'critical' } } } },
  });
  // While the drain waits, status says which node, since when, and the eviction the budget refuses.
  const blockedDrain = await eventually(
    'a drain in flight refused by the budget',
    async () => (await readInFlight(h.env.client, CLUSTER_ID)).find((n) => n.step === 'drain' && /refused/.test(n.waitingOn)),
    20_000,
    250,
  );
  expect(blockedDrain.waitingOn).toMatch(/^eviction of default\/critical-\S+ refused: .*disruption budget/);
  expect(Date.parse(blockedDrain.since)).toBeLessThanOrEqual(Date.now());
  const status = await runInProcess('--address', h.env.address, 'status', '--cluster', CLUSTER_ID);
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(new RegExp(`^In flight: ${blockedDrain.node} drain since \\S+Z: eviction of default/critical-`, 'm'));
  const paused = await progressUntil(h, 'an auto-pause', (p) => p.state !== 'running', 180_000);
  expect(paused.state).toBe('paused');
  expect(paused.pause?.reason).toBe('error');
  expect(paused.lastError?.step).toBe('drain');
  expect(paused.lastError?.message).toContain('PodDisruptionBudget default/critical-pdb');
  expect(paused.lastError?.message).toMatch(/pod default\/critical-/);
  expect(paused.lastError?.message).toContain('drainTimeout');
  // The blocked node was uncordoned again; the critical workload was never disrupted.
  const blocked = (await nodes(h)).get(paused.lastError!.node)!;
  expect(blocked.spec?.unschedulable ?? false).toBe(false);
  expect(await readyPods('critical')).toBe(20);
  const cancelled = await cancelUpgrade(h.env.client, CLUSTER_ID).then(() => progressUntil(h, 'cancelled', (p) => p.state === 'cancelled'));
  expect(cancelled.cancelReason).toBe('user');
}, 300_000);
