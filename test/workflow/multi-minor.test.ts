/**
 * Multi-minor upgrades (planning/hops.ts) in the real upgradeCluster workflow on a dev server, with
 * fake clusters: the control plane hops one minor at a time, the workers go once (or in an extra
 * pass when the skew needs it), and pause, resume and cancel work across hops.
 */
import type { Client } from '@temporalio/client';
import { cancelUpgrade, getProgress, pauseUpgrade, resumeUpgrade, startUpgrade } from '../../src/api.js';
import type { ClusterNode, UpgradeRequest } from '../../src/planning/types.js';
import { TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor } from '../../src/workflows/definitions.js';
import { makeNodes, type FakeCluster } from '../helpers/fake-activities.js';
import { expectApplicationFailure } from '../helpers/expect.js';
import { eventually } from '../helpers/poll.js';
import { useFakeFleet } from '../helpers/fleet-env.js';
import { NO_GATE } from '../helpers/requests.js';

const f = useFakeFleet();
let client: Client;
beforeAll(() => {
  client = f.client;
});

const FROM = 'v1.31.5';
const TO = 'v1.34.4';
const VIA = ['v1.32.9', 'v1.33.5'];

const cluster = (name: string, nodes: ClusterNode[]): FakeCluster => f.cluster(name, nodes, { controlPlaneVersion: FROM });
const start = (c: FakeCluster, extra: Partial<UpgradeRequest> = {}) =>
  startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, ...extra });

/** Each upgrade pod as `node@version (role)`, in call order. */
const pods = (c: FakeCluster, prefix = '') =>
  c
    .callsOf('runUpgradePod')
    .filter((x) => x.node!.startsWith(prefix))
    .map((x) => `${x.node}@${x.args.targetVersion} (${x.role})`);

const masterHops = (versions: string[]) =>
  versions.flatMap((v) => [`cp-1@${v} (first-control-plane)`, `cp-2@${v} (control-plane)`, `cp-3@${v} (control-plane)`]);

test('v1.31 → v1.34 with --via: the masters hop 1.32 → 1.33 → 1.34, the workers go once; a pause in hop 2 resumes there', async () => {
  const c = cluster('hops', makeNodes({ masters: 3, edge: 6, version: FROM }));
  c.hold = true;
  const handle = await start(c, { via: VIA });

  await eventually('hop 1, cp-1 in flight', () => c.held.includes('cp-1'));
  // The node probes get the hops, so masters' probe pods check every hop minor's repository (HOP_VERSIONS).
  expect(c.callsOf('probeNodes')[0]!.args).toMatchObject({ hops: ['v1.32.9', 'v1.33.5', 'v1.34.4'] });
  expect(await getProgress(client, c.clusterId)).toMatchObject({
    phase: 'masters',
    hop: { number: 1, of: 3, version: 'v1.32.9' },
    masters: { total: 3, upgraded: 0, current: { serial: 1, node: 'cp-1' } },
  });
  c.release();
  for (const m of ['cp-2', 'cp-3', 'cp-1']) {
    await eventually(`${m} in flight`, () => c.held.includes(m));
    c.release();
  }
  // Hop 2: cp-2 in flight, then a pause: cp-2 finishes, cp-3 does not start.
  await eventually('hop 2, cp-2 in flight', () => c.held.includes('cp-2'));
  const p2 = await getProgress(client, c.clusterId);
  expect(p2).toMatchObject({
    hop: { number: 2, of: 3, version: 'v1.33.5' },
    masters: { upgraded: 1, current: { serial: 2, node: 'cp-2' } },
  });
  await pauseUpgrade(client, c.clusterId, 'look at hop 2');
  c.release();
  const paused = await eventually('paused in hop 2', async () => {
    const p = await getProgress(client, c.clusterId);
    return p.state === 'paused' && p.masters.current === null ? p : null;
  });
  expect(paused).toMatchObject({ phase: 'masters', hop: { number: 2, version: 'v1.33.5' }, masters: { upgraded: 2 } });
  expect(pods(c)).toEqual([...masterHops(['v1.32.9']), 'cp-1@v1.33.5 (first-control-plane)', 'cp-2@v1.33.5 (control-plane)']);

  c.hold = false;
  c.release();
  await resumeUpgrade(client, c.clusterId);
  const result = await handle.result();
  expect(result).toMatchObject({
    state: 'succeeded',
    hop: { number: 3, of: 3, version: TO },
    masters: { total: 3, upgraded: 3 },
    workers: { total: 6, upgraded: 6 },
  });
  expect(pods(c, 'cp-')).toEqual(masterHops([...VIA, TO]));
  // Every worker once, to the target, after the last master of the last hop.
  expect(pods(c, 'edge-')).toEqual(Array.from({ length: 6 }, (_, i) => `edge-${i + 1}@${TO} (worker)`));
  const lastMaster = Math.max(
    ...c
      .callsOf('runUpgradePod')
      .filter((x) => x.node!.startsWith('cp-'))
      .map((x) => x.seq),
  );
  expect(
    Math.min(
      ...c
        .callsOf('cordonNode')
        .filter((x) => x.node!.startsWith('edge-'))
        .map((x) => x.seq),
    ),
  ).toBeGreaterThan(lastMaster);
  expect([...c.nodes.values()].every((n) => n.kubeletVersion === TO && !n.unschedulable)).toBe(true);
});

test("the worker configuration's versions plan the hops; kubelets too far behind get a worker pass first", async () => {
  // Workers at v1.30: within three minors of v1.33, not of v1.34, so they go to v1.33.5 first.
  const nodes = [...makeNodes({ masters: 3, version: FROM }), ...makeNodes({ edge: 3, version: 'v1.30.14' })];
  const c = cluster('skew', nodes);
  c.versions = ['v1.32.1', 'v1.32.9', 'v1.33.5'];
  const result = await (await start(c)).result();
  expect(result).toMatchObject({ state: 'succeeded', workers: { total: 3, upgraded: 3 } });
  const order = pods(c).map((p) => p.replace(/ \(.*\)$/, ''));
  expect(order).toEqual([
    ...['cp-1', 'cp-2', 'cp-3'].map((m) => `${m}@v1.32.9`),
    ...['cp-1', 'cp-2', 'cp-3'].map((m) => `${m}@v1.33.5`),
    ...['edge-1', 'edge-2', 'edge-3'].map((w) => `${w}@v1.33.5`),
    ...['cp-1', 'cp-2', 'cp-3'].map((m) => `${m}@${TO}`),
    ...['edge-1', 'edge-2', 'edge-3'].map((w) => `${w}@${TO}`),
  ]);
});

test('a multi-minor target without versions for the path is refused before any node is touched, naming the missing minor', async () => {
  const c = cluster('refused', makeNodes({ masters: 1, edge: 2, version: FROM }));
  c.versions = ['v1.32.9'];
  const handle = await client.workflow.start(WORKFLOW_TYPE, {
    taskQueue: TASK_QUEUE,
    workflowId: workflowIdFor(c.clusterId),
    args: [{ clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO }],
  });
  const failure = await expectApplicationFailure(handle.result(), 'InvalidUpgradeRequest');
  expect(failure.message).toMatch(/needs a v1\.33\.x, but the configured versions \(v1\.32\.9\) have none for it/);
  expect(c.calls.map((x) => x.activity)).toEqual(['inventory']);
});

test('a cancel in hop 2 restores cordons and names every hop version to the cleanup', async () => {
  const c = cluster('cancel', makeNodes({ masters: 3, edge: 2, version: FROM }));
  c.hold = true;
  const handle = await start(c, { via: VIA });
  for (const m of ['cp-1', 'cp-2', 'cp-3', 'cp-1']) {
    await eventually(`${m} in flight`, () => c.held.includes(m));
    if (m === 'cp-1' && c.callsOf('runUpgradePod').length === 4) await pauseUpgrade(client, c.clusterId);
    c.release();
  }
  await eventually('paused', async () => (await getProgress(client, c.clusterId)).state === 'paused');
  await cancelUpgrade(client, c.clusterId);
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'cancelled', hop: { number: 2 } });
  expect(c.callsOf('cleanupUpgrade').map((x) => x.args.versions)).toEqual([[...VIA, TO]]);
  expect(pods(c).length).toBe(4);
});

test('a worker the skew pass leaves behind (quarantined) holds the control plane before the next hop; resume retries it', async () => {
  const nodes = [...makeNodes({ masters: 1, version: FROM }), ...makeNodes({ edge: 3, version: 'v1.30.14' })];
  const c = cluster('behind', nodes);
  c.failUpgrade.add('edge-2');
  const handle = await start(c, { via: VIA, maxFailures: 1 });
  const paused = await eventually('paused before hop 3', async () => {
    const p = await getProgress(client, c.clusterId);
    return p.state === 'paused' ? p : null;
  });
  expect(paused).toMatchObject({
    phase: 'workers',
    hop: { number: 2, version: 'v1.33.5' },
    lastError: { node: 'edge-2', step: 'version-skew' },
  });
  expect(paused.lastError!.message).toContain('cannot take its next hop without leaving them more than three minors behind');
  // The control plane did not go past the worker it would leave outside the skew.
  expect(pods(c).filter((p) => p.includes(TO))).toEqual([]);

  c.failUpgrade.delete('edge-2');
  await resumeUpgrade(client, c.clusterId);
  const result = await handle.result();
  expect(result.state).toBe('succeeded');
  expect(result.partial).toBeUndefined();
  expect(pods(c, 'edge-2')).toEqual(['edge-2@v1.33.5 (worker)', 'edge-2@v1.33.5 (worker)', `edge-2@${TO} (worker)`]);
  expect([...c.nodes.values()].every((n) => n.kubeletVersion === TO && !n.unschedulable)).toBe(true);
});
