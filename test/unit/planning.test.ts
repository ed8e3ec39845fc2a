import { batchPlan, maxBatchSize, nextBatchSize } from '../../src/planning/batches.js';
import { parseDuration } from '../../src/planning/durations.js';
import { InvalidUpgradeRequestError } from '../../src/planning/errors.js';
import { compareNodeNames, orderMasters, orderWorkers } from '../../src/planning/order.js';
import { precheckBlocker, precheckVerdict } from '../../src/planning/precheck.js';
import { validateUpgradeRequest } from '../../src/planning/request.js';
import { summarize } from '../../src/planning/summary.js';
import type { ClusterNode, PrecheckItem } from '../../src/planning/types.js';
import {
  checkNoNodeDowngrade,
  checkTargetVersion,
  checkVersionSkew,
  formatVersion,
  nodeIsDone,
  parseVersion,
} from '../../src/planning/versions.js';
import { UpgradeState } from '../../src/workflows/upgrade-state.js';

describe('batch sizes', () => {
  it.each([
    [7, [1, 1, 1, 1, 1, 1, 1]],
    [37, [1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1]],
    [100, [1, 2, 4, 8, 10, 10, 10, 10, 10, 10, 10, 10, 5]],
  ])('%i workers at the default 10%% → %j', (workers, sizes) => {
    expect(batchPlan(workers)).toEqual(sizes);
  });

  it('1000 workers double up to 100 (10%) and never exceed it', () => {
    const plan = batchPlan(1000);
    expect(plan.slice(0, 8)).toEqual([1, 2, 4, 8, 16, 32, 64, 100]);
    expect(Math.max(...plan)).toBe(100);
    expect(plan.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it.each([
    [0, 10, 1],
    [9, 10, 1],
    [10, 10, 1],
    [19, 10, 1],
    [20, 10, 2],
    [10_000, 10, 1000],
    [100, 25, 25],
    [3, 100, 3],
    // percent/100 × workers would give 28.999…, 6.999… and 56.999…: the cap is computed exactly.
    [100, 29, 29],
    [700, 1, 7],
    [100, 57, 57],
  ])('max batch for %i workers at %i%% is %i', (workers, percent, max) => {
    expect(maxBatchSize(workers, percent)).toBe(max);
  });

  it.each([
    [1, 10, 2],
    [8, 10, 10],
    [10, 10, 10],
    [1, 1, 1],
  ])('after a batch of %i with cap %i comes %i', (prev, cap, next) => {
    expect(nextBatchSize(prev, cap)).toBe(next);
  });
});

describe('node order', () => {
  const node = (name: string, kind: ClusterNode['kind'], edge = false): ClusterNode => ({
    name,
    kind,
    edge,
    kubeletVersion: 'v1.33.5',
    ready: true,
    unschedulable: false,
  });

  it.each([
    ['edge-2', 'edge-10', -1],
    ['edge-10', 'edge-9', 1],
    ['a', 'b', -1],
    ['node-1a', 'node-1b', -1],
    ['n-01', 'n-1', -1],
    ['same', 'same', 0],
    ['rack2-node10', 'rack10-node1', -1],
  ])('compareNodeNames(%s, %s) has sign %i', (a, b, sign) => {
    expect(Math.sign(compareNodeNames(a, b))).toBe(sign);
  });

  it('masters by natural name; workers cloud before edge, then by natural name', () => {
    const nodes = [
      node('edge-10', 'worker', true),
      node('cp-10', 'control-plane'),
      node('cloud-2', 'worker'),
      node('edge-9', 'worker', true),
      node('cp-2', 'control-plane'),
      node('zz-cloud', 'worker'),
    ];
    expect(orderMasters(nodes).map((n) => n.name)).toEqual(['cp-2', 'cp-10']);
    expect(orderWorkers(nodes).map((n) => n.name)).toEqual(['cloud-2', 'zz-cloud', 'edge-9', 'edge-10']);
    // Input order does not matter.
    expect(orderWorkers([...nodes].reverse()).map((n) => n.name)).toEqual(['cloud-2', 'zz-cloud', 'edge-9', 'edge-10']);
  });
});

describe('version rules', () => {
  it.each([
    ['v1.34.4', 'v1.34.4'],
    ['1.34.4', 'v1.34.4'],
    [' v1.35.0 ', 'v1.35.0'],
    ['v1.34.0-rc.1', 'v1.34.0-rc.1'],
  ])('parses %j as %s', (input, canonical) => {
    expect(formatVersion(parseVersion(input))).toBe(canonical);
  });

  it.each(['v1.34', 'latest', '', 'v1.x.4', '1.34.4.5'])('refuses malformed %j with a clear message', (input) => {
    expect(() => parseVersion(input)).toThrow(InvalidUpgradeRequestError);
    expect(() => parseVersion(input)).toThrow(/is not a Kubernetes version like v1.34.4/);
  });

  it.each([
    ['v1.34.4', 'v1.34.4'],
    ['v1.34.5', 'v1.34.4'],
    ['v1.35.0', 'v1.34.4'],
    ['v1.35.2', 'v1.34.0'],
  ])('allows %s on a %s control plane', (target, cp) => {
    expect(() => checkTargetVersion(parseVersion(target), parseVersion(cp))).not.toThrow();
  });

  it.each([
    ['v1.34.3', 'v1.34.4', /older than the control plane's v1.34.4: downgrades are not supported/],
    ['v1.33.9', 'v1.34.0', /downgrades are not supported/],
    ['v1.36.0', 'v1.34.4', /more than one minor version above the control plane's v1.34.4; upgrade to v1.35.x first/],
    ['v2.0.0', 'v1.34.4', /major version/],
  ])('refuses %s on a %s control plane', (target, cp, message) => {
    expect(() => checkTargetVersion(parseVersion(target), parseVersion(cp))).toThrow(message);
  });

  const n = (name: string, kubeletVersion: string, ready = true): ClusterNode => ({
    name,
    kind: 'worker',
    edge: true,
    kubeletVersion,
    ready,
    unschedulable: false,
  });

  it.each([
    [n('a', 'v1.34.4'), true],
    [n('a', '1.34.4'), true],
    [n('a', 'v1.34.4+k3s1'), true],
    [n('a', 'v1.34.4', false), false],
    [n('a', 'v1.33.5'), false],
    [n('a', 'garbage'), false],
  ])('node %j is done at v1.34.4: %s', (node, done) => {
    expect(nodeIsDone(node, parseVersion('v1.34.4'))).toBe(done);
  });

  const master = (name: string, kubeletVersion: string): ClusterNode => ({
    ...n(name, kubeletVersion),
    kind: 'control-plane',
    edge: false,
  });

  it('refuses a target above a managed control plane (no masters): no kubelet newer than kube-apiserver', () => {
    expect(() => checkVersionSkew(parseVersion('v1.35.0'), parseVersion('v1.34.4'), [n('edge-1', 'v1.34.4')])).toThrow(
      "targetVersion v1.35.0 is newer than the managed control plane's v1.34.4: a kubelet may not be newer than kube-apiserver",
    );
    expect(() => checkVersionSkew(parseVersion('v1.34.2'), parseVersion('v1.34.4'), [n('edge-1', 'v1.33.0')])).not.toThrow();
    expect(() =>
      checkVersionSkew(parseVersion('v1.35.0'), parseVersion('v1.34.4'), [master('cp-1', 'v1.34.4'), n('edge-1', 'v1.34.4')]),
    ).not.toThrow();
  });

  it('refuses a control-plane hop that leaves a kubelet more than three minors behind', () => {
    const nodes = [master('cp-1', 'v1.34.4'), n('edge-1', 'v1.31.9'), n('edge-2', 'v1.32.0')];
    expect(() => checkVersionSkew(parseVersion('v1.35.0'), parseVersion('v1.34.4'), nodes)).toThrow(
      /kubelet on edge-1 \(v1.31.9\) more than three minor versions behind/,
    );
    expect(() => checkVersionSkew(parseVersion('v1.34.5'), parseVersion('v1.34.4'), nodes)).not.toThrow();
  });

  it('refuses a target older than a node, naming it', () => {
    expect(() => checkNoNodeDowngrade([n('edge-1', 'v1.34.5'), n('edge-2', 'v1.34.0')], parseVersion('v1.34.4'))).toThrow(
      /older than the kubelet on edge-1 \(v1.34.5\)/,
    );
  });
});

describe('durations', () => {
  it.each([
    ['15 days', 15 * 24 * 3600_000],
    ['10m', 600_000],
    ['90s', 90_000],
    [5000, 5000],
    [undefined, 15 * 24 * 3600_000],
  ])('%j → %i ms', (value, ms) => {
    expect(parseDuration('pauseTimeout', value, '15 days')).toBe(ms);
  });

  it.each([['soon'], ['-5m'], [10], ['0s']])('refuses %j naming the field', (value) => {
    expect(() => parseDuration('drainTimeout', value, '10m')).toThrow(/drainTimeout/);
  });

  it.each([['366 days'], ['9999 days'], [366 * 24 * 3600_000]])('refuses %j as longer than 365 days', (value) => {
    expect(() => parseDuration('pauseTimeout', value, '15 days')).toThrow(
      "pauseTimeout '" + String(value) + "' is too long; it must be at most 365 days",
    );
  });

  it('accepts exactly 365 days', () => {
    expect(parseDuration('pauseTimeout', '365 days', '15 days')).toBe(365 * 24 * 3600_000);
  });
});

describe('request validation', () => {
  it('applies defaults', () => {
    const v = validateUpgradeRequest({ clusterId: 'shop-17', targetVersion: '1.34.4' });
    expect(v).toMatchObject({
      targetVersion: 'v1.34.4',
      maxBatchPercent: 10,
      pauseTimeoutMs: 1_296_000_000,
      drainTimeoutMs: 600_000,
      nodeTimeoutMs: 1_800_000,
    });
  });

  it.each([
    [{ targetVersion: 'v1.34.4' }, /clusterId is required/],
    [{ clusterId: 'x', targetVersion: 'v1.3x' }, /targetVersion 'v1.3x' is not a Kubernetes version/],
    [{ clusterId: 'x', targetVersion: 'v1.34.4', batch: { maxPercent: 0 } }, /batch.maxPercent must be above 0/],
    [{ clusterId: 'x', targetVersion: 'v1.34.4', pauseTimout: '1d' }, /pauseTimout/],
    [{ clusterId: 'x', targetVersion: 'v1.34.4', pauseTimeout: 'forever' }, /pauseTimeout 'forever' is not a duration/],
    [{ clusterId: 'bad id!', targetVersion: 'v1.34.4' }, /clusterId must be letters/],
    [null, /invalid upgrade request/],
  ])('refuses %j', (input, message) => {
    expect(() => validateUpgradeRequest(input)).toThrow(message);
  });
});

describe('precheck verdict', () => {
  const item = (result: PrecheckItem['result']): PrecheckItem => ({
    id: `check-${result}`,
    result,
    message: `it is ${result}`,
    nodes: ['edge-1'],
  });
  it.each([
    [[], 'passed'],
    [[item('normal')], 'passed'],
    [[item('normal'), item('warning')], 'warning'],
    [[item('warning'), item('error')], 'failed'],
    [[item('error')], 'failed'],
  ] as const)('%j → %s', (items, status) => {
    expect(precheckVerdict(items)).toBe(status);
  });

  it.each([
    ['failed', false, /pre-check found errors/],
    ['failed', true, /pre-check found errors/],
    ['warning', false, /acceptWarnings/],
  ] as const)('%s with acceptWarnings=%s blocks', (status, accept, message) => {
    expect(precheckBlocker({ status, items: [item(status === 'failed' ? 'error' : 'warning')] }, accept)).toMatch(message);
  });

  it.each([
    ['warning', true],
    ['passed', false],
  ] as const)('%s with acceptWarnings=%s does not block', (status, accept) => {
    expect(precheckBlocker({ status, items: [] }, accept)).toBeNull();
  });
});

describe('upgrade state', () => {
  const fresh = () => {
    const s = new UpgradeState(UpgradeState.initial('shop', 'v1.34.4'));
    s.plan({ total: 0, todo: [] }, { total: 120, todo: Array.from({ length: 120 }, (_, i) => `edge-${i + 1}`) });
    return s;
  };

  it.each([
    ['running', 'cancel', /only while the upgrade is paused/],
    ['running', 'resume', /nothing to resume/],
    ['paused', 'pause', /already paused/],
  ] as const)('while %s, %s is refused', (state, command, reason) => {
    const s = fresh();
    if (state === 'paused') s.pause('user', '2026-01-01T00:00:00.000Z');
    expect(s.refusal(command)).toMatch(reason);
  });

  it('a pause auto-cancels after the pause timeout, counted from the pause', () => {
    const s = fresh();
    s.setPauseTimeout(3 * 24 * 3600_000);
    s.pause('user', '2026-01-01T00:00:00.000Z', 'look');
    expect(s.progress.pause).toEqual({
      reason: 'user',
      since: '2026-01-01T00:00:00.000Z',
      autoCancelAt: '2026-01-04T00:00:00.000Z',
      message: 'look',
    });
  });

  it('a pause while a resume is being carried out wins: the resume is dropped and the pause starts afresh', () => {
    const s = fresh();
    s.setPauseTimeout(1000);
    s.pause('error', '2026-01-01T00:00:00.000Z');
    s.requestResume();
    expect(s.refusal('pause')).toBeNull();
    s.pause('user', '2026-01-01T00:00:05.000Z');
    expect(s.resumeRequested).toBe(false);
    expect(s.progress.pause).toMatchObject({ reason: 'user', since: '2026-01-01T00:00:05.000Z', autoCancelAt: '2026-01-01T00:00:06.000Z' });
    expect(s.progress.refusals?.at(-1)).toMatchObject({
      command: 'resume',
      reason: expect.stringMatching(/pause arrived before the resume took effect/),
    });
  });

  it('an error while a resume is pending drops the resume and keeps the pause timer of the first pause', () => {
    const s = fresh();
    s.setPauseTimeout(1000);
    s.pause('user', '2026-01-01T00:00:00.000Z');
    s.requestResume();
    s.pause('error', '2026-01-01T00:00:00.500Z', 'error on edge-2 (upgrade-pod)');
    expect(s.resumeRequested).toBe(false);
    expect(s.progress.pause).toMatchObject({
      reason: 'error',
      since: '2026-01-01T00:00:00.000Z',
      message: 'error on edge-2 (upgrade-pod)',
    });
    expect(s.progress.refusals?.at(-1)?.reason).toMatch(/paused on an error before the resume took effect: error on edge-2/);
  });

  it('refuses every command while a cancel is being cleaned up', () => {
    const s = fresh();
    s.pause('user', '2026-01-01T00:00:00.000Z');
    s.beginCancel('pause-timeout');
    for (const c of ['pause', 'resume', 'cancel'] as const)
      expect(s.refusal(c)).toMatch(/being cancelled \(the pause timeout was reached\)/);
  });

  it('a removed first master hands kubeadm upgrade apply to the next one', () => {
    const s = new UpgradeState(UpgradeState.initial('shop', 'v1.34.4'));
    s.plan(
      {
        total: 2,
        todo: [
          { name: 'cp-1', serial: 1, role: 'first-control-plane' },
          { name: 'cp-2', serial: 2, role: 'control-plane' },
        ],
      },
      { total: 0, todo: [] },
    );
    s.nodeRemoved('cp-1', 'master');
    expect(s.todoMasters).toEqual([{ name: 'cp-2', serial: 2, role: 'first-control-plane' }]);
    expect(s.progress.masters.removed).toEqual(['cp-1']);
  });

  it('refuses everything once finished', () => {
    const s = fresh();
    s.succeeded();
    for (const c of ['pause', 'resume', 'cancel'] as const) expect(s.refusal(c)).toMatch(/already succeeded/);
  });

  it('a resume restarts batches at 1 and puts unstarted nodes back', () => {
    const s = fresh();
    expect(s.workers.takeBatch()).toEqual(['edge-1']);
    s.workers.batchFinished(2);
    expect(s.workers.takeBatch()).toEqual(['edge-2', 'edge-3']);
    s.workers.failed('edge-3');
    s.workers.closeBatch();
    s.pause('error', '2026-01-01T00:00:00.000Z');
    s.resumed();
    expect(s.workers.takeBatch()).toEqual(['edge-3']);
    expect(s.progress.workers.batch).toEqual({ number: 3, size: 1, nodes: ['edge-3'] });
  });

  it('snapshot is a copy that restores the same progress', () => {
    const s = fresh();
    s.workers.takeBatch();
    const copy = new UpgradeState(s.snapshot());
    expect(copy.progress).toEqual(s.progress);
    expect(copy.todoWorkers).toEqual(s.todoWorkers);
  });

  it('summarises in one line', () => {
    const s = fresh();
    for (let i = 0; i < 37; i++) s.workers.done();
    s.workers.takeBatch();
    s.recordError({ node: 'edge-17', step: 'upgrade-pod', message: 'boom' });
    s.pause('error', '2026-01-01T00:00:00.000Z');
    s.setPhase('workers');
    expect(summarize(s.progress)).toBe('Workers 37/120 · batch 1 (1 node) · paused: error on edge-17');
  });
});
