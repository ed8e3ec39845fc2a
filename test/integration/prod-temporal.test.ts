/**
 * The production lane (#26): the upgrade on the parts users run. A Temporal Server built from
 * go.temporal.io/server on a private PostgreSQL, mTLS on its frontend (src/local/prod-temporal.ts),
 * two `edge-upgrade worker` processes on the task queue, and the jest worker's control plane with
 * 3 masters and 50 simulated workers for the full upgrade. Each upgrade goes to the next patch
 * version, in batches of up to half the workers; faults of the server, the database and a worker must
 * leave it `succeeded`, with one upgrade pod per node and none cordoned. The fault tests and the CLI
 * test run on the 3 masters and the first 10 workers (the other 40 Nodes deleted after the full
 * upgrade): a fault mid-batch is the same fault with 10 workers, at a fraction of the CPU that the
 * files running beside this one need.
 */
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { getProgress, startUpgrade, upgradeHandle } from '../../src/api.js';
import { diagnoseTls } from '../../src/cli/tls-diagnosis.js';
import { ProdTemporal, PROD_NAMESPACE, type ProdTemporalClient } from '../../src/local/prod-temporal.js';
import { NODE_NAME_LABEL, TARGET_VERSION_LABEL, UPGRADE_NAMESPACE } from '../../src/planning/labels.js';
import type { Progress } from '../../src/planning/types.js';
import { runCli, spawnCli, stopCli } from '../helpers/cli.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/poll.js';
import { NO_GATE } from '../helpers/requests.js';
import { pgBinDir, temporalCli, temporalServerDir } from '../helpers/tools.js';
import { cordonedByUs } from './upgrade-harness.js';

const CLUSTER_ID = 'shop-prod';
const SHAPE = { controlPlanes: 3, cloudWorkers: 0, edgeWorkers: 50 };
/** The workers the fault tests keep (edge-001…edge-010). */
const FAULT_WORKERS = 10;
/** The workers in the cluster now: all 50 until the fault tests shrink it. */
let edgeWorkers = SHAPE.edgeWorkers;
const BATCH = { maxPercent: 50 };

let stack: ProdTemporal;
let cluster: TestCluster;
let client: Client;
let connection: Connection;
const workers: Array<ReturnType<typeof spawnCli>> = [];

/** The environment of a worker or the CLI that connects to the stack with `tls`'s certificate and serves the cluster. */
function temporalEnv(tls: ProdTemporalClient): Record<string, string> {
  return { ...stack.env(tls), EDGE_UPGRADE_CLUSTERS: `${CLUSTER_ID}=${cluster.controlPlane.kubeconfigPath}` };
}

beforeAll(async () => {
  [stack, cluster] = await Promise.all([
    ProdTemporal.start({ serverDir: temporalServerDir(), temporalCli: temporalCli(), pgBinDir: pgBinDir() }),
    startCluster({ simulator: { upgradeSeconds: 1 } }),
  ]);
  await cluster.simulator.createCluster({ ...SHAPE, version: 'v1.33.7' });
  const tls = stack.client;
  connection = await Connection.connect({
    address: tls.address,
    tls: {
      serverRootCACertificate: readFileSync(tls.caFile),
      serverNameOverride: tls.serverName,
      clientCertPair: { crt: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) },
    },
  });
  client = new Client({ connection, namespace: PROD_NAMESPACE });
  workers.push(spawnCli(['worker'], temporalEnv(tls)), spawnCli(['worker'], temporalEnv(tls)));
}, 240_000);

afterAll(async () => {
  for (const w of workers) await stopCli(w.child);
  await connection?.close();
  await cluster?.stop();
  await stack?.stop();
}, 120_000);

/** Polls progress (through the mTLS client) until `pred` holds. */
function progressUntil(what: string, pred: (p: Progress) => boolean, timeoutMs = 240_000): Promise<Progress> {
  return eventually(
    what,
    async () => {
      const p = await getProgress(client, CLUSTER_ID);
      return pred(p) ? p : undefined;
    },
    timeoutMs,
    500,
  );
}

/** What every upgrade here must leave: succeeded, no error, one Succeeded upgrade pod per node for `target`, none cordoned. */
async function expectUpgradedOnce(target: string, done: Progress): Promise<void> {
  expect(done).toMatchObject({
    state: 'succeeded',
    lastError: null,
    masters: { total: SHAPE.controlPlanes, upgraded: SHAPE.controlPlanes },
    workers: { total: edgeWorkers, upgraded: edgeWorkers },
  });
  const pods = (await cluster.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE })).items.filter(
    (p) => p.metadata?.labels?.[TARGET_VERSION_LABEL] === target,
  );
  const perNode = new Map<string, number>();
  for (const p of pods) perNode.set(p.metadata!.labels![NODE_NAME_LABEL]!, (perNode.get(p.metadata!.labels![NODE_NAME_LABEL]!) ?? 0) + 1);
  expect(perNode.size).toBe(SHAPE.controlPlanes + edgeWorkers);
  expect([...perNode.values()].every((n) => n === 1)).toBe(true);
  expect(pods.every((p) => p.status?.phase === 'Succeeded')).toBe(true);
  const nodes = (await cluster.core.listNode()).items;
  expect(nodes.every((n) => n.status?.nodeInfo?.kubeletVersion === target && !n.spec?.unschedulable)).toBe(true);
  expect(cordonedByUs(new Map(nodes.map((n) => [n.metadata!.name!, n])))).toEqual([]);
}

/** The identities of the workers that ran the upgrade's activities (its own history and its batch children's). */
async function activityWorkers(): Promise<Set<string>> {
  const ids = new Set<string>();
  const collect = async (events: Awaited<ReturnType<ReturnType<typeof upgradeHandle>['fetchHistory']>>['events']) => {
    for (const e of events ?? []) {
      const identity = e.activityTaskStartedEventAttributes?.identity;
      if (identity) ids.add(identity);
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId)
        await collect((await client.workflow.getHandle(child.workflowId, child.runId ?? undefined).fetchHistory()).events);
    }
  };
  await collect((await upgradeHandle(client, CLUSTER_ID).fetchHistory()).events);
  return ids;
}

const start = (targetVersion: string) => startUpgrade(client, { clusterId: CLUSTER_ID, gate: NO_GATE, batch: BATCH, targetVersion });
const midBatch = () => progressUntil('a worker batch under way', (p) => p.workers.upgraded >= 1 || p.state !== 'running');

test('the frontend refuses a plain-TCP client and one without a certificate; a worker with an untrusted one exits naming TLS', async () => {
  const [host, port] = stack.client.address.split(':');
  // Plain TCP: the frontend speaks TLS only, so a plaintext gRPC call fails.
  const plain = await promisify(execFile)(temporalCli(), ['operator', 'cluster', 'health', '--address', stack.client.address]).then(
    () => 'served',
    (err: { stderr?: string }) => err.stderr ?? 'refused',
  );
  expect(plain).not.toBe('served');
  // TLS without a client certificate.
  const noCert = await promisify(execFile)(temporalCli(), [
    'operator',
    'cluster',
    'health',
    '--address',
    stack.client.address,
    '--tls-ca-path',
    stack.client.caFile,
    '--tls-server-name',
    stack.client.serverName,
  ]).then(
    () => 'served',
    (err: { stderr?: string }) => err.stderr ?? 'refused',
  );
  expect(noCert).not.toBe('served');
  // The port is open: it is the certificate, not the network, that was refused.
  await new Promise<void>((resolve, reject) =>
    connect(Number(port), host)
      .once('connect', function (this: import('node:net').Socket) {
        this.destroy();
        resolve();
      })
      .once('error', reject),
  );

  const bad = await runCli(['worker'], temporalEnv(stack.untrustedClient), 60_000);
  expect(bad.code).not.toBe(0);
  const lines = bad.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(
    /^edge-upgrade: cannot reach Temporal at \S+: TLS: the server refused our client certificate \(.+\); check TEMPORAL_TLS_CERT/,
  );
}, 120_000);

test('a TLS failure is put in words: no client certificate, an untrusted server certificate, another server name', async () => {
  const c = stack.client;
  const [ca, cert, key] = [readFileSync(c.caFile), readFileSync(c.certFile), readFileSync(c.keyFile)];
  expect(await diagnoseTls(c.address, { ca, cert, key, serverName: c.serverName })).toBeUndefined();
  expect(await diagnoseTls(c.address, { ca, serverName: c.serverName })).toMatch(/^TLS: the server requires a client certificate \(.+\)/);
  const otherCa = readFileSync(c.caFile.replace(/ca\.pem$/, 'other-ca.pem'));
  expect(await diagnoseTls(c.address, { ca: otherCa, cert, key, serverName: c.serverName })).toMatch(
    /^TLS: the server's certificate was not accepted \(unable to verify the first certificate\); check TEMPORAL_TLS_CA/,
  );
  expect(await diagnoseTls(c.address, { ca, cert, key, serverName: 'temporal.example' })).toMatch(
    /not accepted \(Hostname\/IP does not match/,
  );
  // Nothing listening is not a TLS problem: the caller keeps its own words.
  expect(await diagnoseTls('127.0.0.1:1', { ca })).toBeUndefined();
});

test('3 masters and 50 workers are upgraded over mTLS by two workers, each taking part; one pod per node, none cordoned', async () => {
  await start('v1.34.4');
  const done = await progressUntil('the upgrade to finish', (p) => p.state !== 'running');
  await expectUpgradedOnce('v1.34.4', done);
  expect((await activityWorkers()).size).toBe(2);
}, 300_000);

/** Deletes the Nodes after edge-010 (once) and waits until the API server lists only the others. */
async function shrinkToFaultCluster(): Promise<void> {
  if (edgeWorkers === FAULT_WORKERS) return;
  const gone = (await cluster.core.listNode()).items
    .map((n) => n.metadata!.name!)
    .filter((n) => /^edge-\d+$/.test(n) && Number(n.slice(5)) > FAULT_WORKERS);
  expect(gone).toHaveLength(SHAPE.edgeWorkers - FAULT_WORKERS);
  await Promise.all(gone.map((name) => cluster.core.deleteNode({ name })));
  const left = SHAPE.controlPlanes + FAULT_WORKERS;
  await eventually(`${left} nodes`, async () => (await cluster.core.listNode()).items.length === left);
  edgeWorkers = FAULT_WORKERS;
}

/** Upgrades to `target`, applies `fault` once a worker batch is under way, and expects the upgrade to end as if nothing happened. */
async function survives(target: string, fault: () => Promise<void>, timeoutMs = 240_000): Promise<void> {
  await shrinkToFaultCluster();
  await start(target);
  expect((await midBatch()).state).toBe('running');
  await fault();
  const done = await progressUntil('the upgrade to finish', (p) => p.state !== 'running', timeoutMs);
  await expectUpgradedOnce(target, done);
}

test('the Temporal Server killed with SIGKILL mid-batch and restarted on its database: the upgrade completes', async () => {
  await survives('v1.34.5', () => stack.killAndRestartServer());
}, 300_000);

test('PostgreSQL restarted (fast shutdown) mid-batch: the upgrade completes', async () => {
  await survives('v1.34.6', () => stack.restartPostgres());
}, 300_000);

/** Waits until the worker process `pid` (identity `pid@host`) has started a node step that is still in flight. */
function nodeStepRunningOn(pid: number): Promise<string> {
  return eventually(
    `worker ${pid} running a node step`,
    async () => {
      for await (const wf of client.workflow.list({ query: 'ExecutionStatus = "Running"' })) {
        const d = await client.workflow.getHandle(wf.workflowId, wf.runId).describe();
        const mine = d.raw.pendingActivities?.find(
          (a) =>
            a.lastWorkerIdentity?.startsWith(`${pid}@`) &&
            a.state === proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
        );
        if (mine) return `${mine.activityType?.name} in ${wf.workflowId}`;
      }
      return undefined;
    },
    120_000,
    250,
  );
}

test('one of the two workers killed with SIGKILL mid-batch: the other carries on and the upgrade completes', async () => {
  const victim = workers.shift()!;
  const kill = async () => {
    // Killed while it runs a node step, so the step is lost with it and must be retried by the other worker.
    await nodeStepRunningOn(victim.child.pid!);
    const exited = new Promise((r) => victim.child.once('exit', r));
    victim.child.kill('SIGKILL');
    await exited;
  };
  await survives('v1.34.7', kill, 300_000);
  workers.push(spawnCli(['worker'], temporalEnv(stack.client)));
}, 360_000);

test('pause and resume with the CLI and `temporal workflow signal`, then cancel while paused with the CLI, over mTLS', async () => {
  await shrinkToFaultCluster();
  const env = temporalEnv(stack.client);
  const started = await runCli(['start', '--cluster', CLUSTER_ID, '--to', 'v1.34.8', '--max-percent', '50', '--gate-stable-for', '0'], env);
  expect(started.code).toBe(0);
  expect((await runCli(['pause', '--cluster', CLUSTER_ID, '--reason', 'change window'], env)).code).toBe(0);
  await progressUntil('paused', (p) => p.state === 'paused');
  expect((await runCli(['resume', '--cluster', CLUSTER_ID], env)).code).toBe(0);
  await progressUntil('running again', (p) => p.state === 'running' && p.pause === null);

  // The same signal an operator sends with the Temporal CLI.
  const workflowId = upgradeHandle(client, CLUSTER_ID).workflowId;
  const signal = (name: string) =>
    promisify(execFile)(temporalCli(), ['workflow', 'signal', '--workflow-id', workflowId, '--name', name, ...stack.cliFlags()]);
  await signal('pause');
  await progressUntil('paused by the signal', (p) => p.state === 'paused');
  await signal('resume');
  await progressUntil('running after the signal', (p) => p.state === 'running' && p.pause === null);

  // Cancelled while paused: the nodes in flight finished first, so none is left cordoned.
  expect((await runCli(['pause', '--cluster', CLUSTER_ID], env)).code).toBe(0);
  await progressUntil('paused again', (p) => p.state === 'paused');
  const cancelled = await runCli(['cancel', '--cluster', CLUSTER_ID], env);
  expect(cancelled.code).toBe(0);
  const end = await progressUntil('the cancel to end it', (p) => p.state !== 'running' && p.state !== 'paused', 180_000);
  expect(end.state).toBe('cancelled');
  const nodes = (await cluster.core.listNode()).items;
  expect(nodes.filter((n) => n.spec?.unschedulable).map((n) => n.metadata!.name)).toEqual([]);
}, 300_000);
