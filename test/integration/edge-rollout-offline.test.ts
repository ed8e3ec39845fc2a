/**
 * Acceptance on the real stack (#12): edge workers that go offline (the simulator stops their
 * kubelet: no Lease renewals, no status, NotReady after the controller's grace period) are refused
 * untouched by default, or deferred and upgraded once back, or left out past the defer timeout.
 * Each test upgrades the same cluster to the next patch version. Health gates and the failure
 * budget are in edge-rollout-gates.test.ts (a file of their own, so the two run side by side).
 */
import { resumeUpgrade, startUpgrade, upgradeHandle } from '../../src/api.js';
import { SIM_OFFLINE_LABEL } from '../../src/planning/labels.js';
import { nodeReady } from '../../src/planning/cluster.js';
import { runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/poll.js';
import { NO_GATE } from '../helpers/requests.js';
import {
  CLUSTER_ID,
  cordonedByUs,
  nodes,
  podsOf,
  progressUntil,
  setNodeLabel,
  OFFLINE_LEASE_SECONDS,
  startHarness,
  waitOnline,
  type Harness,
} from './upgrade-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    shape: { controlPlanes: 1, cloudWorkers: 0, edgeWorkers: 30 },
    upgradeSeconds: 1,
    // The first test's timing leans on batches of at least 3 s: a 1 s upgrade pod, then a 2 s kubelet restart.
    simulator: { leaseDurationSeconds: OFFLINE_LEASE_SECONDS, kubeletRestartSeconds: 2 },
  });
}, 180_000);

afterAll(async () => {
  await h?.stop();
}, 60_000);

const offline = (node: string) => setNodeLabel(h, node, SIM_OFFLINE_LABEL, 'true');
const online = (node: string) => setNodeLabel(h, node, SIM_OFFLINE_LABEL, null);
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
  expect((await podsOf(h, TARGET)).has('edge-012')).toBe(false);
  const before = paused.workers.upgraded;

  await online('edge-012');
  await waitOnline(h, ['edge-012']);
  await resumeUpgrade(h.env.client, CLUSTER_ID);
  await progressUntil(h, 'edge-012 upgraded first', (p) => p.workers.upgraded > before, 60_000);
  expect((await podsOf(h, TARGET)).get('edge-012')).toBe('Succeeded');
  const done = await progressUntil(h, 'the end', (p) => p.state !== 'running', 240_000);
  expect(done).toMatchObject({ state: 'succeeded', workers: { total: 30, upgraded: 30 } });
  expect((await podsOf(h, TARGET)).size).toBe(31);
}, 600_000);

test('offline defer: 3 workers offline before their batch wait, the other 27 finish without a pause, the 3 follow', async () => {
  const TARGET = 'v1.34.5';
  // Up to half at a time (1, 2, 4, 8, 15): the three go in the last batch, four batches after the master.
  await startUpgrade(h.env.client, {
    clusterId: CLUSTER_ID,
    gate: NO_GATE,
    targetVersion: TARGET,
    offline: 'defer',
    batch: { maxPercent: 50 },
  });
  await progressUntil(h, 'the master upgrading', (p) => p.masters.current !== null, 60_000);
  const gone = ['edge-028', 'edge-029', 'edge-030'];
  for (const n of gone) await offline(n);

  const waiting = await progressUntil(h, 'waiting for deferred workers', (p) => p.workers.waiting === 'deferred' || p.state !== 'running');
  expect(waiting).toMatchObject({ state: 'running', phase: 'workers', pause: null, workers: { upgraded: 27 } });
  expect(waiting.workers.deferred!.map((d) => d.node).sort()).toEqual(gone);
  const pods = await podsOf(h, TARGET);
  for (const n of gone) expect(pods.has(n)).toBe(false);
  expect(cordonedByUs(await nodes(h))).toEqual([]);

  for (const n of gone) await online(n);
  const done = await progressUntil(h, 'the end', (p) => p.state !== 'running', 240_000);
  expect(done).toMatchObject({ state: 'succeeded', workers: { upgraded: 30, deferred: [] } });
  expect(done.partial).toBeUndefined();
  const after = await podsOf(h, TARGET);
  expect(after.size).toBe(31);
  for (const n of gone) expect(after.get(n)).toBe('Succeeded');
  await eventually(
    'the workflow closed',
    async () => (await upgradeHandle(h.env.client, CLUSTER_ID).describe()).status.name === 'COMPLETED',
  );
}, 600_000);

test('a worker offline past --defer-timeout is left out: the CLI exits 4 (succeeded partially) naming it', async () => {
  const TARGET = 'v1.34.6';
  await offline('edge-015');
  await eventually('edge-015 NotReady', async () => !nodeReady((await nodes(h)).get('edge-015')!), 60_000);
  const r = await runCli(
    [
      'start',
      '--cluster',
      CLUSTER_ID,
      '--to',
      TARGET,
      '--defer-offline',
      '--defer-timeout',
      '20s',
      '--gate-stable-for',
      '0',
      '--max-percent',
      '50',
      '--wait',
    ],
    { TEMPORAL_ADDRESS: h.env.address },
    400_000,
  );
  // stderr too, so a failure shows what the CLI said.
  expect(`${r.stdout}\n${r.stderr}`).toMatch(/succeeded partially: 1 deferred \(edge-015\) not at v1\.34\.6/);
  expect(r.code).toBe(4);
  expect(r.stdout).toMatch(/Deferred \(left out: offline past the defer timeout\): edge-015/);
  expect((await podsOf(h, TARGET)).has('edge-015')).toBe(false);
  await online('edge-015');
  await waitOnline(h, ['edge-015']);
}, 600_000);
