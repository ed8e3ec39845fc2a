/** The health gate's pure parts (planning/health.ts): owner naming, restart counting, the built-in checks' verdicts and messages. */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import {
  controllerProblem,
  daemonsetsCheck,
  gateOwners,
  listFew,
  nodesCheck,
  podOwner,
  prometheusVerdict,
  replicaSetsOf,
  restartsCheck,
  restartsSince,
  selectorString,
  unknownGateChecks,
  workloadsCheck,
  type GateNode,
} from '../../src/planning/health.js';

const NOW = Date.parse('2026-11-29T03:00:00Z');
const SINCE = new Date('2026-11-29T02:55:00Z');
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();

function node(name: string, o: { ready?: boolean; version?: string; message?: string; beatAgo?: number } = {}): V1Node {
  const ready = o.ready ?? true;
  return {
    metadata: { name },
    status: {
      nodeInfo: { kubeletVersion: o.version ?? 'v1.34.4' } as never,
      conditions: [
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          reason: ready ? 'KubeletReady' : 'KubeletNotReady',
          message: o.message ?? (ready ? 'kubelet is posting ready status' : 'PLEG is not healthy'),
          lastHeartbeatTime: new Date(NOW - (o.beatAgo ?? 1000)),
        },
      ],
    },
  };
}
const lease = (renewedAgo: number, seconds = 40) => ({ spec: { renewTime: new Date(NOW - renewedAgo), leaseDurationSeconds: seconds } });

type PodOpts = {
  ns?: string;
  owner?: [string, string];
  node?: string;
  ready?: boolean;
  phase?: string;
  labels?: Record<string, string>;
  mirror?: boolean;
};
function pod(name: string, o: PodOpts = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: o.ns ?? 'shop',
      labels: o.labels ?? {},
      ...(o.mirror ? { annotations: { 'kubernetes.io/config.mirror': 'x' } } : {}),
      ...(o.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: o.owner[0], name: o.owner[1], uid: 'u', controller: true }] } : {}),
    },
    spec: { nodeName: o.node ?? 'edge-001', containers: [{ name: 'app' }] },
    status: {
      phase: o.phase ?? 'Running',
      conditions: [
        { type: 'Ready', status: (o.ready ?? true) ? 'True' : 'False', ...(o.ready === false ? { reason: 'ContainersNotReady' } : {}) },
      ],
    },
  };
}

test('listFew names the first three, then how many more', () => {
  expect(listFew(['a'])).toBe('a');
  expect(listFew(['a', 'b', 'c'])).toBe('a, b, c');
  expect(listFew(['a', 'b', 'c', 'd', 'e'])).toBe('a, b, c and 2 more');
});

describe('owners', () => {
  const rsPod = pod('pos-api-7d9f-abcde', { owner: ['ReplicaSet', 'pos-api-7d9f'], labels: { 'pod-template-hash': '7d9f' } });
  test('a ReplicaSet resolves to the Deployment read from it, else from its name and pod-template-hash', () => {
    expect(replicaSetsOf([rsPod, rsPod])).toEqual(['shop/pos-api-7d9f']);
    expect(podOwner(rsPod, new Map([['shop/pos-api-7d9f', 'pos-api']]))).toBe('Deployment/shop/pos-api');
    expect(podOwner(rsPod)).toBe('Deployment/shop/pos-api');
    expect(podOwner(rsPod, new Map([['shop/pos-api-7d9f', null]]))).toBe('ReplicaSet/shop/pos-api-7d9f');
    expect(podOwner(pod('bare', { owner: ['ReplicaSet', 'bare-rs'] }))).toBe('ReplicaSet/shop/bare-rs');
  });
  test('StatefulSets and DaemonSets are named as they are; a bare pod has no owner', () => {
    expect(podOwner(pod('db-0', { owner: ['StatefulSet', 'db'] }))).toBe('StatefulSet/shop/db');
    expect(podOwner(pod('p', { owner: ['DaemonSet', 'kube-proxy'], ns: 'kube-system' }))).toBe('DaemonSet/kube-system/kube-proxy');
    expect(podOwner(pod('bare'))).toBeUndefined();
  });
  test('the gate keeps Deployments and StatefulSets, deduplicated', () => {
    expect(gateOwners(['StatefulSet/shop/db', 'Deployment/shop/a', undefined, 'DaemonSet/x/y', 'Job/x/j', 'Deployment/shop/a'])).toEqual([
      'Deployment/shop/a',
      'StatefulSet/shop/db',
    ]);
  });
});

describe('restartsSince', () => {
  const withStatus = (startTime: string, cs: object[]): V1Pod =>
    ({ ...pod('p'), status: { phase: 'Running', startTime, containerStatuses: cs } }) as unknown as V1Pod;
  test('a pod started after since counts its restartCount', () => {
    expect(restartsSince(withStatus(iso(60_000), [{ name: 'app', restartCount: 4 }]), SINCE)).toEqual([{ container: 'app', restarts: 4 }]);
  });
  test('an older pod counts its last termination after since (2 when that run also started after since)', () => {
    const old = iso(3_600_000);
    const term = (startedAgo: number, finishedAgo: number) => ({
      name: 'app',
      restartCount: 17,
      lastState: { terminated: { startedAt: iso(startedAgo), finishedAt: iso(finishedAgo), exitCode: 1 } },
    });
    expect(restartsSince(withStatus(old, [term(3_000_000, 2_000_000)]), SINCE)).toEqual([]);
    expect(restartsSince(withStatus(old, [term(3_000_000, 60_000)]), SINCE)).toEqual([{ container: 'app', restarts: 1 }]);
    expect(restartsSince(withStatus(old, [term(120_000, 60_000)]), SINCE)).toEqual([{ container: 'app', restarts: 2 }]);
  });
  test('the restarts check names the pod, node and containers above the limit', () => {
    const crashing = withStatus(iso(60_000), [{ name: 'app', restartCount: 3 }]);
    expect(restartsCheck([crashing], SINCE, 3)).toMatchObject({ name: 'restarts', ok: true });
    const c = restartsCheck([crashing], SINCE, 2);
    expect(c).toMatchObject({ name: 'restarts', ok: false });
    expect(c.message).toBe('1 pod(s) restarted more than 2 time(s) since the gate started: pod shop/p on edge-001: app 3x');
    expect(restartsCheck([], SINCE, 0)).toEqual({ name: 'restarts', ok: true, message: 'no restarts' });
  });
});

describe('nodesCheck', () => {
  test('Ready at the target with a fresh Lease is ok', () => {
    const nodes: GateNode[] = ['edge-001', 'edge-002'].map((n) => ({ name: n, node: node(n), lease: lease(5_000) as never }));
    expect(nodesCheck(nodes, 'v1.34.4', NOW)).toEqual({ name: 'nodes', ok: true, message: '2 node(s) Ready at v1.34.4' });
  });
  test('NotReady, an old kubelet and a stale Lease are named per node', () => {
    const nodes: GateNode[] = [
      { name: 'edge-001', node: node('edge-001', { ready: false }), lease: lease(5_000) as never },
      { name: 'edge-002', node: node('edge-002', { version: 'v1.33.7' }), lease: lease(5_000) as never },
      { name: 'edge-003', node: node('edge-003'), lease: lease(95_000) as never },
      { name: 'edge-004', node: node('edge-004'), lease: lease(1_000) as never },
    ];
    const c = nodesCheck(nodes, 'v1.34.4', NOW);
    expect(c.ok).toBe(false);
    expect(c.message).toBe(
      '3 of 4 node(s) not healthy: edge-001 NotReady (PLEG is not healthy), edge-002 kubelet v1.33.7, want v1.34.4, ' +
        'edge-003 no heartbeat for 95s',
    );
  });
  test('without a Lease the Ready heartbeat must be recent; an unreadable Lease is not judged', () => {
    expect(nodesCheck([{ name: 'a', node: node('a', { beatAgo: 120_000 }), lease: null }], 'v1.34.4', NOW).ok).toBe(false);
    expect(nodesCheck([{ name: 'a', node: node('a', { beatAgo: 10_000 }), lease: null }], 'v1.34.4', NOW).ok).toBe(true);
    expect(nodesCheck([{ name: 'a', node: node('a', { beatAgo: 900_000 }), lease: 'unreadable' }], 'v1.34.4', NOW).ok).toBe(true);
  });
  test('a deleted node is skipped and named', () => {
    expect(
      nodesCheck([{ name: 'edge-009' }, { name: 'edge-001', node: node('edge-001'), lease: lease(1) as never }], 'v1.34.4', NOW),
    ).toEqual({
      name: 'nodes',
      ok: true,
      message: '1 node(s) Ready at v1.34.4; 1 removed, skipped: edge-009',
    });
    expect(nodesCheck([{ name: 'edge-009' }], 'v1.34.4', NOW).message).toBe('no node left to check: edge-009 removed');
  });
});

test('daemonsetsCheck names the pod, namespace, DaemonSet and node', () => {
  const ok = pod('kube-proxy-a', { ns: 'kube-system', owner: ['DaemonSet', 'kube-proxy'] });
  const bad = pod('fluent-bit-x', { ns: 'logging', owner: ['DaemonSet', 'fluent-bit'], ready: false, node: 'edge-004' });
  expect(daemonsetsCheck([ok, pod('web')])).toEqual({ name: 'daemonsets', ok: true, message: '1 DaemonSet pod(s) Ready' });
  expect(daemonsetsCheck([ok, bad])).toEqual({
    name: 'daemonsets',
    ok: false,
    message:
      '1 of 2 DaemonSet pod(s) not Ready: pod logging/fluent-bit-x (DaemonSet logging/fluent-bit) on edge-004: ' +
      'Running, not Ready (ContainersNotReady)',
  });
  expect(daemonsetsCheck([]).message).toBe('no DaemonSet pods on these nodes');
});

describe('workloadsCheck', () => {
  const owner = (p: V1Pod) => podOwner(p, new Map([['shop/pos-api-7d9f', 'pos-api']]));
  const api = pod('pos-api-7d9f-x', { owner: ['ReplicaSet', 'pos-api-7d9f'], ready: false, node: 'edge-003' });
  test('an unready pod is named with its Deployment and node; an unavailable controller with its count and node', () => {
    const c = workloadsCheck([api], owner, [{ owner: 'Deployment/shop/pos-api', desired: 2, available: 1, unreadyOn: ['edge-003'] }]);
    expect(c.ok).toBe(false);
    expect(c.message).toBe(
      '1 controller(s) not available: Deployment shop/pos-api: 1/2 available (unready pod on edge-003); ' +
        '1 of 1 pod(s) not Ready: pod shop/pos-api-7d9f-x (Deployment shop/pos-api) on edge-003: Running, not Ready (ContainersNotReady)',
    );
  });
  test('DaemonSet, mirror, ended and kube-upgrade pods are not workloads; a controller that is gone is ok', () => {
    const ignored = [
      pod('ds', { owner: ['DaemonSet', 'd'], ready: false }),
      pod('kube-apiserver-cp-1', { ns: 'kube-system', mirror: true, ready: false }),
      pod('job-x', { phase: 'Succeeded', ready: false }),
      pod('upgrade-edge-001', { ns: 'kube-upgrade', ready: false }),
    ];
    const c = workloadsCheck([...ignored, pod('ok', { owner: ['StatefulSet', 'db'] })], owner, [
      { owner: 'StatefulSet/shop/db', desired: 3, available: 3 },
      { owner: 'Deployment/shop/old', missing: true },
    ]);
    expect(c).toEqual({ name: 'workloads', ok: true, message: '1 pod(s) Ready; 1 evicted controller(s) available, 1 gone' });
  });
  test('a StatefulSet counts ready replicas', () => {
    expect(controllerProblem({ owner: 'StatefulSet/shop/db', desired: 3, available: 2, unreadyOn: ['not scheduled'] })).toBe(
      'StatefulSet shop/db: 2/3 ready (unready pod on not scheduled)',
    );
  });
});

test('selectorString', () => {
  expect(
    selectorString({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['a', 'b'] },
        { key: 'x', operator: 'Exists' },
        { key: 'y', operator: 'DoesNotExist' },
        { key: 'z', operator: 'NotIn', values: ['c'] },
      ],
    }),
  ).toBe('app=web,tier in (a,b),x,!y,z notin (c)');
});

describe('prometheusVerdict', () => {
  test('success with series is ok; an empty result is not', () => {
    const vector = (n: number) => ({
      status: 'success',
      data: { resultType: 'vector', result: Array.from({ length: n }, () => ({ metric: {}, value: [1, '1'] })) },
    });
    expect(prometheusVerdict(vector(2))).toEqual({ ok: true, message: 'query returned 2 series' });
    expect(prometheusVerdict(vector(0))).toEqual({ ok: false, message: 'query returned an empty result' });
    expect(prometheusVerdict({ status: 'success', data: { resultType: 'scalar', result: [1, '0'] } }).ok).toBe(true);
  });
  test('errors and garbage are not ok, with the reason', () => {
    expect(prometheusVerdict({ status: 'error', errorType: 'bad_data', error: 'parse error at char 3' })).toEqual({
      ok: false,
      message: 'query failed: bad_data: parse error at char 3',
    });
    expect(prometheusVerdict('nope').ok).toBe(false);
    expect(prometheusVerdict({ status: 'success', data: {} })).toEqual({ ok: false, message: 'answer has no data.result' });
  });
});

test('unknownGateChecks lists the unknown names and the configured ones', () => {
  expect(unknownGateChecks(['shop-api'], ['shop-api', 'error-rate'], 'shop-17')).toBeUndefined();
  expect(unknownGateChecks(['shop-api', 'typo', 'typo'], ['shop-api', 'error-rate'], 'shop-17')).toBe(
    'gate check(s) "typo" not configured for cluster shop-17 (this worker configures error-rate, shop-api); ' +
      'add them to healthChecks in the worker configuration',
  );
  expect(unknownGateChecks(['x'], [], 'c')).toContain('(this worker configures none)');
});
