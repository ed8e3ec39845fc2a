/**
 * The operator's surface: the real `edge-upgrade` bin against the real dev server, a real control
 * plane with simulated nodes, and a worker started with `edge-upgrade worker`. Covers each
 * subcommand's happy path, each refusal (one line, non-zero exit, no stack trace) and `--json`.
 */
import { AppsV1Api } from '@kubernetes/client-node';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { getProgress } from '../../src/api.js';
import { workerPolling } from '../../src/cli/worker-check.js';
import { SIM_UPGRADE_SECONDS_LABEL } from '../../src/planning/labels.js';
import type { Progress } from '../../src/planning/types.js';
import { TASK_QUEUE } from '../../src/workflows/definitions.js';
import { expectRefusal, runCli, spawnWorker, type CliResult, type SpawnedWorker } from '../helpers/cli.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/poll.js';
import { startDevServer } from '../helpers/temporal.js';
import { deployment } from '../helpers/workloads.js';

/** Most upgrades here are about the commands, not the health gate (30 s after each node by default). */
const NO_GATE_ARGS = ['--gate-stable-for', '0'];

const FROM = 'v1.33.7';
const TO = 'v1.34.4';
let env: TestWorkflowEnvironment;
let cluster: TestCluster;
let worker: SpawnedWorker | undefined;
let cliEnv: Record<string, string>;

const cli = (...args: string[]) => runCli(args, cliEnv);
const json = <T>(r: CliResult): T => JSON.parse(r.stdout) as T;

beforeAll(async () => {
  env = await startDevServer();
  cluster = await startCluster();
  // Slow nodes so the upgrade is still running while the refusals are tried.
  await cluster.simulator.addNodes([
    ...[1, 2, 3].map((i) => ({ name: `cp-${i}`, kind: 'control-plane' as const, version: FROM })),
    ...Array.from({ length: 12 }, (_, i) => ({
      name: `edge-${String(i + 1).padStart(2, '0')}`,
      kind: 'worker' as const,
      edge: true,
      version: FROM,
      labels: { [SIM_UPGRADE_SECONDS_LABEL]: '2' },
    })),
  ]);
  cliEnv = {
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_NAMESPACE: 'default',
    EDGE_UPGRADE_CLUSTERS: `shop=${cluster.controlPlane.kubeconfigPath}`,
  };
  worker = spawnWorker(cliEnv);
  // `start` and the Updates refuse when no worker polls: begin once this one does.
  await eventually('the worker polling', () => workerPolling(env.client, TASK_QUEUE, 0), 120_000);
}, 240_000);

afterAll(async () => {
  await worker?.stop();
  await cluster?.stop();
  await env?.teardown();
});

test('precheck prints a table and --json gives the contract report', async () => {
  const table = await cli('precheck', '--cluster', 'shop', '--to', TO);
  expect(table.stderr).toBe('');
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/^Pre-check: (passed|warning)/);
  expect(table.stdout).toMatch(/RESULT\s+CHECK\s+NODES\s+MESSAGE/);
  const report = json<{ status: string; items: Array<{ id: string; result: string; message: string; nodes: string[] }> }>(
    await cli('--json', 'precheck', '--cluster', 'shop', '--to', TO),
  );
  expect(['passed', 'warning']).toContain(report.status);
  expect(report.items.length).toBeGreaterThan(3);
  for (const item of report.items) {
    expect(['normal', 'warning', 'error']).toContain(item.result);
    expect(typeof item.message).toBe('string');
    expect(Array.isArray(item.nodes)).toBe(true);
  }
}, 60_000);

test("precheck --drain-timeout shorter than a pod's grace period warns, naming the pod and both figures (#25)", async () => {
  const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
  const app = 'pos-grace';
  // No grace period set: Kubernetes' default, 30 s.
  await apps.createNamespacedDeployment({ namespace: 'default', body: deployment(app, { node: 'edge-03' }) });
  try {
    await eventually('the pos-grace pod bound', async () => {
      const pods = (await cluster.core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${app}` })).items;
      return pods.some((p) => p.spec?.nodeName === 'edge-03');
    });
    type Report = { items: Array<{ id: string; result: string; message: string; nodes: string[] }> };
    const short = json<Report>(await cli('--json', 'precheck', '--cluster', 'shop', '--to', TO, '--drain-timeout', '20s'));
    const item = short.items.find((i) => i.id === 'grace-periods');
    expect(item).toMatchObject({ result: 'warning', nodes: ['edge-03'] });
    expect(item!.message).toMatch(/longer than the drain timeout \(20 s\).*default\/pos-grace-[a-z0-9-]+ on edge-03 \(30 s\)/);
    const long = json<Report>(await cli('--json', 'precheck', '--cluster', 'shop', '--to', TO, '--drain-timeout', '1m'));
    expect(long.items.find((i) => i.id === 'grace-periods')).toMatchObject({ result: 'normal' });
  } finally {
    // Gone at once, so the later upgrades' drains have nothing to wait for.
    await apps.deleteNamespacedDeployment({ name: app, namespace: 'default', gracePeriodSeconds: 0 });
    await cluster.core.deleteCollectionNamespacedPod({ namespace: 'default', labelSelector: `app=${app}`, gracePeriodSeconds: 0 });
  }
}, 120_000);

test('plan shows masters one at a time and doubling worker batches, touching nothing', async () => {
  const text = await cli('plan', '--cluster', 'shop', '--to', TO);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^master 1 of 3: cp-1 \(first-control-plane: runs kubeadm upgrade apply\)$/m);
  expect(text.stdout).toMatch(/^master 2 of 3: cp-2$/m);
  expect(text.stdout).toContain('batch 1 (1): edge-01');
  type Plan = { masters: string[]; batches: string[][]; firstControlPlane: string | null };
  const plan = json<Plan>(await cli('--json', 'plan', '--cluster', 'shop', '--to', TO, '--max-percent', '25'));
  expect(plan.masters).toEqual(['cp-1', 'cp-2', 'cp-3']);
  expect(plan.firstControlPlane).toBe('cp-1');
  expect(plan.batches.map((b) => b.length)).toEqual([1, 2, 3, 3, 3]);
  // The defaults: no failure budget, a 30 s health gate.
  expect(text.stdout).toMatch(/^Failure budget: none \(the first failure pauses the upgrade\)$/m);
  expect(text.stdout).toMatch(/^Health gate after each master and batch: checks must hold 30 s \(pause after 600 s failing\)$/m);
  const opted = json<{ failureBudget: number; gate: null; deferOffline: boolean; offline: string[] }>(
    await cli('--json', 'plan', '--cluster', 'shop', '--to', TO, '--max-failures', '20%', '--gate-stable-for', '0', '--defer-offline'),
  );
  expect(opted).toMatchObject({ failureBudget: 2, gate: null, deferOffline: true, offline: [] });
  const nodes = (await cluster.core.listNode()).items;
  expect(nodes.every((n) => !n.spec?.unschedulable && n.status?.nodeInfo?.kubeletVersion === FROM)).toBe(true);
}, 60_000);

test('bad input is refused before anything is contacted', async () => {
  // No Temporal address: a refusal that needed the server would say "cannot reach".
  const offline = { ...cliEnv, TEMPORAL_ADDRESS: '127.0.0.1:1' };
  expectRefusal(await runCli(['start', '--cluster', 'shop', '--to', 'v1.x'], offline), /targetVersion/);
  expectRefusal(await runCli(['start', '--cluster', 'shop', '--to', TO, '--bogus'], offline), /unknown option '--bogus'/);
  expectRefusal(await runCli(['start', '--to', TO], offline), /--cluster/);
  expectRefusal(await runCli(['frobnicate'], offline), /unknown command/);
  expectRefusal(await runCli(['start', '--cluster', 'shop', '--to', TO, '--max-percent', '0'], offline), /percentage/);
  expectRefusal(await runCli(['start', '--cluster', 'shop', '--to', TO, '--max-failures', 'ten'], offline), /maxFailures/);
  expectRefusal(await runCli(['start', '--cluster', 'shop', '--to', TO, '--gate-timeout', 'soon'], offline), /gate\.timeout/);
});

test('an unknown cluster and a downgrade are refused with one line', async () => {
  expectRefusal(await cli('start', '--cluster', 'nowhere', '--to', TO), /unknown cluster "nowhere"/);
  expectRefusal(await cli('start', '--cluster', 'shop', '--to', 'v1.32.0'), /downgrade|lower|older/i);
}, 120_000);

/**
 * Waits until the upgrade of `shop` is paused, polling through the Temporal client: a CLI run is a
 * Node start (most of a CPU-second) that the files beside this one need. `status` is read once after.
 */
function pausedNow(): Promise<true> {
  return eventually('state paused', async () => (await getProgress(env.client, 'shop')).state === 'paused' || undefined);
}

test('cancel while paused: the started node finishes, nothing new starts, nothing stays cordoned', async () => {
  expect((await cli('start', '--cluster', 'shop', '--to', TO, ...NO_GATE_ARGS)).code).toBe(0);
  expect((await cli('pause', '--cluster', 'shop', '--reason', 'change freeze')).code).toBe(0);
  await pausedNow();
  const atPause = json<Progress>(await cli('--json', 'status', '--cluster', 'shop'));
  expect(atPause.state).toBe('paused');
  const cancelled = await cli('cancel', '--cluster', 'shop', '--wait');
  expect(cancelled.code).toBe(0);
  expect(cancelled.stdout).toMatch(/^cancelled: edge-upgrade-shop: .*cancelled \(user\)/);
  const p = json<Progress>(await cli('--json', 'status', '--cluster', 'shop'));
  expect(p.state).toBe('cancelled');
  expect(p.cancelReason).toBe('user');
  const nodes = (await cluster.core.listNode()).items;
  expect(nodes.filter((n) => n.spec?.unschedulable)).toEqual([]);
  // Every node at the target is one the upgrade counts; on a busy machine the pause may land after the
  // masters, but a pause in the masters phase means no worker was touched.
  const upgraded = nodes.filter((n) => n.status?.nodeInfo?.kubeletVersion === TO).map((n) => n.metadata!.name!);
  expect(p.masters.upgraded + p.workers.upgraded).toBe(upgraded.length);
  expect(upgraded.filter((n) => n.startsWith('cp-'))).toHaveLength(p.masters.upgraded);
  if (atPause.phase === 'masters') expect(upgraded.every((n) => n.startsWith('cp-'))).toBe(true);
  expect(upgraded.length).toBeLessThan(nodes.length);
  await new Promise((r) => setTimeout(r, 3000));
  const later = (await cluster.core.listNode()).items.filter((n) => n.status?.nodeInfo?.kubeletVersion === TO);
  expect(later).toHaveLength(upgraded.length);
}, 120_000);

test('start, status --json, refusals while running, pause, resume, and status --watch to the end', async () => {
  const started = await cli('--json', 'start', '--cluster', 'shop', '--to', TO, ...NO_GATE_ARGS);
  expect(started.code).toBe(0);
  expect(json<{ workflowId: string }>(started).workflowId).toBe('edge-upgrade-shop');

  const status = json<Progress>(await cli('--json', 'status', '--cluster', 'shop'));
  expect(status).toMatchObject({ clusterId: 'shop', targetVersion: TO, state: 'running', cancelReason: null });
  for (const key of ['phase', 'pause', 'precheck', 'masters', 'workers', 'lastError']) expect(status).toHaveProperty(key);
  expect(status.masters.total).toBe(3);
  expect(status.workers.total).toBe(12);

  expectRefusal(await cli('start', '--cluster', 'shop', '--to', TO), /edge-upgrade-shop/);
  expectRefusal(await cli('cancel', '--cluster', 'shop'), /paused/);
  expectRefusal(await cli('resume', '--cluster', 'shop'), /not paused|running/);

  const paused = await cli('pause', '--cluster', 'shop', '--reason', 'lunch rush');
  expect(paused.code).toBe(0);
  expect(paused.stdout).toMatch(/^pause: edge-upgrade-shop: /);
  await pausedNow();
  const p = json<Progress>(await cli('--json', 'status', '--cluster', 'shop'));
  expect(p.state).toBe('paused');
  expect(p.pause).toMatchObject({ reason: 'user' });
  expect(Date.parse(p.pause!.autoCancelAt!) - Date.parse(p.pause!.since)).toBe(15 * 24 * 3600 * 1000);
  const text = await cli('status', '--cluster', 'shop');
  expect(text.stdout).toMatch(/paused/);
  expect(text.stdout).toMatch(/auto-cancels at/);

  expect((await cli('resume', '--cluster', 'shop')).code).toBe(0);
  const watch = await cli('status', '--cluster', 'shop', '--watch');
  expect(watch.code).toBe(0);
  expect(watch.stdout).toMatch(/Workers \d+\/12/);
  expect(watch.stdout.trim().split('\n').at(-1)).toMatch(/succeeded: all nodes at v1\.34\.4/);
  const nodes = (await cluster.core.listNode()).items;
  expect(nodes.map((n) => n.status?.nodeInfo?.kubeletVersion)).toEqual(Array(15).fill(TO));
}, 300_000);

test('schedule create, list and delete; a triggered schedule starts edge-upgrade-<cluster>', async () => {
  const created = await cli(
    'schedule',
    'create',
    '--cluster',
    'shop',
    '--to',
    TO,
    '--cron',
    '0 2 * * 6',
    '--timezone',
    'Europe/Berlin',
    '--window',
    'sat,sun 01:00-06:00 Europe/Berlin',
    '--drain-timeout',
    '5m',
  );
  expect(created.code).toBe(0);
  expect(created.stdout).toContain('edge-upgrade-schedule-shop');
  // The triggered upgrade gets the same request options as `start` would send.
  const action = (await env.client.schedule.getHandle('edge-upgrade-schedule-shop').describe()).action as { args?: unknown[] };
  expect(action.args?.[0]).toMatchObject({
    clusterId: 'shop',
    window: { days: ['sat', 'sun'], start: '01:00', end: '06:00', timezone: 'Europe/Berlin' },
    drainTimeout: '5m',
  });
  expectRefusal(await cli('schedule', 'create', '--cluster', 'shop', '--to', TO, '--cron', '0 2 * * 6'), /already exists/);
  const list = json<
    Array<{ scheduleId: string; clusterId: string; targetVersion: string; cron: string[]; timezone: string; nextRun: string }>
  >(await cli('--json', 'schedule', 'list'));
  expect(list).toEqual([
    expect.objectContaining({
      scheduleId: 'edge-upgrade-schedule-shop',
      clusterId: 'shop',
      targetVersion: TO,
      cron: ['0 2 * * 6'],
      timezone: 'Europe/Berlin',
    }),
  ]);
  expect(new Date(list[0]!.nextRun).getUTCDay()).toBe(6);
  expect((await cli('schedule', 'delete', '--cluster', 'shop')).code).toBe(0);
  expect(json<unknown[]>(await cli('--json', 'schedule', 'list'))).toEqual([]);
  expectRefusal(await cli('schedule', 'delete', '--cluster', 'shop'), /no schedule edge-upgrade-schedule-shop/);

  // A trigger fires now: the schedule's action starts a fresh run of edge-upgrade-shop (after the
  // test above the cluster is already at the target, so it succeeds with nothing to do).
  const before = await env.client.workflow
    .getHandle('edge-upgrade-shop')
    .describe()
    .catch(() => undefined);
  expect(
    (
      await cli(
        'schedule',
        'create',
        '--cluster',
        'shop',
        '--to',
        TO,
        '--cron',
        '0 3 * * 0',
        '--id',
        'sunday',
        '--trigger-now',
        ...NO_GATE_ARGS,
      )
    ).code,
  ).toBe(0);
  const run = await eventually(
    'a scheduled run of edge-upgrade-shop',
    async () => {
      const d = await env.client.workflow.getHandle('edge-upgrade-shop').describe();
      return d.runId !== before?.runId && d.status.name === 'COMPLETED' ? d : undefined;
    },
    150_000,
    1000,
  );
  expect(run.searchAttributes).toBeDefined();
  const progress = json<Progress>(await cli('--json', 'status', '--cluster', 'shop'));
  expect(progress).toMatchObject({ state: 'succeeded', masters: { total: 3, upgraded: 3 }, workers: { total: 12, upgraded: 12 } });
  expect((await cli('schedule', 'delete', '--id', 'sunday')).code).toBe(0);
}, 240_000);
