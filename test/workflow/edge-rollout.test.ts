/**
 * Edge-grade rollout (#12) on a real dev server with fake clusters: offline workers refused
 * untouched or deferred, the failure budget with quarantine, and the health gate between batches.
 */
import type { Client } from '@temporalio/client';
import { getProgress, pauseUpgrade, resumeUpgrade, retryQuarantined, startUpgrade } from '../../src/api.js';
import type { GateCheck } from '../../src/activities/types.js';
import type { ClusterNode, Progress, UpgradeRequest } from '../../src/planning/types.js';
import { makeNodes, type FakeCluster } from '../helpers/fake-activities.js';
import { eventually } from '../helpers/poll.js';
import { FROM, TO, useFakeFleet } from '../helpers/fleet-env.js';
import { NO_GATE } from '../helpers/requests.js';

const f = useFakeFleet();
let client: Client;
beforeAll(() => {
  client = f.client;
});

const cluster = (name: string, nodes: ClusterNode[], upgradeMs = 20): FakeCluster => f.cluster(name, nodes, { upgradeMs });
const progress = (c: FakeCluster): Promise<Progress> => getProgress(client, c.clusterId);
const start = (c: FakeCluster, extra: Partial<UpgradeRequest> = {}) =>
  startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, ...extra });
const until = (c: FakeCluster, label: string, ok: (p: Progress) => boolean, ms = 30_000) =>
  eventually(
    label,
    async () => {
      const p = await progress(c);
      return ok(p) ? p : null;
    },
    ms,
  );
/** Upgrade pods in the order they started. */
const upgraded = (c: FakeCluster) => c.callsOf('runUpgradePod').map((x) => x.node!);

describe('offline workers without deferral (the default)', () => {
  test('a worker offline at its turn is not touched: the upgrade pauses at once naming it; after resume it goes first', async () => {
    const c = cluster('offline-fail', makeNodes({ edge: 8, version: FROM }));
    c.hold = true;
    const handle = await start(c, { batch: { maxPercent: 50 } });
    // edge-1 (batch 1) is in flight; edge-2 goes offline before batch 2.
    await eventually('batch 1 in flight', async () => c.held.length === 1);
    c.nodes.get('edge-2')!.ready = false;
    c.hold = false;
    c.release();

    const paused = await until(c, 'paused', (p) => p.state === 'paused');
    expect(paused.pause).toMatchObject({ reason: 'error' });
    expect(paused.lastError).toMatchObject({ node: 'edge-2', step: 'offline' });
    expect(paused.lastError!.message).toMatch(/edge-2 is offline.*nothing was changed on it/);
    const edge2 = c.nodes.get('edge-2')!;
    expect(edge2.unschedulable).toBe(false);
    expect(c.callsOf('drainNode', 'edge-2')).toHaveLength(0);
    expect(c.callsOf('runUpgradePod', 'edge-2')).toHaveLength(0);
    // Batch 2 was edge-2 and edge-3: edge-3 finished, nothing after it started.
    expect(upgraded(c)).toEqual(['edge-1', 'edge-3']);

    edge2.ready = true;
    await resumeUpgrade(client, c.clusterId);
    const result = await handle.result();
    expect(result.state).toBe('succeeded');
    expect(result.partial).toBeUndefined();
    expect(upgraded(c)[2]).toBe('edge-2');
    expect(new Set(upgraded(c)).size).toBe(8);
  });
});

describe("offline: 'defer'", () => {
  test('offline workers (at pre-check, before their batch) are deferred; the rest finish; each is upgraded once back', async () => {
    const nodes = makeNodes({ edge: 12, version: FROM });
    nodes.find((n) => n.name === 'edge-12')!.ready = false; // offline at pre-check time
    const c = cluster('defer', nodes);
    c.hold = true;
    const handle = await start(c, { offline: 'defer' });
    // Two more go offline while batch 1 is in flight.
    await eventually('batch 1 in flight', async () => c.held.length === 1);
    c.nodes.get('edge-5')!.ready = false;
    c.nodes.get('edge-9')!.ready = false;
    c.hold = false;
    c.release();

    const waiting = await until(c, 'waiting for deferred workers', (p) => p.workers.waiting === 'deferred');
    expect(waiting.state).toBe('running');
    expect(waiting.phase).toBe('workers');
    expect(waiting.workers.upgraded).toBe(9);
    expect(waiting.workers.deferred!.map((d) => d.node).sort()).toEqual(['edge-12', 'edge-5', 'edge-9']);
    expect(waiting.workers.deferred!.find((d) => d.node === 'edge-12')!.reason).toMatch(/offline at pre-check/);
    expect(waiting.workers.deferred!.find((d) => d.node === 'edge-5')!.reason).toMatch(/edge-5 is offline/);
    for (const n of ['edge-5', 'edge-9', 'edge-12']) expect(c.nodes.get(n)!.unschedulable).toBe(false);
    expect(waiting.precheck.status).toBe('passed');

    c.nodes.get('edge-9')!.ready = true;
    await until(c, 'edge-9 upgraded', (p) => p.workers.upgraded === 10);
    expect((await progress(c)).workers.deferred!.map((d) => d.node).sort()).toEqual(['edge-12', 'edge-5']);
    c.nodes.get('edge-5')!.ready = true;
    c.nodes.get('edge-12')!.ready = true;

    const result = await handle.result();
    expect(result).toMatchObject({ state: 'succeeded', workers: { upgraded: 12, deferred: [], waiting: null } });
    expect(result.partial).toBeUndefined();
    expect(upgraded(c).slice(0, 9)).not.toContain('edge-9');
    expect(upgraded(c)[9]).toBe('edge-9');
    expect(new Set(upgraded(c)).size).toBe(12);
  });

  test('a worker still offline past deferTimeout is left out: succeeded, partial, naming it', async () => {
    const c = cluster('defer-expired', makeNodes({ edge: 4, version: FROM }));
    c.nodes.get('edge-3')!.ready = false;
    const result = await (await start(c, { offline: 'defer', deferTimeout: '3s' })).result();
    expect(result).toMatchObject({ state: 'succeeded', partial: true, workers: { upgraded: 3 } });
    expect(result.workers.deferred).toEqual([expect.objectContaining({ node: 'edge-3', expired: true })]);
    expect(c.callsOf('runUpgradePod', 'edge-3')).toHaveLength(0);
  });

  test('a worker that went offline after we cordoned it and stays away past deferTimeout ends uncordoned (#25)', async () => {
    const c = cluster('defer-cordoned', makeNodes({ edge: 4, version: FROM }));
    c.offlineAfterCordon.add('edge-3');
    const result = await (await start(c, { offline: 'defer', deferTimeout: '3s' })).result();
    expect(result).toMatchObject({ state: 'succeeded', partial: true, workers: { upgraded: 3 } });
    expect(result.workers.deferred).toEqual([expect.objectContaining({ node: 'edge-3', expired: true })]);
    expect(result.workers.deferred![0]!.kept).toBeUndefined();
    expect(c.callsOf('cordonNode', 'edge-3')).toHaveLength(1);
    expect(c.callsOf('releaseExpiredDeferred').map((x) => x.args.nodes)).toEqual([['edge-3']]);
    expect(c.nodes.get('edge-3')).toMatchObject({ unschedulable: false, cordonedByUs: false });
  });

  test('a pause while waiting for deferred workers stops the wait; after resume the wait goes on', async () => {
    const c = cluster('defer-pause', makeNodes({ edge: 3, version: FROM }));
    c.nodes.get('edge-2')!.ready = false;
    const handle = await start(c, { offline: 'defer' });
    await until(c, 'waiting', (p) => p.workers.waiting === 'deferred');
    const paused = await pauseUpgrade(client, c.clusterId, 'site visit');
    expect(paused.state).toBe('paused');
    c.nodes.get('edge-2')!.ready = true;
    // Paused: the node that came back is not upgraded.
    await new Promise((r) => setTimeout(r, 1500));
    expect(c.callsOf('runUpgradePod', 'edge-2')).toHaveLength(0);
    await resumeUpgrade(client, c.clusterId);
    expect((await handle.result()).state).toBe('succeeded');
    expect(c.callsOf('runUpgradePod', 'edge-2')).toHaveLength(1);
  });
});

describe('failure budget (maxFailures)', () => {
  test('10% of 20 workers: two failures are quarantined (cordoned, pods kept) and the upgrade completes partial', async () => {
    const c = cluster('budget', makeNodes({ edge: 20, version: FROM }));
    c.failUpgrade.add('edge-4');
    c.failUpgrade.add('edge-11');
    const result = await (await start(c, { maxFailures: '10%' })).result();
    expect(result).toMatchObject({ state: 'succeeded', partial: true, workers: { upgraded: 18 } });
    expect(result.workers.quarantined!.map((q) => q.node).sort()).toEqual(['edge-11', 'edge-4']);
    expect(result.workers.quarantined![0]!.step).toBe('upgrade-pod');
    for (const n of ['edge-4', 'edge-11']) {
      expect(c.nodes.get(n)!.unschedulable).toBe(true);
      expect(c.nodes.get(n)!.quarantined).toMatch(/exit code 1/);
    }
    expect(c.callsOf('deleteFailedUpgradePods')).toHaveLength(0); // pods kept
  });

  test('a third failure over the budget pauses naming all quarantined workers; resume retries them first', async () => {
    const c = cluster('budget-over', makeNodes({ edge: 20, version: FROM }));
    for (const n of ['edge-2', 'edge-5', 'edge-9']) c.failUpgrade.add(n);
    const handle = await start(c, { maxFailures: 2 });
    const paused = await until(c, 'paused', (p) => p.state === 'paused');
    expect(paused.pause!.reason).toBe('error');
    expect(paused.lastError!.message).toMatch(/3 workers failed, over the failure budget of 2: edge-2 .*edge-5 .*edge-9/);
    c.failUpgrade.clear();
    const before = upgraded(c).length;
    await resumeUpgrade(client, c.clusterId);
    const result = await handle.result();
    expect(result).toMatchObject({ state: 'succeeded', workers: { upgraded: 20, quarantined: [] } });
    expect(result.partial).toBeUndefined();
    expect(
      upgraded(c)
        .slice(before, before + 3)
        .sort(),
    ).toEqual(['edge-2', 'edge-5', 'edge-9']);
    expect(c.callsOf('deleteFailedUpgradePods')).toHaveLength(1);
    expect(c.nodes.get('edge-5')!.quarantined).toBeUndefined();
  });

  test('failures over the budget in the last batch pause too, instead of ending succeeded; resume retries them', async () => {
    // 10 workers in batches of 1, 2, 4, 3: all three failures are in the last batch.
    const c = cluster('budget-last', makeNodes({ edge: 10, version: FROM }));
    for (const n of ['edge-8', 'edge-9', 'edge-10']) c.failUpgrade.add(n);
    const handle = await start(c, { maxFailures: 2, batch: { maxPercent: 50 } });
    const paused = await until(c, 'paused or ended', (p) => p.state !== 'running');
    expect(paused).toMatchObject({ state: 'paused', pause: { reason: 'error' }, workers: { upgraded: 7 } });
    expect(paused.lastError!.message).toMatch(/^3 workers failed, over the failure budget of 2: /);
    for (const n of ['edge-8', 'edge-9', 'edge-10']) expect(paused.lastError!.message).toContain(`${n} (upgrade-pod)`);
    c.failUpgrade.clear();
    await resumeUpgrade(client, c.clusterId);
    expect(await handle.result()).toMatchObject({ state: 'succeeded', workers: { upgraded: 10, quarantined: [] } });
    expect(upgraded(c).slice(-3).sort()).toEqual(['edge-10', 'edge-8', 'edge-9']);
  });

  test('retryQuarantined retries quarantined workers while the upgrade runs', async () => {
    const c = cluster('budget-retry', makeNodes({ edge: 10, version: FROM }), 300);
    c.failUpgrade.add('edge-1');
    const handle = await start(c, { maxFailures: 3 });
    await until(c, 'edge-1 quarantined', (p) => (p.workers.quarantined ?? []).length === 1);
    c.failUpgrade.clear();
    const p = await retryQuarantined(client, c.clusterId);
    expect(p.workers.quarantined).toEqual([]);
    const result = await handle.result();
    expect(result).toMatchObject({ state: 'succeeded', workers: { upgraded: 10 } });
    expect(result.partial).toBeUndefined();
    expect(c.callsOf('runUpgradePod', 'edge-1')).toHaveLength(2);
    await expect(retryQuarantined(client, c.clusterId)).rejects.toThrow(
      /retry-quarantined refused: the upgrade has already finished \(completed/,
    );
  });
});

describe('health gate', () => {
  const ok = (name = 'nodes'): GateCheck => ({ name, ok: true, message: 'all Ready' });
  const bad = (message: string): GateCheck => ({ name: 'workloads', ok: false, message });

  test('the next batch starts only after every check held for stableFor; a flap restarts the window', async () => {
    const c = cluster('gate-flap', makeNodes({ edge: 3, version: FROM }));
    let flaps = 0;
    c.health = (args) => (args.nodes.includes('edge-1') && flaps++ < 3 ? [ok(), bad('shop/pos-api: 0/1 available')] : [ok()]);
    const handle = await start(c, { gate: { stableFor: '3s', timeout: '1m' } });
    const gating = await until(c, 'gate after batch 1', (p) => p.workers.gate != null);
    expect(gating.workers.gate!.nodes).toEqual(['edge-1']);
    await handle.result();
    const evals = c.callsOf('evaluateHealth').filter((x) => x.args.nodes.includes('edge-1'));
    const firstAfter = c.calls.find((x) => x.activity === 'cordonNode' && x.node === 'edge-2')!;
    // Three failing evaluations, then ok for 3 s at 1 s intervals: at least four more before batch 2.
    expect(evals.length).toBeGreaterThanOrEqual(7);
    expect(evals.every((e) => e.seq < firstAfter.seq)).toBe(true);
  });

  test('a check failing past gate.timeout pauses (health-gate) naming it; resume runs the gate again', async () => {
    const c = cluster('gate-fail', makeNodes({ edge: 3, version: FROM }));
    let healthy = false;
    const unready = bad('Deployment shop/pos-api: 1/2 available (pod pos-api-x not Ready on edge-1)');
    c.health = () => (healthy ? [ok()] : [ok(), unready]);
    const handle = await start(c, { gate: { stableFor: '1s', timeout: '2s' } });
    const paused = await until(c, 'paused by the gate', (p) => p.state === 'paused');
    expect(paused.lastError).toMatchObject({ node: 'edge-1', step: 'health-gate' });
    expect(paused.lastError!.message).toMatch(/workloads: Deployment shop\/pos-api: 1\/2 available .*edge-1/);
    expect(paused.workers.gate!.checks.find((x) => x.name === 'workloads')!.ok).toBe(false);
    expect(c.callsOf('cordonNode', 'edge-2')).toHaveLength(0);
    healthy = true;
    await resumeUpgrade(client, c.clusterId);
    const result = await handle.result();
    expect(result.state).toBe('succeeded');
    expect(result.workers.gate).toBeNull();
  });

  test('a pause arriving during a gate: the gate finishes, no node starts until resume', async () => {
    const c = cluster('gate-pause', makeNodes({ edge: 3, version: FROM }));
    const handle = await start(c, { gate: { stableFor: '2s' } });
    await until(c, 'gate after batch 1', (p) => p.workers.gate != null);
    await pauseUpgrade(client, c.clusterId);
    const p = await until(c, 'gate passed while paused', (x) => x.workers.gate == null && x.state === 'paused');
    expect(p.workers.upgraded).toBe(1);
    await new Promise((r) => setTimeout(r, 1000));
    expect(c.callsOf('cordonNode', 'edge-2')).toHaveLength(0);
    await resumeUpgrade(client, c.clusterId);
    expect((await handle.result()).state).toBe('succeeded');
  });

  test('masters are gated too, and the drained controllers reach the gate', async () => {
    const c = cluster('gate-masters', makeNodes({ masters: 2, edge: 1, version: FROM }));
    c.evictedOwners = ['Deployment/shop/pos-api'];
    await (await start(c, { gate: { stableFor: '1s', checks: ['shop-api'], maxRestarts: 1 } })).result();
    const gates = c.callsOf('evaluateHealth');
    expect([...new Set(gates.map((g) => g.args.nodes.join(',')))]).toEqual(['cp-1', 'cp-2', 'edge-1']);
    expect(gates[0]!.args).toMatchObject({ owners: ['Deployment/shop/pos-api'], checks: ['shop-api'], maxRestarts: 1 });
  });
});
