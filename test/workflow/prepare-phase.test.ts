/**
 * The prepare phase (cloud workers, between the pre-check and the masters) of the real workflow on
 * a dev server, with in-memory fake clusters: no cloud workers → no prepare (and no new command);
 * prepare on exactly the cloud workers before any master or worker is touched; a failure pauses
 * like any node failure and resume retries that node first; a pause keeps the prepare progress;
 * cancel while paused in prepare; offline
 * cloud workers pause, or with offline 'defer' are skipped.
 */
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { cancelUpgrade, getProgress, pauseUpgrade, resumeUpgrade, startUpgrade, type UpgradeHandle } from '../../src/api.js';
import type { ClusterNode, Progress, UpgradeRequest } from '../../src/planning/types.js';
import { Patch } from '../../src/workflows/patches.js';
import { PREPARE_CONCURRENCY } from '../../src/workflows/upgrade-prepare.js';
import { makeNodes, type FakeCluster } from '../helpers/fake-activities.js';
import { FROM, TO, useFakeFleet } from '../helpers/fleet-env.js';
import { eventually } from '../helpers/poll.js';
import { NO_GATE } from '../helpers/requests.js';

const f = useFakeFleet();

/** 2 masters, `cloud` cloud workers marked as cloud nodes (as inventory does with the worker's cloudNodeLabel), 3 edge workers. */
function nodes(cloud = 2, labelled = true): ClusterNode[] {
  return makeNodes({ masters: 2, cloud, edge: 3, version: FROM }).map((n) =>
    labelled && n.name.startsWith('cloud-') ? { ...n, cloud: true } : n,
  );
}

const start = (c: FakeCluster, extra: Partial<UpgradeRequest> = {}): Promise<UpgradeHandle> =>
  startUpgrade(f.client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, ...extra });
const progress = (c: FakeCluster): Promise<Progress> => getProgress(f.client, c.clusterId);
/** The progress once the upgrade is no longer running (paused, or ended). */
const stopped = (c: FakeCluster): Promise<Progress> =>
  eventually('paused or ended', async () => {
    const p = await progress(c);
    return p.state !== 'running' ? p : undefined;
  });

/** The patch IDs the run recorded (markers of `patched()`). */
async function patchesOf(handle: UpgradeHandle): Promise<string[]> {
  const { events } = await handle.fetchHistory();
  return (events ?? []).flatMap((e) => {
    const payload = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0];
    return payload ? [defaultPayloadConverter.fromPayload<{ id: string }>(payload as Payload).id] : [];
  });
}

/** Sequence number of the first call of `activity` (Infinity when there is none). */
const firstSeq = (c: FakeCluster, activity: 'cordonNode' | 'runUpgradePod' | 'runPreparePod') =>
  Math.min(...c.callsOf(activity).map((x) => x.seq));

test('without cloud workers there is no prepare phase: no prepare call, no progress.prepare, no prepare-phase marker', async () => {
  // Cloud workers by ordering (edge: false) but without the cloud-node label: not prepared.
  const c = f.cluster('prepare-none', nodes(2, false));
  const handle = await start(c);
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'succeeded', masters: { upgraded: 2 }, workers: { total: 5, upgraded: 5 } });
  expect(result.prepare).toBeUndefined();
  expect(c.callsOf('runPreparePod')).toEqual([]);
  const patches = await patchesOf(handle);
  expect(patches).toContain(Patch.VersionSkew); // markers are read correctly
  expect(patches).not.toContain(Patch.PreparePhase);
});

test('prepare runs on exactly the cloud workers, before the first master is touched; they are upgraded later like any worker', async () => {
  const c = f.cluster('prepare-order', nodes());
  const handle = await start(c);
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'succeeded', prepare: { total: 2, done: 2, current: [] }, workers: { upgraded: 5 } });
  // Both in one group (up to PREPARE_CONCURRENCY at once), so either may start first.
  expect(
    c
      .callsOf('runPreparePod')
      .map((x) => x.node)
      .sort(),
  ).toEqual(['cloud-1', 'cloud-2']);
  expect(c.callsOf('runPreparePod').every((x) => x.role === 'worker' && x.args.nodeTimeoutMs > 0)).toBe(true);
  const lastPrepare = Math.max(...c.callsOf('runPreparePod').map((x) => x.seq));
  expect(lastPrepare).toBeLessThan(firstSeq(c, 'cordonNode'));
  expect(c.callsOf('cordonNode')[0]!.node).toBe('cp-1');
  expect(c.callsOf('runUpgradePod').map((x) => x.node)).toEqual(expect.arrayContaining(['cloud-1', 'cloud-2']));
  expect(await patchesOf(handle)).toContain(Patch.PreparePhase);
});

test('a prepare failure pauses (step prepare, log tail), touching no node; resume deletes the pod and retries it first', async () => {
  const c = f.cluster('prepare-fail', nodes(3));
  c.failPrepare.add('cloud-2');
  const handle = await start(c);
  const paused = await eventually('paused on cloud-2', async () => {
    const p = await progress(c);
    return p.state === 'paused' ? p : undefined;
  });
  expect(paused).toMatchObject({
    phase: 'prepare',
    pause: { reason: 'error' },
    prepare: { total: 3, done: 2, current: [] },
    lastError: { node: 'cloud-2', step: 'prepare', logTail: expect.stringContaining('MiB free') },
  });
  // The other two of the group finished; nothing was cordoned or upgraded.
  expect(c.callsOf('cordonNode')).toEqual([]);
  expect(c.callsOf('runUpgradePod')).toEqual([]);
  expect(c.hasFailedPod('prepare-cloud-2')).toBe(true);

  c.failPrepare.delete('cloud-2');
  const resumedAt = c.calls.length;
  await resumeUpgrade(f.client, c.clusterId);
  const result = await handle.result();
  const after = c.calls.slice(resumedAt).map((x) => `${x.activity}${x.node ? ` ${x.node}` : ''}`);
  expect(after.slice(0, 2)).toEqual(['deleteFailedUpgradePods', 'runPreparePod cloud-2']);
  expect(c.hasFailedPod('prepare-cloud-2')).toBe(false);
  expect(result).toMatchObject({ state: 'succeeded', prepare: { total: 3, done: 3 }, masters: { upgraded: 2 }, workers: { upgraded: 6 } });
  // Without a failure budget nothing is quarantined: the new path (and its marker) is not taken.
  expect(await patchesOf(handle)).not.toContain(Patch.PrepareQuarantine);
});

test('a pause during prepare lets the group finish, keeps the prepare progress, and resume prepares the rest first', async () => {
  // One more cloud worker than a group holds: the first group is in flight when the pause comes.
  const n = PREPARE_CONCURRENCY + 1;
  const cloud = Array.from({ length: n }, (_, i) => `cloud-${i + 1}`);
  const c = f.cluster('prepare-pause', nodes(n));
  c.hold = true;
  const handle = await start(c);
  await eventually('the first group in flight', () => c.held.length === PREPARE_CONCURRENCY);
  expect((await progress(c)).prepare).toEqual({ total: n, done: 0, current: cloud.slice(0, PREPARE_CONCURRENCY) });
  await pauseUpgrade(f.client, c.clusterId);
  c.release();
  const paused = await eventually('paused with the group done', async () => {
    const p = await progress(c);
    return p.state === 'paused' && p.prepare?.done === PREPARE_CONCURRENCY ? p : undefined;
  });
  expect(paused).toMatchObject({
    phase: 'prepare',
    pause: { reason: 'user' },
    prepare: { total: n, done: PREPARE_CONCURRENCY, current: [] },
  });
  expect(c.callsOf('runPreparePod')).toHaveLength(PREPARE_CONCURRENCY);
  c.hold = false;
  await resumeUpgrade(f.client, c.clusterId);
  const result = await handle.result();
  expect(c.callsOf('runPreparePod').map((x) => x.node)[PREPARE_CONCURRENCY]).toBe(cloud[n - 1]);
  expect(result).toMatchObject({ state: 'succeeded', prepare: { total: n, done: n }, workers: { upgraded: n + 3 } });
});

test('cancel while paused in prepare: cleanup runs, nothing was cordoned, the upgrade ends cancelled', async () => {
  const c = f.cluster('prepare-cancel', nodes());
  c.failPrepare.add('cloud-1');
  const handle = await start(c);
  await eventually('paused', async () => (await progress(c)).state === 'paused');
  await cancelUpgrade(f.client, c.clusterId);
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'cancelled', cancelReason: 'user', phase: 'prepare', masters: { upgraded: 0 } });
  expect(c.callsOf('cleanupUpgrade')).toHaveLength(1);
  expect(c.callsOf('cordonNode')).toEqual([]);
  expect([...c.nodes.values()].some((n) => n.unschedulable)).toBe(false);
});

test('an offline cloud worker pauses the upgrade (step offline); with offline defer it is skipped in prepare, deferred later', async () => {
  const failing = f.cluster('prepare-offline', nodes());
  failing.nodes.get('cloud-1')!.ready = false;
  await start(failing);
  const p = await eventually('paused', async () => {
    const x = await progress(failing);
    return x.state === 'paused' ? x : undefined;
  });
  expect(p).toMatchObject({ phase: 'prepare', lastError: { node: 'cloud-1', step: 'offline' }, prepare: { done: 1 } });
  expect(failing.callsOf('cordonNode')).toEqual([]);

  const deferring = f.cluster('prepare-defer', nodes());
  deferring.nodes.get('cloud-1')!.ready = false;
  const handle = await start(deferring, { offline: 'defer', deferTimeout: '2s' });
  const result = await handle.result();
  expect(result.prepare).toMatchObject({ total: 2, done: 1, skipped: [{ node: 'cloud-1', reason: expect.stringContaining('offline') }] });
  expect(result).toMatchObject({ state: 'succeeded', partial: true, workers: { deferred: [{ node: 'cloud-1', expired: true }] } });
  expect(deferring.callsOf('cordonNode', 'cloud-1')).toEqual([]);
});

test('with a failure budget a failed prepare quarantines the cloud worker (not upgraded, listed, partial), not a pause', async () => {
  const c = f.cluster('prepare-budget', nodes(3));
  c.failPrepare.add('cloud-2');
  const handle = await start(c, { maxFailures: 1 });
  const ended = await eventually('ended or paused', async () => {
    const p = await progress(c);
    return p.state === 'succeeded' || p.state === 'paused' ? p : undefined;
  });
  expect(ended).toMatchObject({
    state: 'succeeded',
    partial: true,
    prepare: { total: 3, done: 2 },
    masters: { upgraded: 2 },
    workers: { total: 6, upgraded: 5, quarantined: [{ node: 'cloud-2', step: 'prepare' }] },
  });
  // Labelled with the reason, its failed prepare pod kept; never cordoned nor upgraded.
  expect(c.nodes.get('cloud-2')!.quarantined).toMatch(/prepare pod prepare-cloud-2 failed/);
  expect(c.hasFailedPod('prepare-cloud-2')).toBe(true);
  expect(c.callsOf('cordonNode', 'cloud-2')).toEqual([]);
  expect(c.callsOf('runUpgradePod', 'cloud-2')).toEqual([]);
  expect(c.callsOf('runUpgradePod').map((x) => x.node)).toEqual(expect.arrayContaining(['cloud-1', 'cloud-3']));
  expect(await patchesOf(handle)).toContain(Patch.PrepareQuarantine);
});

test('prepare failures over the budget pause naming them all; resume prepares them again before the masters', async () => {
  const c = f.cluster('prepare-budget-over', nodes(3));
  c.failPrepare.add('cloud-1');
  c.failPrepare.add('cloud-3');
  const handle = await start(c, { maxFailures: 1 });
  const paused = await stopped(c);
  expect(paused).toMatchObject({ state: 'paused', phase: 'prepare', pause: { reason: 'error' }, prepare: { done: 1 } });
  expect(paused.lastError!.message).toMatch(/^2 workers failed, over the failure budget of 1: /);
  for (const n of ['cloud-1', 'cloud-3']) expect(paused.lastError!.message).toContain(`${n} (prepare)`);
  expect(c.callsOf('cordonNode')).toEqual([]);

  c.failPrepare.clear();
  const resumedAt = c.calls.length;
  await resumeUpgrade(f.client, c.clusterId);
  const result = await handle.result();
  const after = c.calls.slice(resumedAt).map((x) => `${x.activity}${x.node ? ` ${x.node}` : ''}`);
  expect(after[0]).toBe('deleteFailedUpgradePods');
  expect(after.slice(1, 3).sort()).toEqual(['runPreparePod cloud-1', 'runPreparePod cloud-3']);
  expect(result).toMatchObject({ state: 'succeeded', prepare: { total: 3, done: 3 }, workers: { upgraded: 6, quarantined: [] } });
  expect(result.partial).toBeUndefined();
});

test('a cloud worker quarantined in prepare and retried by a later resume is prepared again before its upgrade', async () => {
  const c = f.cluster('prepare-budget-later', nodes(2));
  c.failPrepare.add('cloud-1');
  c.failUpgrade.add('edge-1');
  c.failUpgrade.add('edge-2');
  const handle = await start(c, { maxFailures: 1 });
  const paused = await stopped(c);
  // cloud-1 (prepare) and the first failed edge worker: over the budget of 1, in the workers phase.
  expect(paused).toMatchObject({ state: 'paused', phase: 'workers' });
  expect(paused.lastError!.message).toMatch(/over the failure budget of 1: .*cloud-1 \(prepare\)/);
  c.failPrepare.clear();
  c.failUpgrade.clear();
  await resumeUpgrade(f.client, c.clusterId);
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'succeeded', prepare: { total: 2, done: 2 }, workers: { upgraded: 5, quarantined: [] } });
  const prepares = c.callsOf('runPreparePod', 'cloud-1');
  expect(prepares).toHaveLength(2);
  expect(prepares[1]!.seq).toBeLessThan(c.callsOf('runUpgradePod', 'cloud-1')[0]!.seq);
});
