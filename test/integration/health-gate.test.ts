/**
 * The health gate's activity (`evaluateHealth`) and drain's `owners`, against a real kube-apiserver,
 * controller manager and scheduler with the simulator, called directly (no Temporal): an upgraded
 * node, a Deployment and a StatefulSet whose pods fail readiness after the upgrade
 * (sim.edge-upgrade.io/unready-after-upgrade), a DaemonSet pod not Ready, a kubelet not at the
 * target, a flapping Ready condition, and the configured HTTP and Prometheus checks against local
 * servers. Every assertion is on what an operator reads: the check's verdict and the names in it.
 */
import { AppsV1Api, type V1Pod } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthChecks } from '../../src/config.js';
import { ClusterRegistry } from '../../src/cluster-registry.js';
import { createActivities } from '../../src/activities/index.js';
import { cordonNode, uncordonNode } from '../../src/activities/cordon.js';
import { drainNode } from '../../src/activities/drain.js';
import { evaluateHealth } from '../../src/activities/health.js';
import { mergePatch } from '../../src/kube/clients.js';
import { KubeClients } from '../../src/activities/kube.js';
import type { GateCheck, HealthArgs, NodeStepArgs } from '../../src/activities/types.js';
import { runUpgradePod } from '../../src/activities/upgrade-pod.js';
import { nodeReady } from '../../src/planning/cluster.js';
import { ErrorType } from '../../src/planning/errors.js';
import { SIM_READY_FLAP_LABEL, SIM_UNREADY_AFTER_UPGRADE_LABEL } from '../../src/planning/labels.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/poll.js';

const START = 'v1.33.7';
const TARGET = 'v1.34.4';
const IMAGE = 'example.invalid/edge-upgrade-agent:test';
const UPGRADE_ID = 'edge-upgrade-health-gate';

let cluster: TestCluster;
let apps: AppsV1Api;
let clients: KubeClients;
let registry: ClusterRegistry;

beforeAll(async () => {
  cluster = await startCluster({ simulator: { leaseDurationSeconds: 8, upgradeSeconds: 1 } });
  await cluster.simulator.createCluster({ controlPlanes: 0, edgeWorkers: 4, version: START });
  await eventually('4 Ready nodes', async () => {
    const list = (await cluster.core.listNode()).items;
    return list.length === 4 && list.every(nodeReady);
  });
  registry = new ClusterRegistry(new Map([['direct', { id: 'direct', kubeconfig: cluster.controlPlane.kubeconfigPath }]]));
  clients = new KubeClients(registry);
  apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
  for (const namespace of ['shop', 'logging']) await cluster.core.createNamespace({ body: { metadata: { name: namespace } } });
  // A log shipper on every node, as edge sites run: its pod on an upgraded node must be Ready again.
  await apps.createNamespacedDaemonSet({
    namespace: 'logging',
    body: {
      metadata: { name: 'fluent-bit' },
      spec: {
        selector: { matchLabels: { app: 'fluent-bit' } },
        template: {
          metadata: { labels: { app: 'fluent-bit' } },
          spec: { containers: [{ name: 'fluent-bit', image: 'example.invalid/fb:1' }] },
        },
      },
    },
  });
  await eventually('a Ready fluent-bit pod on each node', async () => (await readyPods('logging', 'app=fluent-bit')).length === 4, 60_000);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

async function readyPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
  const pods = (await cluster.core.listNamespacedPod({ namespace, labelSelector })).items;
  return pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

const step = (node: string): NodeStepArgs => ({ clusterId: 'direct', targetVersion: TARGET, upgradeId: UPGRADE_ID, node, role: 'worker' });
const setLabel = (node: string, key: string, value: string | null) =>
  cluster.core.patchNode({ name: node, body: { metadata: { labels: { [key]: value } } } }, mergePatch);
const gate = (nodes: string[], more: Partial<HealthArgs> = {}): HealthArgs => ({
  clusterId: 'direct',
  targetVersion: TARGET,
  upgradeId: UPGRADE_ID,
  nodes,
  since: new Date().toISOString(),
  owners: [],
  checks: [],
  maxRestarts: 0,
  ...more,
});
const check = (checks: GateCheck[], name: string) => checks.find((c) => c.name === name)!;
/** Polls the gate until check `name` has the wanted verdict; returns that check. */
const gateUntil = (args: HealthArgs, name: string, ok: boolean, probes: HealthChecks = {}) =>
  eventually(
    `gate check ${name} ${ok ? 'ok' : 'not ok'}`,
    async () => {
      const c = check(await evaluateHealth(clients, probes, args), name);
      return c.ok === ok ? c : undefined;
    },
    60_000,
    500,
  );

async function upgrade(node: string): Promise<void> {
  await runUpgradePod(clients, IMAGE, { ...step(node), upgradeImage: IMAGE, nodeTimeoutMs: 60_000 });
}

test('(a) a healthy upgraded node passes every built-in check, in order', async () => {
  await upgrade('edge-001');
  const c = await eventually('all checks ok', async () => {
    const checks = await evaluateHealth(clients, {}, gate(['edge-001']));
    return checks.every((x) => x.ok) ? checks : undefined;
  });
  expect(c.map((x) => x.name)).toEqual(['nodes', 'daemonsets', 'workloads', 'restarts']);
  expect(check(c, 'nodes').message).toBe(`1 node(s) Ready at ${TARGET}`);
  expect(check(c, 'daemonsets').message).toBe('1 DaemonSet pod(s) Ready');
  expect(check(c, 'restarts').message).toBe('no restarts');
}, 90_000);

test('(d) a node whose kubelet is not at the target fails "nodes", naming it and both versions; a removed node is skipped', async () => {
  const c = await gateUntil(gate(['edge-001', 'edge-002', 'edge-gone']), 'nodes', false);
  expect(c.message).toBe(`1 of 2 node(s) not healthy: edge-002 kubelet ${START}, want ${TARGET}; 1 removed, skipped: edge-gone`);
});

test('a large batch (over 8 nodes) is read in three lists, with the same verdicts as node by node', async () => {
  const gone = ['edge-gone', ...['a', 'b', 'c', 'd', 'e', 'f'].map((x) => `gone-${x}`)];
  const few = await evaluateHealth(clients, {}, gate(['edge-001', 'edge-002']));
  const many = await evaluateHealth(clients, {}, gate(['edge-001', 'edge-002', ...gone]));
  expect(check(many, 'nodes').message).toBe(
    `1 of 2 node(s) not healthy: edge-002 kubelet ${START}, want ${TARGET}; 7 removed, skipped: edge-gone, gone-a, gone-b and 4 more`,
  );
  for (const name of ['daemonsets', 'workloads', 'restarts']) expect(check(many, name)).toEqual(check(few, name));
});

test('a flapping Ready condition fails "nodes" while NotReady; nodes and DaemonSet pods pass once it stops', async () => {
  await setLabel('edge-001', SIM_READY_FLAP_LABEL, '3');
  try {
    const c = await gateUntil(gate(['edge-001']), 'nodes', false);
    expect(c.message).toContain('edge-001 NotReady (simulated flap: PLEG is not healthy)');
  } finally {
    await setLabel('edge-001', SIM_READY_FLAP_LABEL, null);
  }
  await gateUntil(gate(['edge-001']), 'nodes', true);
  // Pods the node lifecycle controller marked not Ready meanwhile are reported Ready again by the (simulated) kubelet.
  await gateUntil(gate(['edge-001']), 'daemonsets', true);
}, 90_000);

/** A workload pinned to `node` (nodeSelector), so its evicted pod comes back there once the node is uncordoned. */
const pinned = (node: string, app: string) => ({
  selector: { matchLabels: { app } },
  template: {
    metadata: { labels: { app } },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node },
      terminationGracePeriodSeconds: 1,
      containers: [{ name: app, image: `example.invalid/${app}:1` }],
    },
  },
});

test('(b) Deployment pods not Ready after the upgrade fail "workloads", naming it and the node; drain reported the owners', async () => {
  const node = 'edge-003';
  await apps.createNamespacedDeployment({
    namespace: 'shop',
    body: { metadata: { name: 'pos-api' }, spec: { replicas: 2, ...pinned(node, 'pos-api') } },
  });
  await apps.createNamespacedStatefulSet({
    namespace: 'shop',
    body: { metadata: { name: 'db' }, spec: { replicas: 1, serviceName: 'db', ...pinned(node, 'db') } },
  });
  await eventually('pos-api and db Ready', async () => (await readyPods('shop', 'app in (pos-api,db)')).length === 3, 60_000);
  await setLabel(node, SIM_UNREADY_AFTER_UPGRADE_LABEL, 'true');

  // The workflow's node steps, as it runs them, then the gate with the drain's owners.
  await cordonNode(clients, step(node));
  const drained = await drainNode(clients, { ...step(node), drainTimeoutMs: 60_000 });
  expect(drained).toEqual({ evicted: 3, owners: ['Deployment/shop/pos-api', 'StatefulSet/shop/db'] });
  await upgrade(node);
  await uncordonNode(clients, step(node));

  const args = gate([node], { owners: drained.owners });
  const c = await eventually(
    'pos-api back on edge-003, not Ready',
    async () => {
      const w = check(await evaluateHealth(clients, {}, args), 'workloads');
      // Both parts: the controllers' counts and their pods on the node, once started there (bound and started a moment later).
      const both = w.message.includes('0/2 available (unready pod on edge-003)') && w.message.includes('3 of 3 pod(s) not Ready');
      return !w.ok && both && !w.message.includes('Pending') ? w : undefined;
    },
    60_000,
    500,
  );
  expect(c.message).toContain('StatefulSet shop/db: 0/1 ready (unready pod on edge-003)');
  expect(c.message).toMatch(
    /pod shop\/pos-api-[a-z0-9]+-[a-z0-9]+ \(Deployment shop\/pos-api\) on edge-003: Running, not Ready \(ContainersNotReady\)/,
  );
  expect(c.message).toContain('pod shop/db-0 (StatefulSet shop/db) on edge-003: Running, not Ready (ContainersNotReady)');
  // The DaemonSet pod that stayed on the node is not Ready either.
  expect((await gateUntil(args, 'daemonsets', false)).message).toMatch(/DaemonSet logging\/fluent-bit\) on edge-003/);

  // The workloads recover: the gate passes.
  await setLabel(node, SIM_UNREADY_AFTER_UPGRADE_LABEL, null);
  const ok = await gateUntil(args, 'workloads', true);
  expect(ok.message).toBe('3 pod(s) Ready; 2 evicted controller(s) available');
  // A controller deleted meanwhile is no longer waited for.
  await apps.deleteNamespacedStatefulSet({ name: 'db', namespace: 'shop' });
  await gateUntil({ ...args, owners: [...args.owners, 'Deployment/shop/never-existed'] }, 'workloads', true);
}, 180_000);

test('(c) a DaemonSet pod not Ready after the upgrade fails "daemonsets", naming pod, DaemonSet and node', async () => {
  await setLabel('edge-004', SIM_UNREADY_AFTER_UPGRADE_LABEL, 'true');
  await upgrade('edge-004');
  const c = await gateUntil(gate(['edge-004']), 'daemonsets', false);
  expect(c.message).toMatch(
    new RegExp(
      String.raw`^1 of 1 DaemonSet pod\(s\) not Ready: pod logging/fluent-bit-[a-z0-9]+ \(DaemonSet logging/fluent-bit\) on edge-004: ` +
        String.raw`Running, not Ready \(ContainersNotReady\)$`,
    ),
  );
  const all = await evaluateHealth(clients, {}, gate(['edge-004']));
  expect(check(all, 'nodes').ok).toBe(true);
  expect(check(all, 'workloads').ok).toBe(true);
  await setLabel('edge-004', SIM_UNREADY_AFTER_UPGRADE_LABEL, null);
  await gateUntil(gate(['edge-004']), 'daemonsets', true);
}, 90_000);

/** A local HTTP server answering with `handler`; stopped by the test. */
async function serve(
  handler: (path: string, query: URLSearchParams) => { status: number; body?: unknown },
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://localhost');
    const { status, body } = handler(u.pathname, u.searchParams);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
const stop = (server: Server) => new Promise<void>((r) => server.close(() => r()));

test('(e) an http check passes on 2xx and fails on 500, a timeout or a refused connection, without its URL in the message', async () => {
  let status = 200;
  const { server, url } = await serve(() => ({ status }));
  const silent = createServer(() => {}); // accepts, never answers
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const probes: HealthChecks = {
    'shop-api': { http: { url: `${url}/healthz`, timeoutSeconds: 2 } },
    'till-api': { http: { url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`, timeoutSeconds: 1 } },
  };
  try {
    const args = gate(['edge-001'], { checks: ['shop-api'] });
    const ok = await evaluateHealth(clients, probes, args);
    expect(ok.map((c) => c.name)).toEqual(['nodes', 'daemonsets', 'workloads', 'restarts', 'shop-api']);
    expect(check(ok, 'shop-api')).toEqual({ name: 'shop-api', ok: true, message: 'HTTP 200 OK' });
    status = 500;
    expect(check(await evaluateHealth(clients, probes, args), 'shop-api')).toEqual({
      name: 'shop-api',
      ok: false,
      message: 'GET answered HTTP 500 Internal Server Error, want 2xx',
    });
    const more = await evaluateHealth(clients, probes, gate(['edge-001'], { checks: ['till-api', 'not-configured'] }));
    expect(check(more, 'till-api')).toEqual({ name: 'till-api', ok: false, message: 'no answer within 1 s' });
    expect(check(more, 'not-configured').message).toBe('check "not-configured" is not configured on this worker (healthChecks)');
    await stop(server);
    const refused = check(await evaluateHealth(clients, probes, args), 'shop-api');
    expect(refused).toEqual({ name: 'shop-api', ok: false, message: 'request failed (ECONNREFUSED)' });
    expect(JSON.stringify(more)).not.toContain('127.0.0.1');
  } finally {
    server.close();
    silent.closeAllConnections();
    await stop(silent);
  }
}, 60_000);

test('(f) a prometheus check passes on a non-empty result and fails on an empty one or a query error', async () => {
  const QUERY = 'up{job="pos"} == 1';
  let series = 0;
  const seen: string[] = [];
  const { server, url } = await serve((path, q) => {
    seen.push(`${path}?${q.get('query')}`);
    if (q.get('query') !== QUERY) return { status: 400, body: { status: 'error', errorType: 'bad_data', error: 'unexpected query' } };
    const result = Array.from({ length: series }, (_, i) => ({ metric: { job: 'pos', instance: `till-${i}` }, value: [0, '1'] }));
    return { status: 200, body: { status: 'success', data: { resultType: 'vector', result } } };
  });
  try {
    const probes: HealthChecks = {
      'error-rate': { prometheus: { url: `${url}/`, query: QUERY, timeoutSeconds: 2 } },
      'bad-query': { prometheus: { url, query: 'up{', timeoutSeconds: 2 } },
    };
    const args = gate(['edge-001'], { checks: ['error-rate', 'bad-query'] });
    let c = await evaluateHealth(clients, probes, args);
    expect(check(c, 'error-rate')).toEqual({ name: 'error-rate', ok: false, message: 'query returned an empty result' });
    expect(check(c, 'bad-query')).toEqual({ name: 'bad-query', ok: false, message: 'query failed: bad_data: unexpected query' });
    series = 2;
    c = await evaluateHealth(clients, probes, args);
    expect(check(c, 'error-rate')).toEqual({ name: 'error-rate', ok: true, message: 'query returned 2 series' });
    expect(seen).toContain(`/api/v1/query?${QUERY}`);
  } finally {
    await stop(server);
  }
}, 60_000);

test('(g) inventory refuses a gate check the worker does not configure, naming it and the configured ones', async () => {
  const activities = createActivities({
    clusters: registry,
    upgradeImage: IMAGE,
    healthChecks: () => ({ 'shop-api': { http: { url: 'http://127.0.0.1:9/' } }, 'error-rate': { http: { url: 'http://127.0.0.1:9/' } } }),
  });
  const err = await activities.inventory('direct', { gateChecks: ['shop-api', 'shop-apj'] }).then(
    () => undefined,
    (e: unknown) => e as ApplicationFailure,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: ErrorType.InvalidUpgradeRequest, nonRetryable: true });
  expect(err?.message).toBe(
    'gate check(s) "shop-apj" not configured for cluster direct (this worker configures error-rate, shop-api); ' +
      'add them to healthChecks in the worker configuration',
  );
  expect((await activities.inventory('direct', { gateChecks: ['shop-api'] })).nodes).toHaveLength(4);
});
