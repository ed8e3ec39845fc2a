/**
 * Acceptance: the worker process is killed (SIGKILL, no chance to clean up) in the middle of a
 * batch. A new worker process picks the upgrade up once the activities' heartbeats time out, and
 * finishes it; no node is upgraded twice. Workers here are real `edge-upgrade worker` processes.
 * Batches of up to half the workers (1, 2, 4, 8, 5): the kill needs a batch in flight, not ten of them.
 */
import { startUpgrade } from '../../src/api.js';
import { spawnCli, stopCli } from '../helpers/cli.js';
import { CLUSTER_ID, nodes, progressUntil, startHarness, upgradePods, upgradePodsRunning, type Harness } from './upgrade-harness.js';
import { NO_GATE } from '../helpers/requests.js';

const TARGET = 'v1.34.4';
let h: Harness;
let replacement: ReturnType<typeof spawnCli> | undefined;

beforeAll(async () => {
  h = await startHarness({ upgradeSeconds: 3 });
  // This file runs its workers as separate processes; the harness's in-process one steps aside.
  h.worker.shutdown();
  await h.running;
}, 180_000);

afterAll(async () => {
  if (replacement) await stopCli(replacement.child);
  await h?.stop();
}, 60_000);

test('a worker process killed with SIGKILL mid-batch is replaced; one upgrade per node', async () => {
  const env = { TEMPORAL_ADDRESS: h.env.address, EDGE_UPGRADE_CLUSTERS: `${CLUSTER_ID}=${h.cluster.controlPlane.kubeconfigPath}` };
  const first = spawnCli(['worker'], env);
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: TARGET, batch: { maxPercent: 50 } });
  const mid = await progressUntil(h, 'the third worker batch', (p) => (p.workers.batch?.number ?? 0) >= 3 || p.state !== 'running');
  expect(mid.state).toBe('running');
  const runningBefore = await upgradePodsRunning(h);
  const exited = new Promise((r) => first.child.once('exit', r));
  first.child.kill('SIGKILL');
  await exited;

  replacement = spawnCli(['worker'], env);
  const done = await progressUntil(h, 'the upgrade to finish', (p) => p.state !== 'running', 300_000);
  expect(done.state).toBe('succeeded');
  expect(done.workers.upgraded).toBe(20);
  expect(mid.workers.upgraded).toBeLessThan(20);

  const pods = await upgradePods(h);
  expect(pods).toHaveLength(23);
  expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(23);
  expect(pods.every((p) => p.status?.phase === 'Succeeded')).toBe(true);
  // The simulator ran each node's upgrade exactly once: the new worker found the pods by name.
  expect(h.cluster.simulator.stats().upgradesSucceeded).toBe(23);
  const all = await nodes(h);
  expect([...all.values()].every((n) => n.status?.nodeInfo?.kubeletVersion === TARGET && !n.spec?.unschedulable)).toBe(true);
  expect(runningBefore.length).toBeGreaterThan(0);
}, 420_000);
