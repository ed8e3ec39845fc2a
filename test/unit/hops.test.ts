import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { apiServerPodsVersion, controlPlaneVersion } from '../../src/planning/cluster.js';
import { needsHops, planHops, type HopInput } from '../../src/planning/hops.js';
import { planNodes } from '../../src/planning/plan.js';
import { evaluatePrecheck } from '../../src/planning/precheck-items.js';
import { renderPlan } from '../../src/cli/render.js';
import { planView, withHops } from '../../src/planning/plan-view.js';
import { validateUpgradeRequest } from '../../src/planning/request.js';
import { summarize } from '../../src/planning/summary.js';
import type { ClusterNode } from '../../src/planning/types.js';
import { parseVersion } from '../../src/planning/versions.js';
import { UpgradeState } from '../../src/workflows/upgrade-state.js';

const node = (name: string, kind: ClusterNode['kind'], kubeletVersion: string, ready = true): ClusterNode => ({
  name,
  kind,
  edge: kind === 'worker',
  kubeletVersion,
  ready,
  unschedulable: false,
});

/** 3 masters and `workers` workers, all at `version` unless `workerVersion` says otherwise. */
function cluster(version: string, workers = 3, workerVersion = version): ClusterNode[] {
  const masters = [1, 2, 3].map((i) => node(`cp-${i}`, 'control-plane', version));
  return [...masters, ...Array.from({ length: workers }, (_, i) => node(`edge-${i + 1}`, 'worker', workerVersion))];
}

const input = (over: Partial<HopInput>): HopInput => ({
  controlPlane: 'v1.31.5',
  target: 'v1.34.4',
  nodes: cluster('v1.31.5'),
  ...over,
});

describe('needsHops', () => {
  it.each([
    ['v1.31.5', 'v1.32.9', false],
    ['v1.31.5', 'v1.31.9', false],
    ['v1.31.5', 'v1.33.1', true],
    ['v1.31.5', 'v1.34.4', true],
    ['v1.31.5', 'v2.0.0', false],
  ])('%s → %s: %s', (cp, target, hops) => {
    expect(needsHops(parseVersion(target), parseVersion(cp))).toBe(hops);
  });
});

describe('planHops', () => {
  it('hops the masters through every minor and moves the workers once, to the target, when the skew allows', () => {
    const steps = planHops(input({ via: ['v1.32.9', 'v1.33.5'] }));
    expect(steps.map((s) => s.version)).toEqual(['v1.32.9', 'v1.33.5', 'v1.34.4']);
    for (const s of steps) {
      expect(s.masters.map((m) => `${m.name}:${m.role}`)).toEqual(['cp-1:first-control-plane', 'cp-2:control-plane', 'cp-3:control-plane']);
    }
    expect(steps.map((s) => s.workers)).toEqual([undefined, undefined, ['edge-1', 'edge-2', 'edge-3']]);
  });

  it("takes the newest patch of each minor; the request's via wins over the configured list", () => {
    const steps = planHops(input({ via: ['v1.33.2'], configured: ['v1.32.1', 'v1.32.9', 'v1.33.5', 'v1.35.0', 'v1.30.9'] }));
    expect(steps.map((s) => s.version)).toEqual(['v1.32.9', 'v1.33.2', 'v1.34.4']);
  });

  it('inserts a worker pass when a hop would leave kubelets more than three minors behind', () => {
    // Workers at v1.30: fine under v1.32 and v1.33 (3 behind), not under v1.34: they go to v1.33 first.
    const steps = planHops(input({ nodes: cluster('v1.31.5', 2, 'v1.30.14'), configured: ['v1.32.9', 'v1.33.5'] }));
    expect(steps.map((s) => [s.version, s.workers ?? null])).toEqual([
      ['v1.32.9', null],
      ['v1.33.5', ['edge-1', 'edge-2']],
      ['v1.34.4', ['edge-1', 'edge-2']],
    ]);
  });

  it('inserts as many worker passes as the skew needs, each as late as possible', () => {
    // v1.30 workers, control plane v1.31 → v1.38: v1.34 needs them at v1.31+, v1.37 at v1.34+.
    const nodes = [node('cp-1', 'control-plane', 'v1.31.0'), node('w-1', 'worker', 'v1.30.0')];
    const configured = ['v1.32.1', 'v1.33.1', 'v1.34.1', 'v1.35.1', 'v1.36.1', 'v1.37.1'];
    const steps = planHops({ controlPlane: 'v1.31.0', target: 'v1.38.2', nodes, configured });
    expect(steps.filter((s) => s.workers).map((s) => s.version)).toEqual(['v1.33.1', 'v1.36.1', 'v1.38.2']);
  });

  it('skips workers already at or above an intermediate pass, and masters already at a hop', () => {
    const nodes = [
      node('cp-1', 'control-plane', 'v1.32.9'),
      node('cp-2', 'control-plane', 'v1.31.5'),
      node('w-old', 'worker', 'v1.30.1'),
      node('w-new', 'worker', 'v1.33.5'),
    ];
    const steps = planHops({ controlPlane: 'v1.31.5', target: 'v1.34.4', nodes, via: ['v1.32.9', 'v1.33.5'] });
    // kubeadm upgrade apply at v1.32.9 already ran on cp-1: cp-2 only joins it.
    expect(steps[0]!.masters).toEqual([{ name: 'cp-2', serial: 2, role: 'control-plane' }]);
    expect(steps[1]!.masters.map((m) => m.role)).toEqual(['first-control-plane', 'control-plane']);
    expect(steps[1]!.workers).toEqual(['w-old']);
    expect(steps[2]!.workers).toEqual(['w-new', 'w-old'].sort());
  });

  it.each([
    ['no list at all', {}, /needs a v1\.32\.x, but no versions are configured; name one with --via/],
    ['a list without the minor', { via: ['v1.32.9'] }, /needs a v1\.33\.x, but the configured versions \(v1\.32\.9\) have none for it/],
    ['a malformed via entry', { via: ['v1.3x'] }, /via 'v1\.3x' is not a Kubernetes version/],
    [
      'kubelets too old for the first hop',
      { nodes: cluster('v1.31.5', 1, 'v1.28.3'), via: ['v1.32.9', 'v1.33.5'] },
      /first hop to v1\.32\.9 would leave the kubelet on edge-1 \(v1\.28\.3\) more than 3 minor versions behind/,
    ],
    [
      'a downgrade of a node',
      { nodes: [...cluster('v1.31.5'), node('w-x', 'worker', 'v1.35.0')], via: ['v1.32.9', 'v1.33.5'] },
      /downgrades/,
    ],
    ['a managed control plane', { nodes: [node('w', 'worker', 'v1.31.5')], via: ['v1.32.9', 'v1.33.5'] }, /managed control plane/],
  ])('refuses %s with one line, before anything is touched', (_what, over, message) => {
    const run = () => planHops(input(over as Partial<HopInput>));
    expect(run).toThrow(message);
    try {
      run();
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
    }
  });
});

describe('the control plane version from kube-apiserver mirror pods', () => {
  const mirror = (nodeName: string, image: string, mirrorAnnotation = true): V1Pod => ({
    metadata: { name: `kube-apiserver-${nodeName}`, annotations: mirrorAnnotation ? { 'kubernetes.io/config.mirror': 'x' } : {} },
    spec: { nodeName, containers: [{ name: 'kube-apiserver', image }] },
  });
  const nodes = cluster('v1.31.5');

  it.each([
    [
      'the lowest tag among the masters',
      [mirror('cp-1', 'registry.k8s.io/kube-apiserver:v1.33.5'), mirror('cp-2', 'r:5000/kube-apiserver:v1.32.9')],
      'v1.32.9',
    ],
    ['a digest after the tag', [mirror('cp-1', 'registry.k8s.io/kube-apiserver:v1.33.5@sha256:abc')], 'v1.33.5'],
    ['no mirror annotation: not a static pod', [mirror('cp-1', 'registry.k8s.io/kube-apiserver:v1.30.0', false)], null],
    ['a pod on a worker', [mirror('edge-1', 'registry.k8s.io/kube-apiserver:v1.30.0')], null],
    ['no tag', [mirror('cp-1', 'registry.k8s.io/kube-apiserver')], null],
  ])('%s', (_what, pods, want) => {
    expect(apiServerPodsVersion(nodes, pods)).toBe(want);
  });

  it("falls back to the masters' kubelets, and without masters to /version", () => {
    expect(controlPlaneVersion(nodes, 'v1.34.4', [])).toBe('v1.31.5');
    expect(controlPlaneVersion(nodes, 'v1.34.4', [mirror('cp-3', 'registry.k8s.io/kube-apiserver:v1.32.1')])).toBe('v1.32.1');
    expect(controlPlaneVersion([node('w', 'worker', 'v1.31.0')], 'v1.34.4', [])).toBe('v1.34.4');
  });
});

describe('the pre-check of a multi-minor upgrade', () => {
  it('judges the first hop, and says the hops', () => {
    const items = evaluatePrecheck({
      targetVersion: 'v1.34.4',
      upgradeId: 'u',
      controlPlaneVersion: 'v1.31.5',
      apiServer: { ready: true },
      nodes: [],
      upgradePods: [],
      pods: [],
      pdbs: [],
      namespace: 'active',
      hops: ['v1.32.9', 'v1.33.5', 'v1.34.4'],
    });
    const v = items.find((i) => i.id === 'version-skew')!;
    expect(v.result).toBe('normal');
    expect(v.message).toContain('in 3 hops (v1.32.9 → v1.33.5 → v1.34.4)');
  });
});

describe('UpgradeState across hops', () => {
  const steps = planHops(input({ nodes: cluster('v1.31.5', 2, 'v1.30.1'), via: ['v1.32.9', 'v1.33.5'] }));

  it("counts masters per hop, queues a hop's worker pass, and names the hop in progress and the summary", () => {
    const s = new UpgradeState(UpgradeState.initial('c', 'v1.34.4'));
    s.planHops(steps, 3, 2);
    s.setPhase('masters');
    expect(s.progress.hop).toEqual({ number: 1, of: 3, version: 'v1.32.9' });
    expect(s.hopVersion).toBe('v1.32.9');
    expect(s.todoMasters.map((m) => m.name)).toEqual(['cp-1', 'cp-2', 'cp-3']);
    expect(s.hopHasWorkers).toBe(false);
    s.masters.done();
    s.nodeRemoved('cp-2', 'master');
    s.masters.done();
    expect(summarize(s.progress)).toBe('Hop 1/3 (v1.32.9) · Masters 2/3');
    s.nextHop();
    expect(s.progress.hop).toEqual({ number: 2, of: 3, version: 'v1.33.5' });
    // cp-2 was deleted from the cluster: it stays out of later hops.
    expect(s.todoMasters.map((m) => `${m.name}:${m.role}`)).toEqual(['cp-1:first-control-plane', 'cp-3:control-plane']);
    expect(s.progress.masters.upgraded).toBe(0);
    expect(s.hopHasWorkers).toBe(true);
    expect(s.todoWorkers).toEqual(['edge-1', 'edge-2']);
    // Survives continue-as-new.
    const carried = new UpgradeState(s.snapshot());
    expect(carried.hopVersion).toBe('v1.33.5');
    expect(carried.hasNextHop).toBe(true);
    carried.nextHop();
    expect(carried.hasNextHop).toBe(false);
    expect(carried.hopVersions).toEqual(['v1.32.9', 'v1.33.5', 'v1.34.4']);
  });
});

describe('edge-upgrade plan for a multi-minor target', () => {
  it('lists the hops with their masters and who runs kubeadm upgrade apply, and the workers once', () => {
    const nodes = cluster('v1.31.5', 3);
    const inv = { clusterId: 'c', controlPlaneVersion: 'v1.31.5', nodes };
    const plan = planNodes(inv, parseVersion('v1.34.4'));
    const settings = { deferOffline: false, failureBudget: 0, gate: null };
    const view = withHops(planView(plan, 'v1.34.4', settings), plan, planHops(input({ nodes, via: ['v1.32.9', 'v1.33.5'] })));
    expect(view.hops?.map((h) => [h.version, h.firstControlPlane, h.masters.length, h.workerBatches])).toEqual([
      ['v1.32.9', 'cp-1', 3, null],
      ['v1.33.5', 'cp-1', 3, null],
      ['v1.34.4', 'cp-1', 3, null],
    ]);
    expect(view.batches.flat()).toEqual(['edge-1', 'edge-2', 'edge-3']);
    const text = renderPlan(view, plan);
    expect(text).toContain('Control plane hops one minor at a time: v1.32.9 → v1.33.5 → v1.34.4');
    expect(text).toContain('Hop 2 of 3: v1.33.5\n  master 1 of 3 (of 3): cp-1 (first-control-plane: runs kubeadm upgrade apply)');
    expect(text).toContain('Workers (once, to v1.34.4, after the last hop): 3 in 3 batches');
  });
});

describe('the request field via', () => {
  it.each([
    [{ via: ['v1.32.9', '1.33.5'] }, null],
    [{ via: ['v1.3x'] }, /via 'v1\.3x' is not a Kubernetes version like v1\.34\.4/],
    [{ via: 'v1.32.9' }, /via must be a list of versions/],
  ])('%j', (extra, problem) => {
    const run = () => validateUpgradeRequest({ clusterId: 'c', targetVersion: 'v1.34.4', ...extra });
    if (problem) expect(run).toThrow(problem);
    else expect(run().request.via).toEqual(['v1.32.9', '1.33.5']);
  });
});
