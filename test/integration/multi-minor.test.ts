/**
 * Acceptance: multi-minor upgrades on the real stack. A 3-master, 8-worker cluster at v1.31.x goes
 * to v1.34.4: the masters hop v1.32 → v1.33 → v1.34 (`kubeadm upgrade apply` on cp-1 each hop),
 * the workers are upgraded once, to the target. The control plane's version is read from the
 * kube-apiserver mirror pods the simulator keeps for its masters (the local API server binary is
 * v1.34.4, so `/version` would say otherwise). One run is paused in hop 2 and resumed; in another
 * the worker process is SIGKILLed in hop 3 and replaced. Both end `succeeded`. The workers go in
 * batches of up to half of them (1, 2, 4, 1): they are upgraded once either way, in fewer waits. The
 * hops are the masters'; 8 workers (2 cloud, 6 edge) show that the workers go once, at the target.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { pauseUpgrade, resumeUpgrade, startUpgrade } from '../../src/api.js';
import {
  KUBE_APISERVER_SELECTOR,
  KUBE_SYSTEM_NAMESPACE,
  NODE_NAME_LABEL,
  SIM_REPO_MISSING_MINOR_LABEL,
  TARGET_VERSION_LABEL,
} from '../../src/planning/labels.js';
import type { Progress } from '../../src/planning/types.js';
import { spawnCli, stopCli } from '../helpers/cli.js';
import { NO_GATE } from '../helpers/requests.js';
import {
  CLUSTER_ID,
  cordonedByUs,
  nodes,
  progressUntil,
  setNodeLabel,
  startHarness,
  upgradePods,
  type Harness,
} from './upgrade-harness.js';

const FROM = 'v1.31.9';
const TARGET = 'v1.34.4';
const HOPS = ['v1.32.9', 'v1.33.5', TARGET];
const SHAPE = { controlPlanes: 3, cloudWorkers: 2, edgeWorkers: 6 };
const WORKERS = SHAPE.cloudWorkers + SHAPE.edgeWorkers;
const MASTERS = ['cp-1', 'cp-2', 'cp-3'];
const BATCH = { maxPercent: 50 };

/** `node@version` of every upgrade pod, from its labels. */
async function podsByNode(h: Harness): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const p of await upgradePods(h)) {
    const node = p.spec!.nodeName!;
    out.set(node, [...(out.get(node) ?? []), p.metadata!.labels![TARGET_VERSION_LABEL]!]);
  }
  return out;
}

/** The image tags of the masters' kube-apiserver mirror pods. */
async function apiServerTags(h: Harness): Promise<string[]> {
  const pods: V1Pod[] = (
    await h.cluster.core.listNamespacedPod({ namespace: KUBE_SYSTEM_NAMESPACE, labelSelector: KUBE_APISERVER_SELECTOR })
  ).items;
  return pods.map((p) => p.spec!.containers[0]!.image!.split(':').pop()!).sort();
}

/** What both runs must leave: succeeded, masters through every hop once, workers once at the target, nothing cordoned. */
async function expectHoppedOnce(h: Harness, done: Progress): Promise<void> {
  expect(done).toMatchObject({
    state: 'succeeded',
    hop: { number: 3, of: 3, version: TARGET },
    masters: { total: 3, upgraded: 3 },
    workers: { total: WORKERS, upgraded: WORKERS },
    lastError: null,
  });
  const byNode = await podsByNode(h);
  for (const m of MASTERS) expect(byNode.get(m)!.sort()).toEqual([...HOPS].sort());
  const workers = [...byNode.keys()].filter((n) => !MASTERS.includes(n));
  expect(workers).toHaveLength(WORKERS);
  for (const w of workers) expect(byNode.get(w)).toEqual([TARGET]);
  expect((await upgradePods(h)).every((p) => p.status?.phase === 'Succeeded')).toBe(true);
  const all = await nodes(h);
  expect([...all.values()].every((n) => n.status?.nodeInfo?.kubeletVersion === TARGET && !n.spec?.unschedulable)).toBe(true);
  expect(cordonedByUs(all)).toEqual([]);
  expect(await apiServerTags(h)).toEqual([TARGET, TARGET, TARGET]);
}

describe('versions: in the worker configuration, a pause during hop 2', () => {
  let h: Harness;
  beforeAll(async () => {
    // 2 s pods: a hop-2 master takes about 3 s, as long as the pause needs to land before the third one starts.
    h = await startHarness({ shape: SHAPE, version: FROM, upgradeSeconds: 2 });
    h.config.versions = ['v1.32.1', 'v1.32.9', 'v1.33.5'];
  }, 180_000);
  afterAll(async () => {
    await h?.stop();
  }, 60_000);

  test('the masters hop 1.32 → 1.33 → 1.34, a pause in hop 2 holds, resume finishes, every worker upgraded once', async () => {
    expect(await apiServerTags(h)).toEqual([FROM, FROM, FROM]);
    await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, batch: BATCH, targetVersion: TARGET });
    const inHop2 = await progressUntil(h, 'a master in flight in hop 2', (p) => p.hop?.number === 2 && p.masters.current !== null);
    expect(inHop2.precheck.items.find((i) => i.id === 'version-skew')!.message).toContain('in 3 hops (v1.32.9 → v1.33.5 → v1.34.4)');
    await pauseUpgrade(h.env.client, CLUSTER_ID, 'look at hop 2');
    const paused = await progressUntil(h, 'paused with nothing in flight', (p) => p.state === 'paused' && p.masters.current === null);
    expect(paused).toMatchObject({ phase: 'masters', hop: { number: 2, of: 3, version: 'v1.33.5' } });
    // The hop-2 master in flight finished; none started after the pause, and no worker was touched.
    const before = await podsByNode(h);
    const hop2 = MASTERS.filter((m) => before.get(m)!.includes('v1.33.5'));
    expect(hop2.length).toBe(paused.masters.upgraded);
    expect(hop2.length).toBeLessThan(3);
    expect([...before.keys()].sort()).toEqual(MASTERS);
    // The mirror pods say which masters' API servers are at v1.33.5 now.
    expect(await apiServerTags(h)).toEqual([...hop2.map(() => 'v1.33.5'), ...MASTERS.slice(hop2.length).map(() => 'v1.32.9')].sort());

    await resumeUpgrade(h.env.client, CLUSTER_ID);
    const done = await progressUntil(h, 'the upgrade to finish', (p) => p.state !== 'running', 400_000);
    await expectHoppedOnce(h, done);
  }, 600_000);
});

describe('--via, the worker process SIGKILLed during hop 3', () => {
  let h: Harness;
  let replacement: ReturnType<typeof spawnCli> | undefined;
  beforeAll(async () => {
    h = await startHarness({ shape: SHAPE, version: FROM, upgradeSeconds: 3 });
    // Workers here are `edge-upgrade worker` processes; the harness's in-process one steps aside.
    h.worker.shutdown();
    await h.running;
  }, 180_000);
  afterAll(async () => {
    if (replacement) await stopCli(replacement.child);
    await h?.stop();
  }, 60_000);

  test('a new worker process finishes hop 3 and the workers; each master once per hop, each worker once', async () => {
    const env = { TEMPORAL_ADDRESS: h.env.address, EDGE_UPGRADE_CLUSTERS: `${CLUSTER_ID}=${h.cluster.controlPlane.kubeconfigPath}` };
    const first = spawnCli(['worker'], env);
    await startUpgrade(h.env.client, {
      clusterId: CLUSTER_ID,
      gate: NO_GATE,
      batch: BATCH,
      targetVersion: TARGET,
      via: ['v1.32.9', 'v1.33.5'],
    });
    const mid = await progressUntil(
      h,
      'a master in flight in hop 3',
      (p) => (p.hop?.number === 3 && p.masters.current !== null) || p.state !== 'running',
      400_000,
    );
    expect(mid).toMatchObject({ state: 'running', hop: { number: 3 } });
    const inFlight = mid.masters.current!.node;
    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await exited;

    replacement = spawnCli(['worker'], env);
    const done = await progressUntil(h, 'the upgrade to finish', (p) => p.state !== 'running', 400_000);
    await expectHoppedOnce(h, done);
    // The simulator ran each upgrade exactly once: the new worker found the hop-3 pod of the master in flight by name.
    expect(h.cluster.simulator.stats().upgradesSucceeded).toBe(3 * 3 + WORKERS);
    const pod = (await upgradePods(h)).find(
      (p) => p.metadata!.labels![NODE_NAME_LABEL] === inFlight && p.metadata!.labels![TARGET_VERSION_LABEL] === TARGET,
    );
    expect(pod?.status?.phase).toBe('Succeeded');
  }, 600_000);
});

describe("node probes: a master's repository lacks a hop's minor", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ shape: { controlPlanes: 2, cloudWorkers: 0, edgeWorkers: 1 }, version: FROM, upgradeSeconds: 1 });
    h.config.versions = ['v1.32.9', 'v1.33.5'];
  }, 180_000);
  afterAll(async () => {
    await h?.stop();
  }, 60_000);

  test('the pre-check names the master and the hop whose packages it cannot download; a worker (target only) is not named', async () => {
    // No v1.33 repository on cp-2 and edge-001: cp-2 needs kubeadm 1.33.5 for hop 2; edge-001 goes to v1.34.4 once.
    await setNodeLabel(h, 'cp-2', SIM_REPO_MISSING_MINOR_LABEL, '1.33');
    await setNodeLabel(h, 'edge-001', SIM_REPO_MISSING_MINOR_LABEL, '1.33');
    const handle = await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, targetVersion: TARGET, gate: NO_GATE });
    await handle.result().catch(() => undefined);
    const p = await handle.query<Progress>('progress');
    expect(p).toMatchObject({ phase: 'precheck', state: 'failed' });
    const repo = p.precheck.items.find((i) => i.id === 'package-repository');
    expect(repo).toMatchObject({ result: 'error', nodes: ['cp-2'] });
    expect(repo!.message).toContain('cp-2 (hop v1.33.5: https://pkgs.k8s.io/core:/stable:/v1.33/deb/Release unreachable: HTTP 404)');
    expect(repo!.message).not.toContain('edge-001');
    // Nothing was upgraded; the masters were only probed.
    expect(await upgradePods(h)).toEqual([]);
    expect([...(await nodes(h)).values()].every((n) => n.status?.nodeInfo?.kubeletVersion === FROM)).toBe(true);
  }, 180_000);
});
