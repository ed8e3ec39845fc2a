/**
 * Pause, resume and cancel under real timing, on a real dev server with in-memory fake clusters:
 * commands that reach a run before its first workflow task, a resume overtaken by an error or a
 * pause, a cancel during the last batch or during cleanup, a Temporal cancel with nodes in flight,
 * a cleanup through an API outage, and a node deleted mid-upgrade.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { cancelUpgrade, getProgress, pauseUpgrade, resumeUpgrade, startUpgrade } from '../../src/api.js';
import type { Progress, UpgradeRequest } from '../../src/planning/types.js';
import { TASK_QUEUE, WORKFLOW_TYPE, pauseSignal, pauseUpdate, progressQuery, workflowIdFor } from '../../src/workflows/definitions.js';
import { UpgradeState } from '../../src/workflows/upgrade-state.js';
import { makeNodes, type FakeCluster } from '../helpers/fake-activities.js';
import { expectRefused } from '../helpers/expect.js';
import { eventually } from '../helpers/poll.js';
import { FROM, TO, useFakeFleet } from '../helpers/fleet-env.js';
import { workflowBundle } from '../helpers/temporal.js';
import { NO_GATE } from '../helpers/requests.js';

const HOUR = 3600_000;

const f = useFakeFleet();
const fleet = f.fleet;
let client: Client;
beforeAll(() => {
  client = f.client;
});
let seq = 0;

function cluster(name: string, nodes = makeNodes({ edge: 5, version: FROM })): FakeCluster {
  return f.cluster(name, nodes);
}

const progress = (c: FakeCluster): Promise<Progress> => getProgress(client, c.clusterId);
const pausedWith = (c: FakeCluster, reason: string) =>
  eventually(`paused (${reason})`, async () => {
    const p = await progress(c);
    return p.state === 'paused' && p.pause?.reason === reason ? p : null;
  });
const settle = (ms = 1500) => new Promise((r) => setTimeout(r, ms));

/**
 * A task queue no worker polls yet, so commands reach the run before its first workflow task (as
 * during a worker rollout); `poll()` starts a worker on it. Stop it with `stop()`.
 */
async function lateQueue() {
  const taskQueue = `late-${++seq}`;
  let running: Promise<void> | undefined;
  let worker: Worker | undefined;
  return {
    taskQueue,
    async poll() {
      worker = await Worker.create({
        connection: f.env.nativeConnection,
        taskQueue,
        workflowBundle: await workflowBundle(),
        activities: fleet.activities(),
      });
      running = worker.run();
    },
    async stop() {
      worker?.shutdown();
      await running;
    },
  };
}

describe('a command that reaches a run before its first workflow task', () => {
  const expectPausedWithFullTimeout = async (c: FakeCluster, timeoutMs: number) => {
    const p = await pausedWith(c, 'user');
    expect(Date.parse(p.pause!.autoCancelAt!) - Date.parse(p.pause!.since)).toBe(timeoutMs);
    await settle();
    expect((await progress(c)).state).toBe('paused');
    expect(c.callsOf('cleanupUpgrade')).toEqual([]);
  };

  test('a pause signal sent while no worker polls pauses with the full pause timeout', async () => {
    const c = cluster('early-signal');
    const q = await lateQueue();
    try {
      const handle = await startUpgrade(
        client,
        { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, pauseTimeout: '1 hour' },
        { taskQueue: q.taskQueue },
      );
      await handle.signal(pauseSignal, 'worker rollout');
      await q.poll();
      await expectPausedWithFullTimeout(c, HOUR);
      expect(c.touchedNodes()).toEqual([]);
      await cancelUpgrade(client, c.clusterId);
      expect((await handle.result()).cancelReason).toBe('user');
    } finally {
      await q.stop();
    }
  });

  test('signal-with-start of a pause pauses with the full pause timeout', async () => {
    const c = cluster('early-sws');
    const q = await lateQueue();
    try {
      const request: UpgradeRequest = { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, pauseTimeout: '2 hours' };
      const handle = await client.workflow.signalWithStart(WORKFLOW_TYPE, {
        taskQueue: q.taskQueue,
        workflowId: workflowIdFor(c.clusterId),
        args: [request],
        signal: pauseSignal,
        signalArgs: ['hold until the shop closes'],
      });
      await q.poll();
      await expectPausedWithFullTimeout(c, 2 * HOUR);
      await cancelUpgrade(client, c.clusterId);
      await handle.result();
    } finally {
      await q.stop();
    }
  });

  test('a pause Update sent while no worker polls pauses with the full pause timeout', async () => {
    const c = cluster('early-update');
    const q = await lateQueue();
    try {
      const handle = await startUpgrade(
        client,
        { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, pauseTimeout: '1 hour' },
        { taskQueue: q.taskQueue },
      );
      const update = handle.executeUpdate(pauseUpdate, { args: ['worker rollout'] });
      await settle(500);
      await q.poll();
      expect((await update).pause).toMatchObject({ reason: 'user', message: 'worker rollout' });
      await expectPausedWithFullTimeout(c, HOUR);
      await cancelUpgrade(client, c.clusterId);
      await handle.result();
    } finally {
      await q.stop();
    }
  });

  test('a continued run (started with carried state from an older run) paused before its first task keeps the full timeout', async () => {
    const c = cluster('early-can');
    const q = await lateQueue();
    try {
      // The state a run hands on through continue-as-new, as an older run wrote it (no pauseTimeoutMs).
      const carried = new UpgradeState(UpgradeState.initial(c.clusterId, TO));
      carried.plan({ total: 0, todo: [] }, { total: 5, todo: ['edge-1', 'edge-2', 'edge-3', 'edge-4', 'edge-5'] });
      carried.setPhase('workers');
      const snapshot = carried.snapshot();
      delete (snapshot as { pauseTimeoutMs?: number }).pauseTimeoutMs;
      const request: UpgradeRequest = { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, pauseTimeout: '3 hours' };
      const handle = await client.workflow.start(WORKFLOW_TYPE, {
        taskQueue: q.taskQueue,
        workflowId: workflowIdFor(c.clusterId),
        args: [request, snapshot],
      });
      await handle.signal(pauseSignal);
      await q.poll();
      await expectPausedWithFullTimeout(c, 3 * HOUR);
      expect(c.callsOf('inventory')).toEqual([]); // a continued run does not plan again
      await cancelUpgrade(client, c.clusterId);
      await handle.result();
    } finally {
      await q.stop();
    }
  });
});

test('a resume accepted before a node of the batch fails does not swallow the error pause', async () => {
  const c = cluster('resume-then-fail', makeNodes({ edge: 30, version: FROM })); // cap 3
  c.hold = true;
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  await eventually('edge-1 in flight', () => c.held.length === 1);
  c.release();
  await eventually('batch 2 in flight', () => c.held.length === 2);
  await pauseUpgrade(client, c.clusterId);
  const resume = resumeUpgrade(client, c.clusterId).then(
    () => null,
    (e: unknown) => e as Error,
  );
  await settle(500);
  c.failUpgrade.add('edge-3');
  c.release();

  const err = await resume;
  expect(err?.message).toMatch(
    /resume failed: the upgrade paused on an error before the resume took effect: error on edge-3 \(upgrade-pod\)/,
  );
  const p = await pausedWith(c, 'error');
  expect(p.lastError).toMatchObject({ node: 'edge-3', step: 'upgrade-pod' });
  await settle();
  // The failed pod is the evidence: it stays until the next explicit resume, and nothing new starts.
  expect(c.callsOf('deleteFailedUpgradePods')).toEqual([]);
  expect(c.touchedNodes()).toEqual(['edge-1', 'edge-2', 'edge-3']);

  c.failUpgrade.clear();
  c.hold = false;
  await resumeUpgrade(client, c.clusterId);
  expect(await handle.result()).toMatchObject({ state: 'succeeded', workers: { upgraded: 30 } });
  expect(c.callsOf('deleteFailedUpgradePods')).toHaveLength(1);
});

test('a pause sent while a resume is deleting failed pods wins: the upgrade stays paused', async () => {
  const c = cluster('pause-during-resume');
  c.failUpgrade.add('edge-1');
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  await pausedWith(c, 'error');
  c.failUpgrade.clear();
  c.gates.deleteFailedPods.closed = true;
  const resume = resumeUpgrade(client, c.clusterId).then(
    () => null,
    (e: unknown) => e as Error,
  );
  await eventually('resume deleting pods', () => c.gates.deleteFailedPods.held === 1);

  const paused = await pauseUpgrade(client, c.clusterId, 'not yet');
  expect(paused.pause).toMatchObject({ reason: 'user', message: 'not yet' });
  c.gates.deleteFailedPods.open();
  expect((await resume)?.message).toMatch(/resume failed: a pause arrived before the resume took effect/);
  await settle();
  expect(await progress(c)).toMatchObject({ state: 'paused', pause: { reason: 'user' } });
  expect(c.callsOf('cordonNode')).toHaveLength(1); // edge-1's first attempt only

  await resumeUpgrade(client, c.clusterId);
  expect((await handle.result()).state).toBe('succeeded');
});

test('a resume sent during the pause-timeout cleanup fails instead of reporting success', async () => {
  const c = cluster('resume-during-cleanup');
  c.hold = true;
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, pauseTimeout: '2s' });
  await eventually('edge-1 in flight', () => c.held.length === 1);
  await pauseUpgrade(client, c.clusterId);
  c.gates.cleanup.closed = true;
  c.hold = false;
  c.release();
  await eventually('cleanup running', () => c.gates.cleanup.held === 1, 30_000);

  await expectRefused(
    resumeUpgrade(client, c.clusterId),
    /resume refused: the upgrade is being cancelled \(the pause timeout was reached\)/,
  );
  await expectRefused(pauseUpgrade(client, c.clusterId), /being cancelled/);
  c.gates.cleanup.open();
  expect(await handle.result()).toMatchObject({ state: 'cancelled', cancelReason: 'pause-timeout' });
});

test('a cancel accepted while the last batch is in flight ends cancelled, not succeeded', async () => {
  const c = cluster('cancel-last', makeNodes({ edge: 3, version: FROM })); // batches of 1
  c.hold = true;
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  for (const n of ['edge-1', 'edge-2']) {
    await eventually(`${n} in flight`, () => c.held.includes(n));
    c.release();
  }
  await eventually('edge-3 (the last node) in flight', () => c.held.includes('edge-3'));
  await pauseUpgrade(client, c.clusterId);
  const accepted = await cancelUpgrade(client, c.clusterId);
  expect(accepted.state).toBe('paused');
  c.hold = false;
  c.release();
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'cancelled', cancelReason: 'user', workers: { total: 3, upgraded: 3 } });
  expect(c.callsOf('cleanupUpgrade')).toHaveLength(1);
});

test('a Temporal cancel lets the node in flight finish before cleanup, and starts no new node', async () => {
  const c = cluster('temporal-cancel');
  c.hold = true;
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  await eventually('edge-1 in flight', () => c.held.length === 1);
  await handle.cancel();
  await settle();
  // Cleanup has not run under the running upgrade pod: the half-upgraded node stays cordoned.
  expect(c.callsOf('cleanupUpgrade')).toEqual([]);
  expect(c.nodes.get('edge-1')!.unschedulable).toBe(true);

  c.hold = false;
  c.release();
  await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  expect(c.nodes.get('edge-1')).toMatchObject({ kubeletVersion: TO, unschedulable: false });
  expect(c.touchedNodes()).toEqual(['edge-1']);
  expect(c.callsOf('cleanupUpgrade')).toHaveLength(1);
  const last = c.callsOf('uncordonNode', 'edge-1')[0]!.seq;
  expect(c.callsOf('cleanupUpgrade')[0]!.seq).toBeGreaterThan(last);
  expect(await handle.query(progressQuery)).toMatchObject({ state: 'cancelled', cancelReason: 'user' });
});

test('cleanup outlasts an API outage: six failed attempts, then it finishes and the upgrade ends cancelled', async () => {
  const c = cluster('cleanup-retry');
  c.failUpgrade.add('edge-1'); // left cordoned, half-upgraded
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  await pausedWith(c, 'error');
  expect(c.nodes.get('edge-1')!.unschedulable).toBe(true);
  c.cleanupFailures = 6; // more attempts than any other activity of the workflow gets
  await cancelUpgrade(client, c.clusterId);
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'cancelled', cancelReason: 'user' });
  expect(c.callsOf('cleanupUpgrade')).toHaveLength(7);
  // The failed node may be half-upgraded: cleanup leaves it cordoned (see cleanupUpgrade's `kept`).
  expect(c.nodes.get('edge-1')!.unschedulable).toBe(true);
}, 120_000);

test('a cleanup that cannot run at all still sets the final state and says what is left', async () => {
  const c = cluster('cleanup-unknown');
  c.failUpgrade.add('edge-1');
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  await pausedWith(c, 'error');
  // The cluster leaves the worker's configuration: cleanup fails non-retryable 'UnknownCluster'.
  fleet.remove(c.clusterId);
  await cancelUpgrade(client, c.clusterId);
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'cancelled', cancelReason: 'user', lastError: { step: 'cleanup' } });
  expect(result.lastError!.message).toMatch(/cleanup could not finish: .*unknown cluster.*may still be cordoned/);
});

test('a node deleted before its turn is skipped and listed as removed; the upgrade succeeds', async () => {
  const c = cluster('removed', makeNodes({ masters: 2, edge: 4, version: FROM }));
  c.hold = true;
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  await eventually('cp-1 in flight', () => c.held.includes('cp-1'));
  c.nodes.delete('cp-2');
  c.nodes.delete('edge-3');
  c.hold = false;
  c.release();
  const result = await handle.result();
  expect(result).toMatchObject({
    state: 'succeeded',
    lastError: null,
    masters: { total: 2, upgraded: 1, removed: ['cp-2'] },
    workers: { total: 4, upgraded: 3, removed: ['edge-3'] },
  });
  expect(c.callsOf('runUpgradePod', 'edge-3')).toEqual([]);
});

test('with a managed control plane a target above the API server is refused before any node is touched', async () => {
  const c = f.cluster('managed', makeNodes({ edge: 3, version: 'v1.34.4' }), { controlPlaneVersion: 'v1.34.4' });
  const handle = await client.workflow.start(WORKFLOW_TYPE, {
    taskQueue: TASK_QUEUE,
    workflowId: workflowIdFor(c.clusterId),
    args: [{ clusterId: c.clusterId, gate: NO_GATE, targetVersion: 'v1.35.0' }],
  });
  await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
  const p = await progress(c);
  expect(p.state).toBe('failed');
  expect(p.failure).toMatch(/newer than the managed control plane's v1.34.4: a kubelet may not be newer than kube-apiserver/);
  expect(c.touchedNodes()).toEqual([]);
});
