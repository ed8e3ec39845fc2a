/** Table tests for the pure Kubernetes planning: names, drain filters, PDB matching, precheck items, control-plane version. */
import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { controlPlaneVersion, toClusterNode } from '../../src/planning/cluster.js';
import { drainBlockedMessage, drainVerdict, pdbNeverAllows, pdbsForPod, selectorMatches } from '../../src/planning/drain.js';
import {
  CONTROL_PLANE_LABEL,
  CORDONED_BY_ANNOTATION,
  CORDONED_BY_RUN_ANNOTATION,
  CORDONED_FOR_ANNOTATION,
  EDGE_WORKER_LABEL,
  ENV_NODE_ROLE,
  ENV_TARGET_VERSION,
  MADE_BY_ANNOTATION,
  KEPT_REASON_ANNOTATION,
  MADE_BY_LABEL,
  QUARANTINE_REASON_ANNOTATION,
  UPGRADE_NAMESPACE,
} from '../../src/planning/labels.js';
import { labelValue, probePodName, shortHash, upgradePodName } from '../../src/planning/names.js';
import { evaluatePrecheck, type PrecheckInput } from '../../src/planning/precheck-items.js';
import type { ClusterNode, PrecheckItem } from '../../src/planning/types.js';
import { buildUpgradeNamespace, buildUpgradePod } from '../../src/planning/upgrade-pod.js';

const dns1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('upgradePodName', () => {
  it.each([
    ['edge-001', 'v1.34.4', 'upgrade-edge-001-v1-34-4'],
    ['cp-1', 'v1.34.4', 'upgrade-cp-1-v1-34-4'],
  ])('%s → %s is %s', (node, target, name) => {
    expect(upgradePodName(node, target)).toBe(name);
  });

  it.each([
    ['a'.repeat(80) + '.example.com', 'v1.34.4'],
    ['Node_With.Dots.And.CAPS', 'v1.34.4+k3s1'],
    ['x'.repeat(253), 'v1.34.4'],
  ])('%s is made a DNS-1123 label of at most 63 characters', (node, target) => {
    const name = upgradePodName(node, target);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(dns1123);
    expect(upgradePodName(node, target)).toBe(name);
  });

  it('long names that share a prefix still differ', () => {
    const a = upgradePodName('a'.repeat(70) + '-1', 'v1.34.4');
    const b = upgradePodName('a'.repeat(70) + '-2', 'v1.34.4');
    expect(a).not.toBe(b);
  });
});

describe('probePodName', () => {
  const UPGRADE = 'edge-upgrade-shop-17';
  const PRECHECK = 'edge-upgrade-inspect-shop-17-1765000000000';

  it.each([
    ['edge-001', 'v1.34.4', UPGRADE, 'check-edge-001-v1-34-4-19khmzz'],
    ['edge-001', 'v1.34.4', PRECHECK, 'check-edge-001-v1-34-4-0de1hgw'],
  ])('%s → %s made by %s is %s', (node, target, madeBy, name) => {
    expect(probePodName(node, target, madeBy)).toBe(name);
  });

  it("the upgrade's and a precheck's probe pods of the same node and target differ; the same maker gets the same name", () => {
    expect(probePodName('edge-001', 'v1.34.4', UPGRADE)).not.toBe(probePodName('edge-001', 'v1.34.4', PRECHECK));
    expect(probePodName('edge-001', 'v1.34.4', PRECHECK)).toBe(probePodName('edge-001', 'v1.34.4', PRECHECK));
    // Two precheck commands of the same cluster, started a millisecond apart.
    expect(probePodName('edge-001', 'v1.34.4', `${PRECHECK}0`)).not.toBe(probePodName('edge-001', 'v1.34.4', `${PRECHECK}1`));
    // Never the upgrade pod's name.
    expect(probePodName('edge-001', 'v1.34.4', UPGRADE)).not.toBe(upgradePodName('edge-001', 'v1.34.4', 'check'));
  });

  it.each([
    ['a'.repeat(80) + '.example.com', 'v1.34.4'],
    ['Node_With.Dots.And.CAPS', 'v1.34.4+k3s1'],
    ['x'.repeat(253), 'v1.34.4'],
    ['n'.repeat(50), 'v1.34.4'],
  ])('%s is made a DNS-1123 label of at most 63 characters that still ends in the maker token', (node, target) => {
    for (const madeBy of [UPGRADE, PRECHECK]) {
      const name = probePodName(node, target, madeBy);
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(dns1123);
      expect(name.endsWith(`-${shortHash(madeBy)}`)).toBe(true);
    }
    expect(probePodName(node, target, UPGRADE)).not.toBe(probePodName(node, target, PRECHECK));
  });
});

describe('labelValue', () => {
  it.each([
    ['edge-upgrade-shop-17', 'edge-upgrade-shop-17'],
    ['v1.34.4', 'v1.34.4'],
  ])('keeps valid %s', (v, out) => expect(labelValue(v)).toBe(out));
  it.each([['edge-upgrade-' + 'x'.repeat(90)], ['-bad-'], ['a/b']])('fixes %s', (v) => {
    const out = labelValue(v);
    expect(out.length).toBeLessThanOrEqual(63);
    expect(out).toMatch(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/);
  });
});

const pod = (over: {
  name?: string;
  ns?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  owner?: string;
  deleting?: boolean;
  phase?: string;
  node?: string;
}): V1Pod => ({
  metadata: {
    name: over.name ?? 'p',
    namespace: over.ns ?? 'default',
    labels: over.labels,
    annotations: over.annotations,
    ownerReferences: over.owner ? [{ apiVersion: 'apps/v1', kind: over.owner, name: 'o', uid: 'u', controller: true }] : undefined,
    deletionTimestamp: over.deleting ? new Date() : undefined,
  },
  spec: { nodeName: over.node ?? 'edge-001', containers: [] },
  status: { phase: over.phase ?? 'Running' },
});

describe('drainVerdict (kubectl drain filters)', () => {
  it.each([
    ['a ReplicaSet pod', pod({ owner: 'ReplicaSet' }), 'evict'],
    ['a bare pod', pod({}), 'evict'],
    ['a DaemonSet pod', pod({ owner: 'DaemonSet' }), 'daemonset'],
    ['a mirror pod', pod({ annotations: { 'kubernetes.io/config.mirror': 'x' } }), 'mirror'],
    ['a terminating pod (waited for, as kubectl does)', pod({ owner: 'ReplicaSet', deleting: true }), 'wait'],
    ['a terminating DaemonSet pod', pod({ owner: 'DaemonSet', deleting: true }), 'daemonset'],
    ['a Succeeded pod', pod({ phase: 'Succeeded' }), 'finished'],
    ['a Failed pod', pod({ phase: 'Failed' }), 'finished'],
    ['our upgrade pod', pod({ ns: UPGRADE_NAMESPACE, labels: { 'app.kubernetes.io/managed-by': 'edge-upgrade' } }), 'upgrade-pod'],
  ])('%s → %s', (_what, p, expected) => {
    const v = drainVerdict(p);
    expect(v.action === 'skip' ? v.reason : v.action).toBe(expected);
  });
});

const pdb = (
  name: string,
  spec: V1PodDisruptionBudget['spec'],
  status?: Partial<NonNullable<V1PodDisruptionBudget['status']>>,
  ns = 'default',
): V1PodDisruptionBudget => ({
  metadata: { name, namespace: ns },
  spec,
  status: status ? { currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0, ...status } : undefined,
});

describe('PDB matching', () => {
  it.each([
    [{ matchLabels: { app: 'web' } }, { app: 'web' }, true],
    [{ matchLabels: { app: 'web' } }, { app: 'db' }, false],
    [{}, { app: 'x' }, true],
    [undefined, { app: 'x' }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] }, { tier: 'b' }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['a'] }] }, { tier: 'a' }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, {}, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, {}, true],
  ])('selector %j vs labels %j → %s', (selector, labels, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });

  it('only PDBs of the pod namespace apply', () => {
    const p = pod({ labels: { app: 'web' } });
    const budgets = [
      pdb('a', { selector: { matchLabels: { app: 'web' } } }),
      pdb('b', { selector: { matchLabels: { app: 'web' } } }, undefined, 'other'),
    ];
    expect(pdbsForPod(p, budgets).map((b) => b.metadata?.name)).toEqual(['a']);
  });

  it.each([
    [{ maxUnavailable: 0 }, undefined, true],
    [{ maxUnavailable: '0%' }, undefined, true],
    [{ maxUnavailable: 1 }, undefined, false],
    [{ minAvailable: '100%' }, undefined, true],
    [{ minAvailable: 3 }, { expectedPods: 3 }, true],
    [{ minAvailable: 2 }, { expectedPods: 3 }, false],
  ])('pdbNeverAllows(%j, %j) is %s', (spec, status, expected) => {
    expect(pdbNeverAllows(pdb('x', spec, status))).toBe(expected);
  });

  it('the blocked-drain message names the pod, the PDB and the overriding option', () => {
    const m = drainBlockedMessage({
      node: 'edge-001',
      pod: pod({ name: 'web-1' }),
      pdbs: [pdb('web', { maxUnavailable: 0 }, { disruptionsAllowed: 0 })],
      waitedMs: 60_000,
    });
    expect(m).toContain('pod default/web-1');
    expect(m).toContain('PodDisruptionBudget default/web');
    expect(m).toContain('drainTimeout');
  });
});

const cn = (name: string, kind: ClusterNode['kind'], kubeletVersion: string): ClusterNode => ({
  name,
  kind,
  edge: false,
  kubeletVersion,
  ready: true,
  unschedulable: false,
});

describe('controlPlaneVersion', () => {
  it.each([
    [
      'the lowest master kubelet',
      [cn('cp-1', 'control-plane', 'v1.34.4'), cn('cp-2', 'control-plane', 'v1.33.7'), cn('w', 'worker', 'v1.32.0')],
      'v1.35.0',
      'v1.33.7',
    ],
    ['the API server when there are no masters (managed)', [cn('w', 'worker', 'v1.33.1')], 'v1.34.2', 'v1.34.2'],
    ['v1.10 sorts after v1.9', [cn('cp-1', 'control-plane', 'v1.10.0'), cn('cp-2', 'control-plane', 'v1.9.9')], '', 'v1.9.9'],
  ])('%s', (_what, nodes, api, expected) => {
    expect(controlPlaneVersion(nodes, api)).toBe(expected);
  });
});

const node = (
  name: string,
  o: {
    cp?: boolean;
    edge?: boolean;
    version?: string;
    ready?: boolean;
    unschedulable?: boolean;
    cordonedBy?: string;
    /** Extra annotations: a cordon record's run chain, target and kept reason. */
    annotations?: Record<string, string>;
    pressure?: string;
  } = {},
): V1Node => ({
  metadata: {
    name,
    labels: o.cp ? { [CONTROL_PLANE_LABEL]: '' } : { [EDGE_WORKER_LABEL]: o.edge ? 'true' : 'false' },
    annotations: o.cordonedBy ? { [CORDONED_BY_ANNOTATION]: o.cordonedBy, ...o.annotations } : undefined,
  },
  spec: { unschedulable: o.unschedulable },
  status: {
    nodeInfo: { kubeletVersion: o.version ?? 'v1.33.7' } as NonNullable<V1Node['status']>['nodeInfo'],
    conditions: [
      { type: 'Ready', status: o.ready === false ? 'Unknown' : 'True' },
      ...(o.pressure ? [{ type: o.pressure, status: 'True' }] : []),
    ],
  },
});

describe('toClusterNode', () => {
  it.each([
    [node('cp-1', { cp: true }), { kind: 'control-plane', edge: false }],
    [node('edge-1', { edge: true }), { kind: 'worker', edge: true }],
    [node('cloud-1'), { kind: 'worker', edge: false }],
  ])('%#', (n, expected) => expect(toClusterNode(n)).toMatchObject(expected));
});

const base = (): PrecheckInput => ({
  targetVersion: 'v1.34.4',
  upgradeId: 'edge-upgrade-x',
  controlPlaneVersion: 'v1.33.7',
  apiServer: { ready: true },
  nodes: [node('cp-1', { cp: true }), node('edge-001', { edge: true }), node('edge-002', { edge: true })],
  upgradePods: [],
  pods: [],
  pdbs: [],
  namespace: 'absent',
});

describe('evaluatePrecheck', () => {
  it('a healthy cluster is all normal', () => {
    expect(evaluatePrecheck(base()).filter((i) => i.result !== 'normal')).toEqual([]);
  });

  it('the grace-period item only with a drain timeout (upgrades started before it have none); DaemonSet pods are not evicted', () => {
    expect(evaluatePrecheck(base()).find((i) => i.id === 'grace-periods')).toBeUndefined();
    const daemon = { ...pod({ owner: 'DaemonSet' }), spec: { nodeName: 'edge-001', containers: [], terminationGracePeriodSeconds: 600 } };
    expect(evaluatePrecheck({ ...base(), drainTimeoutMs: 10_000, pods: [daemon] }).find((i) => i.id === 'grace-periods')).toMatchObject({
      result: 'normal',
    });
  });

  it.each<[string, (i: PrecheckInput) => PrecheckInput, string, PrecheckItem['result'], string[], string]>([
    ['API server not ready', (i) => ({ ...i, apiServer: { ready: false } }), 'api-server', 'error', [], '/readyz'],
    [
      'offline edge node',
      (i) => ({ ...i, nodes: [...i.nodes, node('edge-009', { edge: true, ready: false })] }),
      'nodes-ready',
      'error',
      ['edge-009'],
      'edge-009 (edge site offline?)',
    ],
    ['target two minors up', (i) => ({ ...i, targetVersion: 'v1.35.0' }), 'version-skew', 'error', [], 'more than one minor'],
    ['downgrade', (i) => ({ ...i, targetVersion: 'v1.33.1' }), 'version-skew', 'error', [], 'downgrades'],
    [
      'a kubelet newer than the target',
      (i) => ({ ...i, nodes: [...i.nodes, node('edge-003', { version: 'v1.34.5' })] }),
      'version-skew',
      'error',
      ['edge-003'],
      'newer',
    ],
    [
      'a kubelet four minors older',
      (i) => ({ ...i, nodes: [...i.nodes, node('edge-004', { version: 'v1.30.2' })] }),
      'version-skew',
      'error',
      ['edge-004'],
      'skew',
    ],
    [
      'disk pressure',
      (i) => ({ ...i, nodes: [node('edge-005', { pressure: 'DiskPressure' })] }),
      'node-pressure',
      'warning',
      ['edge-005'],
      'DiskPressure',
    ],
    [
      'cordoned by someone else',
      (i) => ({ ...i, nodes: [node('edge-006', { unschedulable: true })] }),
      'cordoned-nodes',
      'warning',
      ['edge-006'],
      'kubectl uncordon',
    ],
    [
      'cordoned by this upgrade (a re-run)',
      (i) => ({ ...i, nodes: [node('edge-006', { unschedulable: true, cordonedBy: 'edge-upgrade-x' })] }),
      'cordoned-nodes',
      'normal',
      [],
      '',
    ],
    [
      'cordoned by this upgrade, in its own run chain (a later run)',
      (i) => ({
        ...i,
        runChain: 'run-b',
        nodes: [
          node('edge-006', { unschedulable: true, cordonedBy: 'edge-upgrade-x', annotations: { [CORDONED_BY_RUN_ANNOTATION]: 'run-b' } }),
        ],
      }),
      'cordoned-nodes',
      'normal',
      [],
      '',
    ],
    [
      'kept cordoned by an earlier upgrade of the same ID (another run chain): named with its run, target and reason',
      (i) => ({
        ...i,
        runChain: 'run-b',
        nodes: [
          node('edge-006', {
            unschedulable: true,
            cordonedBy: 'edge-upgrade-x',
            annotations: {
              [CORDONED_BY_RUN_ANNOTATION]: 'run-a',
              [CORDONED_FOR_ANNOTATION]: 'v1.34.8',
              [KEPT_REASON_ANNOTATION]: 'kept at the cancel: its upgrade pod failed',
            },
          }),
          node('edge-007', { unschedulable: true }),
        ],
      }),
      'cordoned-nodes',
      'warning',
      ['edge-006', 'edge-007'],
      'edge-006 (run run-a (to v1.34.8): kept at the cancel: its upgrade pod failed). This upgrade takes each one over',
    ],
    [
      'an earlier upgrade that ended without a cleanup: its cordon is named as such',
      (i) => ({
        ...i,
        runChain: 'run-b',
        nodes: [
          node('edge-006', { unschedulable: true, cordonedBy: 'edge-upgrade-x', annotations: { [CORDONED_BY_RUN_ANNOTATION]: 'run-a' } }),
        ],
      }),
      'cordoned-nodes',
      'warning',
      ['edge-006'],
      'edge-006 (run run-a: that upgrade ended without releasing it',
    ],
    [
      'the precheck command (no run chain): a node whose record says why it was kept',
      (i) => ({
        ...i,
        nodes: [
          node('edge-006', {
            unschedulable: true,
            cordonedBy: 'edge-upgrade-x',
            annotations: { [CORDONED_BY_RUN_ANNOTATION]: 'run-a', [QUARANTINE_REASON_ANNOTATION]: 'upgrade pod failed' },
          }),
        ],
      }),
      'cordoned-nodes',
      'warning',
      ['edge-006'],
      'it was quarantined: upgrade pod failed',
    ],
    [
      'a failed upgrade pod',
      (i) => ({ ...i, upgradePods: [pod({ name: 'upgrade-edge-001-v1-34-4', ns: UPGRADE_NAMESPACE, phase: 'Failed' })] }),
      'upgrade-pods',
      'error',
      ['edge-001'],
      'kubectl -n kube-upgrade delete pod upgrade-edge-001-v1-34-4',
    ],
    ['namespace terminating', (i) => ({ ...i, namespace: 'terminating' }), 'upgrade-namespace', 'error', [], 'being deleted'],
    [
      'a PDB that never allows an eviction',
      (i) => ({
        ...i,
        pods: [pod({ owner: 'ReplicaSet', labels: { app: 'a' } })],
        pdbs: [pdb('a', { maxUnavailable: 0, selector: { matchLabels: { app: 'a' } } }, { disruptionsAllowed: 0 })],
      }),
      'pod-disruption-budgets',
      'error',
      ['edge-001'],
      'default/a',
    ],
    [
      'a PDB at 0 allowed disruptions right now',
      (i) => ({
        ...i,
        pods: [pod({ owner: 'ReplicaSet', labels: { app: 'a' } })],
        pdbs: [pdb('a', { minAvailable: 1, selector: { matchLabels: { app: 'a' } } }, { disruptionsAllowed: 0, expectedPods: 2 })],
      }),
      'pod-disruption-budgets',
      'warning',
      ['edge-001'],
      'drainTimeout',
    ],
    [
      'a pod under two PDBs',
      (i) => ({
        ...i,
        pods: [pod({ owner: 'ReplicaSet', labels: { app: 'a' } })],
        pdbs: [
          pdb('a', { selector: { matchLabels: { app: 'a' } } }, { disruptionsAllowed: 1 }),
          pdb('b', { selector: {} }, { disruptionsAllowed: 1 }),
        ],
      }),
      'pod-disruption-budgets',
      'error',
      ['edge-001'],
      'more than one',
    ],
    ['a bare pod', (i) => ({ ...i, pods: [pod({ name: 'debug' })] }), 'unmanaged-pods', 'warning', ['edge-001'], 'default/debug'],
    [
      'a pod whose grace period (the default 30 s) is longer than the drain timeout',
      (i) => ({ ...i, drainTimeoutMs: 20_000, pods: [pod({ name: 'pos', owner: 'ReplicaSet', node: 'edge-002' })] }),
      'grace-periods',
      'warning',
      ['edge-002'],
      "longer than the drain timeout (20 s) make their node's drain time out after a granted eviction: default/pos on edge-002 (30 s)",
    ],
    [
      'grace periods within the drain timeout',
      (i) => ({ ...i, drainTimeoutMs: 30_000, pods: [pod({ name: 'pos', owner: 'ReplicaSet' })] }),
      'grace-periods',
      'normal',
      [],
      'within the drain timeout (30 s)',
    ],
  ])('%s', (_what, mutate, id, result, nodes, text) => {
    const got = evaluatePrecheck(mutate(base())).find((i) => i.id === id)!;
    expect(got.result).toBe(result);
    if (nodes.length) expect(got.nodes).toEqual(nodes);
    expect(got.message).toContain(text);
  });
});

describe('buildUpgradePod', () => {
  it.each(['first-control-plane', 'control-plane', 'worker'] as const)(
    'pins a privileged %s pod to its node with the contract env',
    (role) => {
      const p = buildUpgradePod({
        node: 'cp-1',
        role,
        targetVersion: 'v1.34.4',
        upgradeId: 'edge-upgrade-x',
        image: 'img:1',
        nodeTimeoutMs: 30 * 60_000,
      });
      expect(p.metadata?.name).toBe('upgrade-cp-1-v1-34-4');
      expect(p.metadata?.labels).toMatchObject({
        'app.kubernetes.io/managed-by': 'edge-upgrade',
        'edge-upgrade.io/node': 'cp-1',
        'edge-upgrade.io/upgrade-id': 'edge-upgrade-x',
      });
      expect(p.spec).toMatchObject({ nodeName: 'cp-1', restartPolicy: 'Never', hostPID: true, tolerations: [{ operator: 'Exists' }] });
      const c = p.spec!.containers[0]!;
      expect(c.securityContext?.privileged).toBe(true);
      expect(c.image).toBe('img:1');
      expect(Object.fromEntries(c.env!.map((e) => [e.name, e.value]))).toEqual({
        [ENV_TARGET_VERSION]: 'v1.34.4',
        NODE_NAME: 'cp-1',
        [ENV_NODE_ROLE]: role,
      });
    },
  );

  it('mounts nothing from the host, is node-critical, requests resources and ends with the node timeout', () => {
    const p = buildUpgradePod({
      node: 'edge-1',
      role: 'worker',
      targetVersion: 'v1.34.4',
      upgradeId: 'u',
      image: 'img:1',
      nodeTimeoutMs: 30 * 60_000,
    });
    // The agent reaches the host through PID 1 (nsenter), so the old hostPath '/' mount was only exposure.
    expect(p.spec!.volumes ?? []).toEqual([]);
    expect(p.spec!.containers[0]!.volumeMounts ?? []).toEqual([]);
    expect(p.spec!.priorityClassName).toBe('system-node-critical');
    expect(p.spec!.containers[0]!.resources?.requests).toEqual({ cpu: '100m', memory: '128Mi' });
    // No limits: the host commands run in the pod's cgroup, and an OOM kill would stop kubeadm halfway.
    expect(p.spec!.containers[0]!.resources?.limits).toBeUndefined();
    expect(p.spec!.activeDeadlineSeconds).toBe(1800);
  });

  it.each([
    [90_500, 91],
    [1, 1],
    [15 * 24 * 3600_000, 15 * 24 * 3600],
  ])('a node timeout of %i ms gives activeDeadlineSeconds %i', (ms, seconds) => {
    expect(
      buildUpgradePod({ node: 'n', role: 'worker', targetVersion: 'v1.34.4', upgradeId: 'u', image: 'i', nodeTimeoutMs: ms }).spec!
        .activeDeadlineSeconds,
    ).toBe(seconds);
  });
});

describe('buildUpgradePod in mode check', () => {
  const input = {
    node: 'edge-001',
    role: 'worker',
    targetVersion: 'v1.34.4',
    upgradeId: 'edge-upgrade-x',
    image: 'i',
    nodeTimeoutMs: 60_000,
  } as const;

  it('is named and labelled for the workflow that made it', () => {
    const p = buildUpgradePod({ ...input, mode: 'check', madeBy: 'edge-upgrade-inspect-x-1' });
    expect(p.metadata?.name).toBe(probePodName('edge-001', 'v1.34.4', 'edge-upgrade-inspect-x-1'));
    expect(p.metadata?.labels).toMatchObject({
      [MADE_BY_LABEL]: 'edge-upgrade-inspect-x-1',
      'edge-upgrade.io/upgrade-id': 'edge-upgrade-x',
    });
    expect(p.metadata?.annotations?.[MADE_BY_ANNOTATION]).toBe('edge-upgrade-inspect-x-1');
  });

  it('a maker ID that is no valid label value is shortened in the label, in full in the annotation', () => {
    const madeBy = `edge-upgrade-inspect-${'y'.repeat(80)}-1`;
    const p = buildUpgradePod({ ...input, mode: 'check', madeBy });
    expect(p.metadata?.labels?.[MADE_BY_LABEL]).toBe(labelValue(madeBy));
    expect(p.metadata?.annotations?.[MADE_BY_ANNOTATION]).toBe(madeBy);
  });
});

describe('buildUpgradeNamespace', () => {
  it('is kube-upgrade, ours, and privileged for Pod Security admission', () => {
    expect(buildUpgradeNamespace().metadata).toEqual({
      name: 'kube-upgrade',
      labels: { 'app.kubernetes.io/managed-by': 'edge-upgrade', 'pod-security.kubernetes.io/enforce': 'privileged' },
    });
  });
});
