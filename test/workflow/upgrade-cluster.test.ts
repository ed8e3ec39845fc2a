/**
 * The upgradeCluster workflow against a real Temporal dev server and a real Worker, with the
 * activities replaced by in-memory fake clusters (test/helpers/fake-activities.ts).
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { cancelUpgrade, getProgress, pauseUpgrade, readProgress, resumeUpgrade, startUpgrade, upgradeHandle } from '../../src/api.js';
import { batchPlan } from '../../src/planning/batches.js';
import { InvalidUpgradeRequestError, UpgradeAlreadyRunningError } from '../../src/planning/errors.js';
import type { ClusterNode, Progress, UpgradeRequest } from '../../src/planning/types.js';
import {
  EdgeUpgradePhase,
  EdgeUpgradeState,
  TASK_QUEUE,
  WORKFLOW_TYPE,
  cancelSignal,
  pauseSignal,
  workflowIdFor,
} from '../../src/workflows/definitions.js';
import { makeNodes, type FakeCluster } from '../helpers/fake-activities.js';
import { expectApplicationFailure, expectRefused } from '../helpers/expect.js';
import { batchChildrenOf } from '../helpers/histories.js';
import { eventually } from '../helpers/poll.js';
import { FROM, TO, useFakeFleet } from '../helpers/fleet-env.js';
import { NO_GATE } from '../helpers/requests.js';

const f = useFakeFleet();
let client: Client;
beforeAll(() => {
  client = f.client;
});

/** A fresh fake cluster with a unique id. */
const cluster = (name: string, nodes: ClusterNode[], opts: { upgradeMs?: number; controlPlaneVersion?: string } = {}): FakeCluster =>
  f.cluster(name, nodes, opts);

const progress = (c: FakeCluster): Promise<Progress> => getProgress(client, c.clusterId);
const start = (c: FakeCluster, extra: Partial<UpgradeRequest> = {}) =>
  startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, ...extra });

/** Sizes 1, 2, 4, … capped at `cap` for `n` nodes: the schedule after a resume. */
function doubling(n: number, cap: number): number[] {
  const out: number[] = [];
  for (let size = 1; n > 0; size = Math.min(size * 2, cap)) {
    out.push(Math.min(size, n));
    n -= Math.min(size, n);
  }
  return out;
}

describe('upgradeCluster', () => {
  test('workers go in batches of 1, 2, 4, … capped at 10%, cloud before edge, and the upgrade succeeds', async () => {
    const c = cluster('batches', makeNodes({ cloud: 10, edge: 27, version: FROM }), { upgradeMs: 30 });
    const handle = await start(c);
    const result = await handle.result();

    expect(c.observedBatchSizes()).toEqual(batchPlan(37)); // [1, 2, 3, 3, …]
    expect(c.maxConcurrent('worker')).toBe(3);
    // Within a batch nodes start together; across batches the order is cloud before edge, then natural name order.
    expect(c.observedBatches().flat()).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `cloud-${i + 1}`),
      ...Array.from({ length: 27 }, (_, i) => `edge-${i + 1}`),
    ]);
    expect(result).toMatchObject({
      phase: 'done',
      state: 'succeeded',
      masters: { total: 0, upgraded: 0 },
      workers: { total: 37, upgraded: 37 },
      lastError: null,
    });
    expect([...c.nodes.values()].every((n) => n.kubeletVersion === TO && !n.unschedulable)).toBe(true);

    const sa = (await handle.describe()).typedSearchAttributes;
    expect(sa.get(EdgeUpgradeState)).toBe('succeeded');
    expect(sa.get(EdgeUpgradePhase)).toBe('done');
  });

  test.each([
    [7, [1, 1, 1, 1, 1, 1, 1]],
    [100, [1, 2, 4, 8, 10, 10, 10, 10, 10, 10, 10, 10, 5]],
    // The doubling meets the 10% cap between two sizes (16, then 20, not 32); 1,000 is batchPlan's unit test.
    [200, [1, 2, 4, 8, 16, 20, 20, 20, 20, 20, 20, 20, 20, 9]],
  ])(
    '%i workers go in batches %j',
    async (n, expected) => {
      const c = cluster(`batches-${n}`, makeNodes({ edge: n, version: FROM }));
      const result = await (await start(c)).result();
      expect(c.observedBatchSizes()).toEqual(expected);
      expect(result).toMatchObject({ state: 'succeeded', workers: { total: n, upgraded: n } });
    },
    180_000,
  );

  test('masters go one at a time, before any worker, and progress names each by serial while it is in flight', async () => {
    const c = cluster('masters', makeNodes({ masters: 3, edge: 2, version: FROM }));
    c.hold = true;
    const handle = await start(c);
    for (let k = 1; k <= 3; k++) {
      await eventually(`cp-${k} in flight`, () => c.held.includes(`cp-${k}`));
      const p = await progress(c);
      expect(p.phase).toBe('masters');
      expect(p.masters).toEqual({ total: 3, upgraded: k - 1, current: { serial: k, node: `cp-${k}` } });
      expect(c.held).toEqual([`cp-${k}`]);
      if (k === 3) c.hold = false;
      c.release();
    }
    const result = await handle.result();
    expect(result.masters).toEqual({ total: 3, upgraded: 3, current: null });
    expect(
      c
        .callsOf('runUpgradePod')
        .filter((x) => x.node!.startsWith('cp-'))
        .map((x) => [x.node, x.role]),
    ).toEqual([
      ['cp-1', 'first-control-plane'],
      ['cp-2', 'control-plane'],
      ['cp-3', 'control-plane'],
    ]);
    expect(c.maxConcurrent('control-plane')).toBe(1);
    const lastMaster = Math.max(
      ...c
        .callsOf('uncordonNode')
        .filter((x) => x.node!.startsWith('cp-'))
        .map((x) => x.seq),
    );
    const firstWorker = Math.min(
      ...c
        .callsOf('cordonNode')
        .filter((x) => x.node!.startsWith('edge-'))
        .map((x) => x.seq),
    );
    expect(firstWorker).toBeGreaterThan(lastMaster);
  });

  test('each activity carries a Web UI summary naming the node and the step', async () => {
    const c = cluster('summary', makeNodes({ masters: 1, edge: 1, version: FROM }));
    const handle = await start(c);
    await handle.result();
    // The master's steps are in the upgrade's history; the worker's in its batch child's.
    const events = [...((await handle.fetchHistory()).events ?? []), ...(await batchChildrenOf(client, handle)).flatMap((x) => x.events)];
    const scheduled = events
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => [
        e.activityTaskScheduledEventAttributes!.activityType!.name,
        e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : undefined,
      ]);
    expect(scheduled).toEqual([
      ['inventory', `inventory ${c.clusterId}`],
      ['precheck', `precheck ${c.clusterId} → ${TO}`],
      ['probeNodes', `probe nodes of ${c.clusterId} (read-only)`],
      ['cordonNode', 'cordon cp-1'],
      ['drainNode', 'drain cp-1'],
      ['runUpgradePod', 'upgrade pod on cp-1 (first-control-plane)'],
      ['uncordonNode', 'uncordon cp-1'],
      ['cordonNode', 'cordon edge-1'],
      ['drainNode', 'drain edge-1'],
      ['runUpgradePod', 'upgrade pod on edge-1 (worker)'],
      ['uncordonNode', 'uncordon edge-1'],
    ]);
  });

  test('a re-run skips nodes already at the target and does not run first-control-plane twice', async () => {
    const nodes = makeNodes({ masters: 3, edge: 3, version: FROM });
    for (const n of nodes) if (n.name === 'cp-1' || n.name === 'edge-2') n.kubeletVersion = TO;
    const c = cluster('rerun', nodes);
    const result = await (await start(c)).result();
    expect(c.touchedNodes()).toEqual(['cp-2', 'cp-3', 'edge-1', 'edge-3']);
    expect(c.callsOf('runUpgradePod').map((x) => x.role)).toEqual(['control-plane', 'control-plane', 'worker', 'worker']);
    expect(result).toMatchObject({ state: 'succeeded', masters: { total: 3, upgraded: 3 }, workers: { total: 3, upgraded: 3 } });
  });

  test('pause mid-batch lets in-flight nodes finish and starts no new node; after resume the next batch has 1 node', async () => {
    const c = cluster('pause', makeNodes({ edge: 40, version: FROM })); // cap 4
    c.hold = true;
    const handle = await start(c);
    await eventually('batch 1', () => c.held.length === 1);
    c.release();
    await eventually('batch 2', () => c.held.length === 2);
    c.release();
    await eventually('batch 3 (4 nodes) in flight', () => c.held.length === 4);

    const paused = await pauseUpgrade(client, c.clusterId, 'checking the edge sites');
    expect(paused.state).toBe('paused');
    expect(paused.pause).toMatchObject({ reason: 'user' });
    expect(paused.workers.batch).toMatchObject({ number: 3, size: 4 });
    await expectRefused(pauseUpgrade(client, c.clusterId), /already paused/);

    c.release();
    await eventually('in-flight nodes finished', async () => (await progress(c)).workers.upgraded === 7);
    await new Promise((r) => setTimeout(r, 1500));
    expect(c.touchedNodes()).toHaveLength(7);
    expect(c.held).toEqual([]);
    expect((await progress(c)).state).toBe('paused');

    const resumed = await resumeUpgrade(client, c.clusterId);
    expect(resumed.state).toBe('running');
    expect(c.callsOf('deleteFailedUpgradePods')).toHaveLength(1);
    await eventually('first batch after resume', () => c.held.length === 1);
    expect((await progress(c)).workers.batch).toEqual({ number: 4, size: 1, nodes: ['edge-8'] });
    c.hold = false;
    c.release();
    const result = await handle.result();
    expect(result).toMatchObject({ state: 'succeeded', workers: { total: 40, upgraded: 40 } });
    expect(c.observedBatchSizes()).toEqual([1, 2, 4, ...doubling(33, 4)]);
  });

  test('status answers a slow progress query with the progress the run published in its memo, the same as the query', async () => {
    const c = cluster('memo', makeNodes({ edge: 20, version: FROM })); // cap 2
    c.hold = true;
    const handle = await start(c);
    await eventually('batch 1', () => c.held.length === 1);
    c.release();
    await eventually('batch 2 in flight', () => c.held.length === 2);
    const queried = await progress(c);
    expect(queried.workers).toMatchObject({ upgraded: 1, batch: { number: 2, size: 2 } });
    // No patience at all: the query cannot answer first, so the memo does.
    const reading = await readProgress(client, c.clusterId, { patienceMs: 0 });
    expect(reading.source).toBe('memo');
    expect(reading.progress).toEqual(queried);
    expect(await reading.query).toEqual(queried);
    // Paused: the memo follows at once.
    await pauseUpgrade(client, c.clusterId);
    expect((await readProgress(client, c.clusterId, { patienceMs: 0 })).progress).toMatchObject({ state: 'paused' });
    c.hold = false;
    c.release();
    await resumeUpgrade(client, c.clusterId);
    expect((await handle.result()).state).toBe('succeeded');
  });

  test('a failing node auto-pauses once in-flight nodes finish; resume deletes failed pods and retries it first', async () => {
    const c = cluster('fail', makeNodes({ edge: 30, version: FROM }), { upgradeMs: 20 }); // cap 3: batches [1] [2,3] [4,5,6]
    c.failUpgrade.add('edge-5');
    const handle = await start(c);
    const p = await eventually('auto-pause', async () => {
      const x = await progress(c);
      return x.state === 'paused' ? x : null;
    });
    expect(p.pause).toMatchObject({ reason: 'error' });
    expect(p.lastError).toMatchObject({ node: 'edge-5', step: 'upgrade-pod', logTail: expect.stringContaining('swap is on') });
    expect(p.lastError!.message).toMatch(/exit code 1/);
    expect(p.lastError!.message).toMatch(/left cordoned/);
    expect(p.workers.upgraded).toBe(5);
    expect(c.observedBatches()).toEqual([['edge-1'], ['edge-2', 'edge-3'], ['edge-4', 'edge-5', 'edge-6']]); // no new node started
    expect(c.nodes.get('edge-5')!.unschedulable).toBe(true); // half-upgraded: left cordoned
    expect(c.nodes.get('edge-6')!.unschedulable).toBe(false);

    c.failUpgrade.clear();
    await resumeUpgrade(client, c.clusterId);
    const result = await handle.result();
    expect(result).toMatchObject({ state: 'succeeded', workers: { total: 30, upgraded: 30 } });
    const cleanupAt = c.callsOf('deleteFailedUpgradePods')[0]!.seq;
    const afterResume = c.callsOf('cordonNode').filter((x) => x.seq > cleanupAt);
    expect(afterResume[0]!.node).toBe('edge-5');
    expect(c.observedBatchSizes()).toEqual([1, 2, 3, ...doubling(25, 3)]);
  });

  test('a failed drain uncordons the node and pauses; cancel then leaves unstarted nodes untouched', async () => {
    const c = cluster('drain', makeNodes({ edge: 5, version: FROM }));
    c.failDrain.add('edge-2');
    const handle = await start(c);
    const p = await eventually('auto-pause', async () => {
      const x = await progress(c);
      return x.state === 'paused' ? x : null;
    });
    expect(p.lastError).toMatchObject({ node: 'edge-2', step: 'drain' });
    expect(p.lastError!.message).toMatch(/PodDisruptionBudget shop\/web-pdb/);
    expect(p.lastError!.message).toMatch(/uncordoned; nothing was changed/);
    expect(c.nodes.get('edge-2')).toMatchObject({ unschedulable: false, kubeletVersion: FROM });
    expect(c.callsOf('runUpgradePod', 'edge-2')).toHaveLength(0);

    await cancelUpgrade(client, c.clusterId);
    const result = await handle.result();
    expect(result).toMatchObject({ state: 'cancelled', cancelReason: 'user', workers: { upgraded: 1 } });
    expect(c.touchedNodes()).toEqual(['edge-1', 'edge-2']);
  });

  test('cancel is refused while running (Update rejected, signal recorded) and accepted while paused', async () => {
    const c = cluster('cancel', makeNodes({ edge: 20, version: FROM }));
    c.hold = true;
    const handle = await start(c);
    await eventually('first node in flight', () => c.held.length === 1);

    const pauseFirst = 'cancel refused: cancel is accepted only while the upgrade is paused; pause it first';
    await expectRefused(cancelUpgrade(client, c.clusterId), pauseFirst);
    await expectRefused(resumeUpgrade(client, c.clusterId), /nothing to resume/);
    await handle.signal(cancelSignal);
    const refused = await eventually('refusal recorded', async () => (await progress(c)).refusals?.find((r) => r.command === 'cancel'));
    expect(refused.reason).toMatch(/only while the upgrade is paused/);
    expect((await progress(c)).state).toBe('running');

    await handle.signal(pauseSignal, 'stop for now');
    await eventually('paused', async () => (await progress(c)).state === 'paused');
    const accepted = await cancelUpgrade(client, c.clusterId);
    expect(accepted.state).toBe('paused'); // the in-flight node still finishes first
    c.hold = false;
    c.release();
    const result = await handle.result();
    expect(result).toMatchObject({ state: 'cancelled', cancelReason: 'user', workers: { total: 20, upgraded: 1 } });
    expect(c.touchedNodes()).toEqual(['edge-1']);
    expect(c.nodes.get('edge-1')!.kubeletVersion).toBe(TO); // finished nodes are not rolled back
    expect([...c.nodes.values()].filter((n) => n.name !== 'edge-1').every((n) => n.kubeletVersion === FROM)).toBe(true);
    expect(c.callsOf('cleanupUpgrade').map((x) => x.args.deleteRecords)).toEqual([false]);
    expect([...c.nodes.values()].some((n) => n.unschedulable)).toBe(false);
    await expectRefused(pauseUpgrade(client, c.clusterId), /pause refused/);
  });

  test('a pause longer than pauseTimeout cancels the upgrade and deletes its records', async () => {
    const c = cluster('timeout', makeNodes({ edge: 10, version: FROM }));
    c.hold = true;
    const handle = await start(c, { pauseTimeout: '3s' });
    await eventually('first node in flight', () => c.held.length === 1);
    const paused = await pauseUpgrade(client, c.clusterId);
    expect(Date.parse(paused.pause!.autoCancelAt!) - Date.parse(paused.pause!.since)).toBe(3000);
    const pausedAt = Date.now();
    c.hold = false;
    c.release();
    const result = await handle.result();
    expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(2500);
    expect(result).toMatchObject({ state: 'cancelled', cancelReason: 'pause-timeout', pause: null });
    expect(c.callsOf('cleanupUpgrade').map((x) => x.args.deleteRecords)).toEqual([true]);
    expect(c.touchedNodes()).toEqual(['edge-1']);
  });

  test('the default pause timeout is a durable 15-day timer', async () => {
    const c = cluster('fifteen', makeNodes({ edge: 3, version: FROM }));
    c.hold = true;
    const handle = await start(c);
    await eventually('first node in flight', () => c.held.length === 1);
    const paused = await pauseUpgrade(client, c.clusterId);
    expect(Date.parse(paused.pause!.autoCancelAt!) - Date.parse(paused.pause!.since)).toBe(15 * 24 * 3600_000);
    c.hold = false;
    c.release();
    const fifteenDays = 15 * 24 * 3600;
    const timer = await eventually('TimerStarted', async () => {
      const history = await handle.fetchHistory();
      return history.events?.find((e) => e.timerStartedEventAttributes)?.timerStartedEventAttributes;
    });
    const seconds = Number(timer.startToFireTimeout!.seconds);
    // The timer starts once the in-flight node finished, so it is 15 days minus that (well under a minute).
    expect(seconds).toBeLessThanOrEqual(fifteenDays);
    expect(seconds).toBeGreaterThan(fifteenDays - 60);
    await cancelUpgrade(client, c.clusterId);
    expect((await handle.result()).state).toBe('cancelled');
  });

  test('a second start for the same cluster is refused, naming the running upgrade; the next one owns its cordons anew', async () => {
    const c = cluster('twice', makeNodes({ edge: 2, version: FROM }));
    c.hold = true;
    const first = await start(c);
    await expect(start(c)).rejects.toThrow(UpgradeAlreadyRunningError);
    await expect(start(c)).rejects.toThrow(`already running as workflow ${workflowIdFor(c.clusterId)}`);
    expect(first.workflowId).toBe(workflowIdFor(c.clusterId));
    await eventually('first node in flight', () => c.held.length === 1);
    await pauseUpgrade(client, c.clusterId);
    await cancelUpgrade(client, c.clusterId);
    c.hold = false;
    c.release();
    expect((await first.result()).state).toBe('cancelled');

    // The next upgrade shares the workflow ID, not the run chain its pre-check and cordons are recorded under.
    const second = await start(c);
    expect((await second.result()).state).toBe('succeeded');
    expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
    expect(c.callsOf('precheck').map((x) => x.args.runChain)).toEqual([first.firstExecutionRunId, second.firstExecutionRunId]);
    const chains = c.callsOf('cordonNode').map((x) => x.args.runChain);
    expect([chains[0], chains.at(-1)]).toEqual([first.firstExecutionRunId, second.firstExecutionRunId]);
  });

  test.each([
    ['a malformed version', { targetVersion: 'v1.3x' }, FROM, /targetVersion 'v1.3x' is not a Kubernetes version like v1.34.4/, []],
    [
      'a downgrade',
      { targetVersion: 'v1.33.0' },
      FROM,
      /older than the control plane's v1.33.5: downgrades are not supported/,
      ['inventory'],
    ],
    [
      'a two-minor jump',
      { targetVersion: 'v1.35.0' },
      FROM,
      /more than one minor version above the control plane's v1.33.5/,
      ['inventory'],
    ],
    ['an unknown cluster', { clusterId: 'nowhere' }, FROM, /unknown cluster 'nowhere'/, ['inventory']],
  ])('%s fails at once, before any node activity, with a clear message', async (_what, override, cp, message, calls) => {
    const c = cluster('invalid', makeNodes({ masters: 1, edge: 2, version: FROM }), { controlPlaneVersion: cp });
    const request = { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, ...override };
    // Straight to Temporal, past the client-side validation, to show the workflow's own checks.
    const handle = await client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUE,
      workflowId: workflowIdFor(request.clusterId),
      args: [request],
    });
    const failure = await expectApplicationFailure(handle.result(), 'InvalidUpgradeRequest');
    expect(failure.message).toMatch(message);
    // From the workflow's own history: an unknown cluster has no fake cluster whose calls could be counted.
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(scheduled).toEqual(calls);
    expect(c.touchedNodes()).toEqual([]);
    const p = await upgradeHandle(client, request.clusterId).query<Progress>('progress');
    expect(p.state).toBe('failed');
    expect(p.failure).toMatch(message);
  });

  test('startUpgrade refuses bad input before contacting the server', async () => {
    await expect(startUpgrade(client, { clusterId: 'never-started', gate: NO_GATE, targetVersion: '1.34' })).rejects.toThrow(
      InvalidUpgradeRequestError,
    );
    await expect(upgradeHandle(client, 'never-started').describe()).rejects.toThrow();
  });

  test('a pre-check error stops before any node is touched and the report stays queryable', async () => {
    const c = cluster('precheck', makeNodes({ masters: 1, edge: 2, version: FROM }));
    c.precheckItems = [
      { id: 'swap', result: 'error', message: 'swap is enabled', nodes: ['edge-2'] },
      { id: 'disk', result: 'normal', message: 'enough disk', nodes: [] },
    ];
    const handle = await start(c);
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    const p = await progress(c);
    expect(p).toMatchObject({
      phase: 'precheck',
      state: 'failed',
      precheck: { status: 'failed', items: [...c.precheckItems, ...c.probeItems] },
    });
    expect(p.failure).toMatch(/swap: swap is enabled \(edge-2\)/);
    expect(c.touchedNodes()).toEqual([]);
  });

  test('pre-check warnings block unless acceptWarnings', async () => {
    const items = [{ id: 'pdb', result: 'warning' as const, message: 'PDB allows no disruption', nodes: ['edge-1'] }];
    const blocked = cluster('warn', makeNodes({ edge: 2, version: FROM }));
    blocked.precheckItems = items;
    await expect((await start(blocked)).result()).rejects.toThrow(WorkflowFailedError);
    expect((await progress(blocked)).failure).toMatch(/acceptWarnings/);
    expect(blocked.touchedNodes()).toEqual([]);

    const accepted = cluster('warn', makeNodes({ edge: 2, version: FROM }));
    accepted.precheckItems = items;
    const result = await (await start(accepted, { acceptWarnings: true })).result();
    expect(result).toMatchObject({ state: 'succeeded', precheck: { status: 'warning' } });
  });
});
