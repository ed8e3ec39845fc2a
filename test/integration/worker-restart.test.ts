/**
 * Acceptance: the worker goes away in the middle of a batch; a new worker picks the upgrade up
 * and finishes it, and no node is upgraded twice (activities find their own pods by name).
 * Batches of up to half the workers (1, 2, 4, 8, 5): the stop needs a batch in flight, not ten of them.
 */
import { startUpgrade } from '../../src/api.js';
import { createWorker } from '../../src/worker.js';
import { note } from '../helpers/logs.js';
import { DIST_WORKFLOW_BUNDLE } from '../helpers/temporal.js';
import { CLUSTER_ID, nodes, progressUntil, startHarness, upgradePods, upgradePodsRunning, type Harness } from './upgrade-harness.js';
import { NO_GATE } from '../helpers/requests.js';

const TARGET = 'v1.34.4';
let h: Harness;
let second: { shutdown(): void; getState(): string } | undefined;
let secondRun: Promise<void> | undefined;

beforeAll(async () => {
  // Slower upgrade pods, so the worker surely stops while pods run.
  h = await startHarness({ upgradeSeconds: 3 });
}, 180_000);

afterAll(async () => {
  if (second?.getState() === 'RUNNING') second.shutdown();
  await secondRun?.catch(() => undefined);
  await h?.stop();
}, 60_000);

test('a worker stopped mid-batch is replaced; the upgrade completes with one upgrade per node', async () => {
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: TARGET, batch: { maxPercent: 50 } });
  const mid = await progressUntil(h, 'the third worker batch to run', (p) => (p.workers.batch?.number ?? 0) >= 3 || p.state !== 'running');
  expect(mid.state).toBe('running');
  // Stop while upgrade pods run, the worst moment: their activities are waiting on them.
  const runningBefore = await upgradePodsRunning(h);
  h.worker.shutdown();
  await h.running;

  const worker = await createWorker({ connection: h.env.nativeConnection, config: h.config, workflowBundlePath: DIST_WORKFLOW_BUNDLE });
  second = worker;
  secondRun = worker.run();
  const done = await progressUntil(h, 'the upgrade to finish', (p) => p.state !== 'running', 300_000);
  expect(done.state).toBe('succeeded');

  const pods = await upgradePods(h);
  expect(pods).toHaveLength(23);
  expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(23);
  expect(pods.every((p) => p.status?.phase === 'Succeeded')).toBe(true);
  expect(h.cluster.simulator.stats().upgradesSucceeded).toBe(23);
  expect(h.cluster.simulator.stats().upgradesFailed).toBe(0);
  const all = await nodes(h);
  expect([...all.values()].every((n) => n.status?.nodeInfo?.kubeletVersion === TARGET && !n.spec?.unschedulable)).toBe(true);
  note(`worker stopped while upgrade pods ran on: ${runningBefore.join(', ')}`);
}, 400_000);
