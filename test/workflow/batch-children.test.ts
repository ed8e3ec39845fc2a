/**
 * Worker batches as child workflows (`upgradeNodeBatch`): the upgrade's own history holds a few
 * events per batch, the node steps are in the children's, and a child that dies (or the upgrade
 * that is terminated) never leaves the upgrade believing a node was upgraded.
 */
import type { Client } from '@temporalio/client';
import { getProgress, resumeUpgrade, startUpgrade } from '../../src/api.js';
import { batchCancelIgnoredMessage } from '../../src/planning/batches.js';
import type { Progress } from '../../src/planning/types.js';
import { makeNodes, type FakeCluster } from '../helpers/fake-activities.js';
import { FROM, TO, useFakeFleet } from '../helpers/fleet-env.js';
import { batchChildrenOf, childrenIn, type Execution } from '../helpers/histories.js';
import { workerLogLines } from '../helpers/logs.js';
import { eventually } from '../helpers/poll.js';
import { NO_GATE } from '../helpers/requests.js';

const f = useFakeFleet();
let client: Client;
beforeAll(() => {
  client = f.client;
});

const NODE_STEPS = ['cordonNode', 'drainNode', 'runUpgradePod', 'uncordonNode'];

const untilProgress = (c: FakeCluster, what: string, ok: (p: Progress) => boolean) =>
  eventually(what, async () => {
    const p = await getProgress(client, c.clusterId);
    return ok(p) ? p : null;
  });

/** Starts an upgrade of 4 workers whose upgrade pods are held; returns once edge-1's is, with its batch child. */
async function heldInFirstChild(name: string) {
  const c = f.cluster(name, makeNodes({ edge: 4, version: FROM }));
  c.hold = true;
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  await eventually('edge-1 in flight', () => c.held.includes('edge-1'));
  const child: Execution = await eventually('a batch child workflow', async () => {
    const events = (await handle.fetchHistory()).events ?? [];
    return childrenIn(events)[0] ?? null;
  });
  return { c, handle, child: client.workflow.getHandle(child.workflowId, child.runId) };
}

test('each worker batch runs in its own child workflow; the upgrade history holds no worker step and stays small', async () => {
  const c = f.cluster('children', makeNodes({ masters: 1, edge: 7, version: FROM }));
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, batch: { maxPercent: 50 } });
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'succeeded', workers: { total: 7, upgraded: 7 } });

  const events = (await handle.fetchHistory()).events ?? [];
  const steps = events.flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    return a && NODE_STEPS.includes(a.activityType!.name!) ? [a.activityType!.name!] : [];
  });
  // Only the master's four steps: it is upgraded in the upgrade's own history.
  expect(steps).toEqual(NODE_STEPS);

  const children = await batchChildrenOf(client, handle);
  // Batches of 1, 2, 3, 1 (a cap of 3): one child each, named after the upgrade and the batch.
  expect(c.observedBatchSizes()).toEqual([1, 2, 3, 1]);
  expect(children.map((x) => x.workflowId.replace(/-[0-9a-f]{8}$/, ''))).toEqual(
    [1, 2, 3, 4].map((n) => `${handle.workflowId}-batch-${n}`),
  );
  const childNodes = children.map((x) =>
    x.events.flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a?.activityType?.name === 'runUpgradePod' ? [JSON.parse(Buffer.from(a.input!.payloads![0]!.data!).toString()).node] : [];
    }),
  );
  expect(childNodes.map((nodes) => nodes.sort())).toEqual(c.observedBatches());
  const described = await client.workflow.getHandle(children[2]!.workflowId).describe();
  expect(described.type).toBe('upgradeNodeBatch');
  expect(await described.staticSummary()).toBe(`upgrade 3 worker(s) of ${c.clusterId} to ${TO}: batch 3`);
  // Without the children the upgrade's history would hold 7 × 12+ activity events alone.
  expect(events.length).toBeLessThan(150);
});

test('a batch child terminated mid-batch fails its nodes (step "batch") and pauses; a resume retries them, and it succeeds', async () => {
  const { c, handle, child } = await heldInFirstChild('child-terminated');
  await child.terminate('an operator terminated the batch');

  const paused = await untilProgress(c, 'an error pause', (p) => p.state === 'paused');
  expect(paused).toMatchObject({ pause: { reason: 'error' }, lastError: { node: 'edge-1', step: 'batch' }, workers: { upgraded: 0 } });
  expect(paused.lastError!.message).toContain(`the batch workflow ${child.workflowId} ended without a result`);
  expect(paused.lastError!.message).toContain('may be cordoned or half-upgraded');

  // The terminated child's held upgrade pod finishes now, in vain; the resume retries edge-1 first.
  c.hold = false;
  c.release();
  await resumeUpgrade(client, c.clusterId);
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'succeeded', workers: { total: 4, upgraded: 4 } });
  expect(c.callsOf('cordonNode', 'edge-1')).toHaveLength(2);
  expect([...c.nodes.values()].every((n) => n.kubeletVersion === TO && !n.unschedulable)).toBe(true);
});

test('terminating the upgrade terminates its running batch child, so no node step goes on without it', async () => {
  const { c, handle, child } = await heldInFirstChild('parent-terminated');
  await handle.terminate('an operator gave up');
  const status = await eventually('the batch child closed', async () => {
    const d = await child.describe();
    return d.status.name === 'RUNNING' ? null : d.status.name;
  });
  expect(status).toBe('TERMINATED');
  c.hold = false;
  c.release();
});

test('a Temporal cancel of the batch child does not interrupt its started nodes: they finish and count as upgraded', async () => {
  const { c, handle, child } = await heldInFirstChild('child-cancelled');
  await child.cancel();
  c.hold = false;
  c.release();
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'succeeded', lastError: null, workers: { total: 4, upgraded: 4 } });
  expect(c.callsOf('runUpgradePod', 'edge-1')).toHaveLength(1);
  expect((await child.describe()).status.name).toBe('COMPLETED');
});

test('a batch child cancelled by hand says the cancel was ignored: log warning, Warning Events, a refusal (#25)', async () => {
  const { c, handle, child } = await heldInFirstChild('child-cancel-told');
  await child.cancel();
  // Told at once, while its node is still held: the Events do not wait for the batch to end.
  const call = await eventually('the Warning Events recorded', () => c.callsOf('recordBatchCancelIgnored')[0]);
  expect(call.args).toMatchObject({ nodes: ['edge-1'], workflowId: child.workflowId, upgradeId: handle.workflowId });
  const why = batchCancelIgnoredMessage(child.workflowId, handle.workflowId);
  expect(workerLogLines().find((l) => l.includes(why))).toMatch(/WARN/);
  c.hold = false;
  c.release();
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'succeeded', lastError: null, workers: { total: 4, upgraded: 4 } });
  expect(result.refusals).toEqual([{ command: 'cancel', reason: why, at: call.args.at }]);
});
