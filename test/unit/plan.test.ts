/** The upgrade plan (src/planning/plan.ts) that the workflow follows and `edge-upgrade plan` previews. */
import { firstControlPlane, planNodes, workerBatches, type PlannedMaster } from '../../src/planning/plan.js';
import type { ClusterInventory, ClusterNode } from '../../src/planning/types.js';
import { parseVersion } from '../../src/planning/versions.js';

const FROM = 'v1.33.7';
const TO = 'v1.34.4';

const node =
  (kind: ClusterNode['kind'], isEdge: boolean) =>
  (name: string, kubeletVersion = FROM, ready = true): ClusterNode => ({
    name,
    kind,
    edge: isEdge,
    kubeletVersion,
    ready,
    unschedulable: false,
  });
const master = node('control-plane', false);
const cloud = node('worker', false);
const edge = node('worker', true);
const cluster = (controlPlaneVersion: string, nodes: ClusterNode[]): ClusterInventory => ({
  clusterId: 'shop',
  controlPlaneVersion,
  nodes,
});
const m = (name: string, serial: number, role: PlannedMaster['role'] = 'control-plane'): PlannedMaster => ({ name, serial, role });

/** What a plan should say: masters left (with serial and role), workers left, totals, and nodes already done. */
interface Want {
  masters: PlannedMaster[];
  mastersTotal: number;
  workers: string[];
  workersTotal: number;
  done: string[];
}

describe('planNodes', () => {
  it.each<[string, ClusterInventory, Want]>([
    [
      'fresh dedicated cluster: masters by name (numeric-aware), the first runs kubeadm upgrade apply; cloud before edge',
      cluster(FROM, [edge('edge-10'), master('cp-10'), cloud('cloud-1'), master('cp-2'), edge('edge-2'), master('cp-1')]),
      {
        masters: [m('cp-1', 1, 'first-control-plane'), m('cp-2', 2), m('cp-10', 3)],
        mastersTotal: 3,
        workers: ['cloud-1', 'edge-2', 'edge-10'],
        workersTotal: 3,
        done: [],
      },
    ],
    [
      'managed control plane: no masters at all',
      cluster(TO, [edge('edge-1'), edge('edge-2')]),
      { masters: [], mastersTotal: 0, workers: ['edge-1', 'edge-2'], workersTotal: 2, done: [] },
    ],
    [
      're-run: the first master and some workers are at the target; the rest keep their serials, nobody runs apply again',
      cluster(TO, [
        master('cp-1', TO),
        master('cp-2'),
        master('cp-3'),
        cloud('cloud-1', TO),
        edge('edge-1'),
        edge('edge-2', TO),
        edge('edge-3'),
      ]),
      {
        masters: [m('cp-2', 2), m('cp-3', 3)],
        mastersTotal: 3,
        workers: ['edge-1', 'edge-3'],
        workersTotal: 4,
        done: ['cp-1', 'cloud-1', 'edge-2'],
      },
    ],
    [
      're-run after apply but before the first kubelet: API server at the target, every master left is control-plane',
      cluster(TO, [master('cp-1'), master('cp-2')]),
      { masters: [m('cp-1', 1), m('cp-2', 2)], mastersTotal: 2, workers: [], workersTotal: 0, done: [] },
    ],
    [
      'a master at the target but NotReady still needs work (as control-plane: apply ran)',
      cluster(FROM, [master('cp-1', TO, false), master('cp-2')]),
      { masters: [m('cp-1', 1), m('cp-2', 2)], mastersTotal: 2, workers: [], workersTotal: 0, done: [] },
    ],
    [
      'everything at the target: nothing to do',
      cluster(TO, [master('cp-1', TO), edge('edge-1', 'v1.34.4+k3s1')]),
      { masters: [], mastersTotal: 1, workers: [], workersTotal: 1, done: ['cp-1', 'edge-1'] },
    ],
  ])('%s', (_name, inv, want) => {
    const plan = planNodes(inv, parseVersion(TO));
    expect(plan.masters).toEqual({ total: want.mastersTotal, todo: want.masters });
    expect(plan.workers).toEqual({ total: want.workersTotal, todo: want.workers });
    expect(plan.alreadyUpgraded).toEqual(want.done);
    expect(firstControlPlane(plan)).toBe(want.masters.find((x) => x.role === 'first-control-plane')?.name ?? null);
  });

  it('does not depend on the order the API lists nodes in', () => {
    const nodes = [master('cp-1'), master('cp-2'), cloud('cloud-1'), edge('edge-1'), edge('edge-2', TO)];
    const a = planNodes(cluster(FROM, nodes), parseVersion(TO));
    const b = planNodes(cluster(FROM, [...nodes].reverse()), parseVersion(TO));
    expect(b.masters).toEqual(a.masters);
    expect(b.workers).toEqual(a.workers);
  });
});

describe('workerBatches', () => {
  const workers = (total: number, done: number) =>
    cluster(
      FROM,
      Array.from({ length: total }, (_, i) => edge(`edge-${i + 1}`, i < done ? TO : FROM)),
    );

  it.each<[string, number, number, number | undefined, number[]]>([
    // name, workers, already done, max percent, batch sizes
    ['fresh, default 10%', 37, 0, undefined, [1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1]],
    ['fresh, 25%', 12, 0, 25, [1, 2, 3, 3, 3]],
    ['re-run: the cap comes from all 100 workers (10), not the 50 left', 100, 50, undefined, [1, 2, 4, 8, 10, 10, 10, 5]],
    ['re-run with one worker left', 20, 19, undefined, [1]],
    ['nothing left', 20, 20, undefined, []],
  ])('%s', (_name, total, done, percent, sizes) => {
    const plan = planNodes(workers(total, done), parseVersion(TO));
    const batches = workerBatches(plan, percent);
    expect(batches.map((b) => b.length)).toEqual(sizes);
    // Every worker left appears once, in plan order.
    expect(batches.flat()).toEqual(plan.workers.todo);
  });
});
