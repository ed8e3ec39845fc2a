/**
 * The simulator's parts alone, without a control plane: the node rules (silent, flap, unready
 * workloads), what the pod controller does with each pod, the node controller's tracking, Leases
 * and status, and the upgrade executor's run, all against fake API clients that record the calls.
 */
import type { CoordinationV1Api, CoreV1Api, V1Node, V1Pod } from '@kubernetes/client-node';
import {
  SIM_FAIL_UPGRADE_LABEL,
  SIM_KUBELET_HANGS_LABEL,
  SIM_NODE_LABEL,
  SIM_OFFLINE_LABEL,
  SIM_READY_FLAP_LABEL,
  SIM_UNREADY_AFTER_UPGRADE_LABEL,
} from '../../src/planning/labels.js';
import { buildUpgradePod } from '../../src/planning/upgrade-pod.js';
import type { LogStore } from '../../src/simulator/kubelet-server.js';
import { flapReady, isSilent, NodeController, workloadsUnready, type SimNode } from '../../src/simulator/node-controller.js';
import { podAction, type PodAction } from '../../src/simulator/pod-controller.js';
import { SimRuntime } from '../../src/simulator/runtime.js';
import { UpgradeExecutor, type UpgradeStep } from '../../src/simulator/upgrade-executor.js';

const FROM = 'v1.33.7';
const TO = 'v1.34.4';

function simNode(labels: Record<string, string> = {}, over: Partial<SimNode> = {}): SimNode {
  const base = { name: 'edge-001', version: FROM, nextRenewAt: 0, nextStatusAt: 0, statusPending: false, renewing: false };
  return { ...base, labels, hung: false, upgraded: false, ...over };
}

function node(name: string, labels: Record<string, string> = {}): V1Node {
  return { metadata: { name, uid: `uid-${name}`, labels: { [SIM_NODE_LABEL]: 'true', ...labels } } };
}

function pod(over: { phase?: string; deleting?: boolean; mode?: 'check' | 'prepare'; upgrade?: boolean } = {}): V1Pod {
  const agent = over.upgrade || over.mode;
  const p: V1Pod = agent
    ? buildUpgradePod({
        node: 'edge-001',
        role: 'worker',
        targetVersion: TO,
        upgradeId: 'u1',
        image: 'agent:1',
        nodeTimeoutMs: 60_000,
        ...(over.mode ? { mode: over.mode } : {}),
      })
    : { metadata: { name: 'web', namespace: 'default' }, spec: { containers: [{ name: 'web' }] } };
  p.metadata!.uid = 'pod-uid';
  p.spec!.nodeName = 'edge-001';
  if (over.phase) p.status = { phase: over.phase };
  if (over.deleting) p.metadata!.deletionTimestamp = new Date();
  return p;
}

/** Resolves once `check` holds (the parts act through timers and the request limiter). */
async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('node rules', () => {
  it.each<[string, Record<string, string>, boolean, boolean]>([
    ['online', {}, false, false],
    ['offline', { [SIM_OFFLINE_LABEL]: 'true' }, false, true],
    ['hung kubelet', {}, true, true],
    ['offline=false', { [SIM_OFFLINE_LABEL]: 'false' }, false, false],
  ])('%s: silent %#', (_what, labels, hung, silent) => {
    expect(isSilent(simNode(labels, { hung }))).toBe(silent);
  });

  it.each<[string | undefined, number, boolean | undefined]>([
    [undefined, 0, undefined],
    ['0', 0, undefined],
    ['nonsense', 0, undefined],
    ['10', 0, true],
    ['10', 9_999, true],
    ['10', 10_000, false],
    ['10', 20_000, true],
  ])('flap label %j at %d ms: Ready %j', (seconds, now, ready) => {
    expect(flapReady(simNode(seconds === undefined ? {} : { [SIM_READY_FLAP_LABEL]: seconds }), now)).toBe(ready);
  });

  it.each<[boolean, string | undefined, boolean]>([
    [false, 'true', false],
    [true, undefined, false],
    [true, 'true', true],
  ])('upgraded %j with unready-after-upgrade %j: workloads unready %j', (upgraded, label, unready) => {
    const labels: Record<string, string> = label === undefined ? {} : { [SIM_UNREADY_AFTER_UPGRADE_LABEL]: label };
    expect(workloadsUnready(simNode(labels, { upgraded }))).toBe(unready);
  });
});

describe('podAction', () => {
  it.each<[string, V1Pod, SimNode | undefined, PodAction]>([
    ['a Pending pod on an online node starts', pod(), simNode(), 'start'],
    ['a Running pod is left alone', pod({ phase: 'Running' }), simNode(), 'ignore'],
    ['a finished pod is left alone', pod({ phase: 'Succeeded' }), simNode(), 'ignore'],
    ['a pod on a node not simulated here', pod(), undefined, 'ignore'],
    ['a pod on an offline node freezes', pod(), simNode({ [SIM_OFFLINE_LABEL]: 'true' }), 'ignore'],
    ['a deleted pod on an offline node freezes too', pod({ deleting: true }), simNode({ [SIM_OFFLINE_LABEL]: 'true' }), 'ignore'],
    ['a deleted pod is finalized', pod({ deleting: true, phase: 'Running' }), simNode(), 'finalize'],
    ['a deleted finished pod is finalized', pod({ deleting: true, phase: 'Failed' }), simNode(), 'finalize'],
    ['an upgrade pod is executed', pod({ upgrade: true }), simNode(), 'upgrade'],
    [
      'a Running upgrade pod is executed (a restarted simulator re-runs it)',
      pod({ upgrade: true, phase: 'Running' }),
      simNode(),
      'upgrade',
    ],
    ['a check pod is answered', pod({ mode: 'check' }), simNode(), 'check'],
    ['a prepare pod goes to the prepare runner', pod({ mode: 'prepare' }), simNode(), 'prepare'],
  ])('%s', (_what, p, sim, action) => {
    expect(podAction(p, sim)).toBe(action);
  });

  it('ignores a pod not bound to a node', () => {
    const p = pod();
    delete p.spec!.nodeName;
    expect(podAction(p, simNode())).toBe('ignore');
  });
});

/** Fake clients that record every call as `method name` (and fail the first Lease renewal of `leaseGone`). */
function fakeApi(leaseGone?: string) {
  const calls: string[] = [];
  const record = (method: string) => async (req: { name?: string; body?: unknown }) => {
    calls.push(`${method} ${req.name ?? ''}`.trim());
    return {};
  };
  const core = {
    patchNodeStatus: record('patchNodeStatus'),
    patchNamespacedPodStatus: record('patchNamespacedPodStatus'),
    patchNamespacedPod: record('patchNamespacedPod'),
    readNode: async (req: { name: string }) => (calls.push(`readNode ${req.name}`), node(req.name)),
  };
  const coord = {
    createNamespacedLease: async () => void calls.push('createNamespacedLease'),
    patchNamespacedLease: async (req: { name: string }) => {
      calls.push(`patchNamespacedLease ${req.name}`);
      if (req.name === leaseGone && !calls.includes('createNamespacedLease')) throw Object.assign(new Error('gone'), { code: 404 });
    },
  };
  return { calls, core: core as unknown as CoreV1Api, coord: coord as unknown as CoordinationV1Api };
}

function nodeController(leaseGone?: string) {
  const api = fakeApi(leaseGone);
  const rt = new SimRuntime();
  const synced: string[] = [];
  const pods = {
    syncPods: (sim: SimNode) => void synced.push(`pods ${sim.name}`),
    syncReadiness: (sim: SimNode) => void synced.push(`readiness ${sim.name}`),
    podsListed: () => true,
  };
  const nodes = new NodeController(rt, api, { leaseSeconds: 40, statusSeconds: 60, kubeletPort: 10250 }, pods);
  return { ...api, rt, synced, nodes };
}

describe('NodeController', () => {
  it('tracks simulated nodes only, with the version its creator knows', () => {
    const { nodes, synced } = nodeController();
    nodes.track({ metadata: { name: 'other', labels: {} } });
    nodes.track(node('edge-001'), FROM);
    expect(nodes.size).toBe(1);
    expect(nodes.get('edge-001')?.version).toBe(FROM);
    // A node that appears after the pods were listed has its pods adopted.
    expect(synced).toEqual(['pods edge-001']);
    nodes.forget('edge-001');
    expect(nodes.size).toBe(0);
  });

  it('syncs the pods and their readiness when an offline node comes back online', () => {
    const logs: string[] = [];
    const api = fakeApi();
    const synced: string[] = [];
    const rt = new SimRuntime({ log: (m) => logs.push(m) });
    const pods = { syncPods: () => void synced.push('pods'), syncReadiness: () => void synced.push('readiness'), podsListed: () => false };
    const nodes = new NodeController(rt, api, { leaseSeconds: 40, statusSeconds: 60, kubeletPort: 1 }, pods);
    nodes.track(node('edge-001', { [SIM_OFFLINE_LABEL]: 'true' }), FROM);
    expect(synced).toEqual([]);
    nodes.track(node('edge-001'));
    expect(synced).toEqual(['pods', 'readiness']);
    expect(logs).toEqual(['simulator: edge-001 is back online']);
    expect(nodes.get('edge-001')!.nextStatusAt).toBeLessThanOrEqual(Date.now());
  });

  it('posts Ready and NotReady, nothing while offline; Ready again re-syncs readiness', async () => {
    const { nodes, calls, synced, rt } = nodeController();
    nodes.track(node('edge-001'), FROM);
    synced.length = 0;
    const sim = nodes.get('edge-001')!;
    await nodes.postStatus(sim, 'container runtime status check may not have completed yet');
    expect(sim.postedReady).toBe(false);
    await nodes.postStatus(sim);
    expect(sim.postedReady).toBe(true);
    expect(synced).toEqual(['readiness edge-001']);
    sim.labels = { ...sim.labels, [SIM_OFFLINE_LABEL]: 'true' };
    await nodes.postStatus(sim);
    expect(calls.filter((c) => c.startsWith('patchNodeStatus'))).toHaveLength(2);
    expect(rt.counters.statusUpdates).toBe(2);
  });

  it('renews the Leases that are due, skips offline nodes, and re-creates a Lease that is gone', async () => {
    const { nodes, calls, rt } = nodeController('edge-002');
    nodes.track(node('edge-001'), FROM);
    nodes.track(node('edge-002'), FROM);
    nodes.track(node('edge-003', { [SIM_OFFLINE_LABEL]: 'true' }), FROM);
    const due = Date.now() - 1;
    for (const name of ['edge-001', 'edge-002', 'edge-003']) nodes.get(name)!.nextRenewAt = due;
    nodes.heartbeat();
    await until(() => rt.counters.leaseRenewals === 2);
    expect(calls).toEqual(
      expect.arrayContaining([
        'patchNamespacedLease edge-001',
        'patchNamespacedLease edge-002',
        'readNode edge-002',
        'createNamespacedLease',
      ]),
    );
    expect(calls.some((c) => c.endsWith('edge-003'))).toBe(false);
    // The next renewal is a quarter of the Lease duration after the one that was due.
    expect(nodes.get('edge-001')!.nextRenewAt).toBe(due + 10_000);
    rt.stop();
  });
});

function executor(labels: Record<string, string>) {
  const api = fakeApi();
  const rt = new SimRuntime();
  const logs: LogStore = new Map();
  const sim = simNode(labels);
  const steps: UpgradeStep[] = [];
  const statuses: (string | undefined)[] = [];
  const p = pod({ upgrade: true });
  const upgrades = new UpgradeExecutor({
    rt,
    core: api.core,
    logs,
    current: () => p,
    postStatus: async (_sim, notReady) => void statuses.push(notReady),
    upgradeSeconds: 0,
    restartSeconds: 0,
    onUpgradeStep: (e) => steps.push(e.step),
  });
  return { ...api, rt, logs, sim, steps, statuses, p, upgrades };
}

describe('UpgradeExecutor', () => {
  it('runs an upgrade pod: Running, the new kubelet version, NotReady while it restarts, then Ready', async () => {
    const { upgrades, sim, p, steps, statuses, logs, rt } = executor({});
    upgrades.run(p, sim);
    upgrades.run(p, sim); // once per UID
    await until(() => steps.includes('ready'));
    expect(steps).toEqual(['seen', 'running', 'succeeded', 'ready']);
    expect(sim).toMatchObject({ version: TO, upgraded: true, hung: false });
    expect(statuses).toEqual(['container runtime status check may not have completed yet', undefined]);
    expect(rt.counters.upgradesSucceeded).toBe(1);
    const log = [...logs.values()][0]!.join('\n');
    expect(log).toContain(`edge-upgrade agent (simulated) on edge-001: role worker, ${FROM} -> ${TO}`);
    expect(log).toContain(`upgraded kubelet and kubectl to ${TO}; kubelet restarted`);
  });

  it('fails on the fault label and keeps the old version', async () => {
    const { upgrades, sim, p, steps, statuses, logs, rt } = executor({ [SIM_FAIL_UPGRADE_LABEL]: 'true' });
    upgrades.run(p, sim);
    await until(() => steps.includes('failed'));
    expect(sim.version).toBe(FROM);
    expect(statuses).toEqual([]);
    expect(rt.counters.upgradesFailed).toBe(1);
    expect([...logs.values()][0]!.join('\n')).toContain(`simulated fault (${SIM_FAIL_UPGRADE_LABEL}=true)`);
  });

  it('leaves a hanging kubelet silent after it posted Ready once', async () => {
    const { upgrades, sim, p, steps, statuses } = executor({ [SIM_KUBELET_HANGS_LABEL]: 'true' });
    upgrades.run(p, sim);
    await until(() => steps.includes('succeeded'));
    await new Promise((r) => setTimeout(r, 20));
    expect(sim).toMatchObject({ version: TO, hung: true });
    expect(statuses).toEqual([undefined]);
    expect(steps).not.toContain('ready');
  });
});
