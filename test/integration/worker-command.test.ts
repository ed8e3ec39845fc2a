/**
 * `edge-upgrade worker` on a namespace that lacks the search attributes: it registers the four
 * Keyword attributes itself, serves Prometheus metrics from the SDK runtime and its probes' /livez and
 * /readyz, and stops cleanly on SIGTERM. Readiness means polling: with its Temporal frontend gone the worker
 * stays alive but is not ready. A bad configuration is refused with one line.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { reservePort } from '../../src/local/ports.js';
import { runCli, spawnCli, stopCli } from '../helpers/cli.js';
import { eventually } from '../helpers/poll.js';
import { startDevServer } from '../helpers/temporal.js';

const NAMES = ['EdgeClusterId', 'EdgeUpgradeTarget', 'EdgeUpgradePhase', 'EdgeUpgradeState'];
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await startDevServer({ searchAttributes: false });
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

const customAttributes = async () =>
  (await env.client.connection.operatorService.listSearchAttributes({ namespace: 'default' })).customAttributes ?? {};

/** GET http://address/path: the status and the one line of text. */
async function probe(address: string, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${address}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, text: (await res.text()).trim() };
}

test('the worker registers missing search attributes and serves Prometheus metrics and its probes', async () => {
  expect(Object.keys(await customAttributes())).not.toContain('EdgeClusterId');
  const metricsAddress = `127.0.0.1:${await reservePort()}`;
  const healthAddress = `127.0.0.1:${await reservePort()}`;
  const worker = spawnCli(['worker'], {
    TEMPORAL_ADDRESS: env.address,
    EDGE_UPGRADE_CLUSTERS: 'shop=/nonexistent/kubeconfig',
    EDGE_UPGRADE_METRICS_ADDRESS: metricsAddress,
    EDGE_UPGRADE_HEALTH_ADDRESS: healthAddress,
  });
  try {
    const attrs = await eventually(
      'the search attributes',
      async () => {
        const a = await customAttributes();
        return NAMES.every((n) => n in a) ? a : undefined;
      },
      60_000,
    );
    // 2 is INDEXED_VALUE_TYPE_KEYWORD.
    for (const n of NAMES) expect(attrs[n]).toBe(2);
    // The worker logs the registration once the server has answered: on a busy machine that line can come a moment later.
    const registered = 'registered search attributes EdgeClusterId, EdgeUpgradeTarget, EdgeUpgradePhase, EdgeUpgradeState';
    await eventually('the registration logged', () => worker.output().includes(registered), 30_000);
    expect(worker.output()).toContain(registered);

    // Once the worker polls, its metrics are labelled with the contract's task queue.
    const metrics = await eventually(
      'worker metrics',
      async () => {
        const res = await fetch(`http://${metricsAddress}/metrics`);
        const text = await res.text();
        return res.ok && text.includes('task_queue="edge-upgrade"') ? text : undefined;
      },
      60_000,
      500,
    );
    expect(metrics).toMatch(/^temporal_\w+\{.*task_queue="edge-upgrade".*\} \d+/m);

    // The probes: alive, and ready once it polls; anything else is a 404 naming them.
    const ready = await eventually(
      'ready',
      async () => ((await probe(healthAddress, '/readyz')).status === 200 ? true : undefined),
      60_000,
      500,
    );
    expect(ready).toBe(true);
    expect(await probe(healthAddress, '/readyz')).toEqual({ status: 200, text: 'ready: polling the task queue' });
    expect(await probe(healthAddress, '/livez')).toEqual({ status: 200, text: 'alive: the worker is running' });
    expect((await probe(healthAddress, '/metrics')).status).toBe(404);
  } finally {
    await stopCli(worker.child);
  }
  expect(worker.child.exitCode).toBe(0);
}, 120_000);

test('a broken configuration is refused with one line', async () => {
  const r = await runCli(['worker'], { TEMPORAL_ADDRESS: env.address, EDGE_UPGRADE_CLUSTERS: 'no-equals-sign' });
  expect(r.code).toBe(1);
  expect(r.stderr.trim()).toMatch(/^edge-upgrade: EDGE_UPGRADE_CLUSTERS: "no-equals-sign" is not id=\/path\/to\/kubeconfig\[#context\]$/);
  const bad = await runCli(['worker', '--config', '/nonexistent/config.yaml'], { TEMPORAL_ADDRESS: env.address });
  expect(bad.code).toBe(1);
  expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  expect(bad.stderr).toContain('cannot read config file /nonexistent/config.yaml');
  // The agent image runs privileged on every node: a tag, which can be moved, needs an explicit opt-in.
  const tagged = await runCli(['worker'], { TEMPORAL_ADDRESS: env.address, EDGE_UPGRADE_IMAGE: 'ghcr.io/edge-upgrade/agent:0.1.0' });
  expect(tagged.code).toBe(1);
  expect(tagged.stderr.trim()).toMatch(
    /^edge-upgrade: EDGE_UPGRADE_IMAGE: "ghcr\.io\/edge-upgrade\/agent:0\.1\.0" is not pinned by digest .*allowTaggedImages: true[^\n]*$/,
  );
});

test('a worker whose Temporal frontend is gone stays alive but is not ready, saying why', async () => {
  const own = await startDevServer();
  let ownStopped = false;
  const healthAddress = `127.0.0.1:${await reservePort()}`;
  const worker = spawnCli(['worker'], {
    TEMPORAL_ADDRESS: own.address,
    EDGE_UPGRADE_CLUSTERS: 'shop=/nonexistent/kubeconfig',
    EDGE_UPGRADE_HEALTH_ADDRESS: healthAddress,
  });
  try {
    // Before it connects it answers too: alive, not ready.
    const early = await eventually('the health endpoint', () => probe(healthAddress, '/livez').catch(() => undefined), 30_000, 200);
    expect(early.status).toBe(200);
    await eventually('ready', async () => (await probe(healthAddress, '/readyz')).status === 200, 60_000, 500);
    await own.teardown();
    ownStopped = true;
    const notReady = await eventually(
      'not ready',
      async () => {
        const r = await probe(healthAddress, '/readyz');
        return r.status === 503 ? r : undefined;
      },
      30_000,
      500,
    );
    expect(notReady.text).toMatch(/^not ready: the Temporal frontend did not answer in 2 s \(.+\)$/);
    expect(await probe(healthAddress, '/livez')).toEqual({ status: 200, text: 'alive: the worker is running' });
  } finally {
    await stopCli(worker.child);
    if (!ownStopped) await own.teardown();
  }
}, 120_000);
