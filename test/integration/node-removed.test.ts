/**
 * Acceptance on the real stack: a worker deleted from the cluster mid-upgrade (decommissioned, or
 * replaced under another name) is recorded as removed and skipped; the upgrade still succeeds.
 */
import { startUpgrade } from '../../src/api.js';
import { upgradePodName } from '../../src/planning/names.js';
import { CLUSTER_ID, cordonedByUs, nodes, progressUntil, startHarness, upgradePods, type Harness } from './upgrade-harness.js';
import { NO_GATE } from '../helpers/requests.js';

const TARGET = 'v1.34.4';
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ shape: { controlPlanes: 1, cloudWorkers: 0, edgeWorkers: 6 }, upgradeSeconds: 2 });
}, 180_000);

afterAll(async () => {
  await h?.stop();
}, 60_000);

test('a worker deleted before its turn is skipped and listed as removed; the upgrade succeeds', async () => {
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: TARGET });
  // The plan is made (6 workers); delete the last worker while the master upgrades.
  await progressUntil(h, 'the master upgrading', (p) => p.masters.current !== null, 60_000);
  await h.cluster.core.deleteNode({ name: 'edge-006' });

  const done = await progressUntil(h, 'the upgrade to end', (p) => p.state !== 'running', 180_000);
  expect(done).toMatchObject({ state: 'succeeded', lastError: null, workers: { total: 6, upgraded: 5, removed: ['edge-006'] } });
  const pods = await upgradePods(h);
  expect(pods.map((p) => p.metadata!.name)).not.toContain(upgradePodName('edge-006', TARGET));
  expect(pods).toHaveLength(6); // one per remaining node: the master and five workers
  const left = await nodes(h);
  expect(left.has('edge-006')).toBe(false);
  expect([...left.values()].filter((n) => n.spec?.unschedulable).map((n) => n.metadata!.name)).toEqual([]);
  expect(cordonedByUs(left)).toEqual([]);
}, 240_000);
