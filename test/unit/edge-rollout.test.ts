/** Pure parts of the edge-grade rollout (#12): offline detection, the failure budget, the gate's verdict, and how progress reads. */
import type { V1Node } from '@kubernetes/client-node';
import { renderDetails } from '../../src/cli/render.js';
import { offlineReason } from '../../src/planning/cluster.js';
import { failureBudget, validateUpgradeRequest } from '../../src/planning/request.js';
import { summarize } from '../../src/planning/summary.js';
import type { Progress } from '../../src/planning/types.js';
import { gateInterval, gateVerdict } from '../../src/workflows/upgrade-gate.js';
import { UpgradeState } from '../../src/workflows/upgrade-state.js';

const NOW = Date.parse('2026-11-29T03:00:00Z');
const node = (ready: 'True' | 'False' | 'Unknown', reason?: string): V1Node => ({
  metadata: { name: 'edge-1' },
  status: { conditions: [{ type: 'Ready', status: ready, reason, message: reason ? 'Kubelet stopped posting node status.' : undefined }] },
});

describe('offlineReason', () => {
  test('Ready with a fresh Lease is online', () => {
    expect(offlineReason(node('True'), { renewTime: new Date(NOW - 5_000), leaseDurationSeconds: 40 }, NOW)).toBeNull();
  });
  test('NotReady or Unknown is offline, with the kubelet reason', () => {
    expect(offlineReason(node('Unknown', 'NodeStatusUnknown'), undefined, NOW)).toBe(
      'it is NotReady (NodeStatusUnknown: Kubelet stopped posting node status.)',
    );
    expect(offlineReason(node('False'), undefined, NOW)).toBe('it is NotReady');
  });
  test('a Lease not renewed within its duration is offline before the controller marks the node', () => {
    expect(offlineReason(node('True'), { renewTime: new Date(NOW - 41_000), leaseDurationSeconds: 40 }, NOW)).toBe(
      'its kubelet has not renewed its Lease for 41 s (lease duration 40 s)',
    );
  });
  test('a stale Lease with a fresh status post counts as online: a kubelet that just reconnected', () => {
    const back = node('True');
    back.status!.conditions![0]!.lastHeartbeatTime = new Date(NOW - 2_000);
    expect(offlineReason(back, { renewTime: new Date(NOW - 300_000), leaseDurationSeconds: 40 }, NOW)).toBeNull();
    back.status!.conditions![0]!.lastHeartbeatTime = new Date(NOW - 100_000);
    expect(offlineReason(back, { renewTime: new Date(NOW - 300_000), leaseDurationSeconds: 40 }, NOW)).toMatch(/300 s/);
  });
  test('without a readable Lease only the Ready condition counts', () => {
    expect(offlineReason(node('True'), undefined, NOW)).toBeNull();
  });
});

describe('failure budget', () => {
  test.each([
    [0, 20, 0],
    [3, 20, 3],
    ['10%', 20, 2],
    ['10%', 19, 1],
    ['12.5%', 8, 1],
    ['100%', 7, 7],
    ['0.5%', 1000, 5],
  ] as const)('maxFailures %p of %i workers allows %i', (max, workers, want) => {
    expect(failureBudget(max, workers)).toBe(want);
  });
  test.each([['ten'], ['-1'], [1.5], ['101%'], ['%']])('refuses maxFailures %p', (bad) => {
    expect(() => validateUpgradeRequest({ clusterId: 'c', targetVersion: 'v1.34.4', maxFailures: bad })).toThrow(/maxFailures/);
  });
  test('defaults: fail on offline, no budget, a 30 s gate with a 10 minute timeout; stableFor 0 turns it off', () => {
    const v = validateUpgradeRequest({ clusterId: 'c', targetVersion: 'v1.34.4', pauseTimeout: '2d' });
    expect(v).toMatchObject({ offline: 'fail', maxFailures: 0, deferTimeoutMs: 2 * 86_400_000 });
    expect(v.gate).toEqual({ stableForMs: 30_000, timeoutMs: 600_000, checks: [], maxRestarts: 3 });
    expect(validateUpgradeRequest({ clusterId: 'c', targetVersion: 'v1.34.4', gate: { stableFor: 0 } }).gate.stableForMs).toBe(0);
    expect(() => validateUpgradeRequest({ clusterId: 'c', targetVersion: 'v1.34.4', offline: 'skip' })).toThrow(/offline must be/);
  });
});

describe('gateVerdict', () => {
  const t = (over: Partial<Parameters<typeof gateVerdict>[1]>) => ({
    now: 10_000,
    since: 0,
    stableSince: null,
    failingSince: null,
    stableForMs: 3_000,
    timeoutMs: 20_000,
    ...over,
  });
  const ok = [{ name: 'nodes', ok: true, message: '' }];
  const bad = [{ name: 'nodes', ok: false, message: 'edge-1 NotReady' }];
  test('passes once every check held stableFor', () => {
    expect(gateVerdict(ok, t({ stableSince: 7_000 })).verdict).toBe('pass');
    expect(gateVerdict(ok, t({ stableSince: 8_000 })).verdict).toBe('wait');
    expect(gateVerdict(ok, t({})).stableSince).toBe(10_000);
  });
  test('a failing check restarts the window (a flap)', () => {
    expect(gateVerdict(bad, t({ stableSince: 1_000 }))).toEqual({ verdict: 'wait', stableSince: null, failingSince: 10_000 });
  });
  test('fails when a check failed for timeout, or when it never held within timeout + stableFor', () => {
    expect(gateVerdict(bad, t({ now: 30_000, failingSince: 10_000 })).verdict).toBe('fail');
    expect(gateVerdict(ok, t({ now: 23_000, stableSince: 22_000 })).verdict).toBe('fail');
  });
  test('evaluates every third of stableFor, between 1 and 10 s', () => {
    expect([gateInterval(1_000), gateInterval(30_000), gateInterval(600_000)]).toEqual([1_000, 10_000, 10_000]);
  });
});

describe('state and its rendering', () => {
  const started = () => {
    const s = new UpgradeState(UpgradeState.initial('shop', 'v1.34.4'));
    s.plan({ total: 0, todo: [] }, { total: 4, todo: ['edge-1', 'edge-2', 'edge-3', 'edge-4'] });
    s.setPhase('workers');
    return s;
  };
  test('a deferred worker leaves its batch; when back it goes first; once expired the success is partial', () => {
    const s = started();
    s.workers.takeBatch();
    s.workers.defer('edge-1', '2026-11-29T03:00:00Z', 'edge-1 is offline');
    expect(s.progress.workers.batch).toMatchObject({ size: 0, nodes: [] });
    expect(s.workers.waitingDeferred).toEqual(['edge-1']);
    s.workers.defer('edge-1', '2026-11-29T04:00:00Z', 'offline again');
    expect(s.progress.workers.deferred).toEqual([{ node: 'edge-1', since: '2026-11-29T03:00:00Z', reason: 'offline again' }]);
    s.workers.deferredBack(['edge-1']);
    expect(s.todoWorkers[0]).toBe('edge-1');
    s.workers.defer('edge-2', '2026-11-29T03:00:00Z', 'edge-2 is offline');
    s.workers.deferExpired('edge-2');
    expect(s.workers.waitingDeferred).toEqual([]);
    s.succeeded();
    expect(s.progress.partial).toBe(true);
    expect(summarize(s.progress)).toBe('Masters 0/0, workers 0/4 · deferred 1 · succeeded partially: 1 deferred (edge-2) not at v1.34.4');
    expect(renderDetails(s.progress)).toContain(
      'Deferred (left out: offline past the defer timeout): edge-2 since 2026-11-29T03:00:00Z: edge-2 is offline',
    );
  });
  test('quarantined workers are requeued first on retry; retryQuarantined is refused without any or while paused', () => {
    const s = started();
    expect(s.refusal('retryQuarantined')).toBe('no worker is quarantined');
    s.workers.quarantine({ node: 'edge-9', step: 'upgrade-pod', message: 'exit code 1', at: 'now' });
    expect(s.refusal('retryQuarantined')).toBeNull();
    s.pause('user', '2026-11-29T03:00:00Z');
    expect(s.refusal('retryQuarantined')).toMatch(/resume retries the quarantined workers/);
    s.requeueQuarantined();
    expect(s.todoWorkers[0]).toBe('edge-9');
    expect(s.quarantined).toEqual([]);
  });
  test('status shows the running gate with each check', () => {
    const p: Progress = started().progress;
    p.workers.gate = {
      nodes: ['edge-1'],
      since: '2026-11-29T03:00:00Z',
      stableSince: null,
      checks: [
        { name: 'nodes', ok: true, message: '1 node(s) Ready at v1.34.4' },
        { name: 'workloads', ok: false, message: 'Deployment shop/pos-api: 0/1 available' },
      ],
    };
    expect(summarize(p)).toBe('Workers 0/4 · health gate: failing workloads');
    expect(renderDetails(p)).toEqual([
      'Health gate on 1 node(s) since 2026-11-29T03:00:00Z: not holding yet',
      '  ok   nodes: 1 node(s) Ready at v1.34.4',
      '  FAIL workloads: Deployment shop/pos-api: 0/1 available',
    ]);
  });
});
