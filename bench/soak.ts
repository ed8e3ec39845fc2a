/**
 * Soak run on the real stack: one upgrade of a simulated cluster while faults land at random
 * moments spread over the whole upgrade, in rounds: the worker process SIGKILLed (and started again), the Temporal dev server
 * SIGKILLed and restarted on its SQLite file, and the API server cut off from the worker for 20 s
 * through a TCP proxy. It passes when the upgrade ends `succeeded` with one upgrade pod per node,
 * no node cordoned and no `lastError`, and it never paused. Prints the figures; exits 1 otherwise.
 *
 *   scripts/bench.sh soak [--workers 200] [--rounds 10] [--upgrade-seconds 10] [--seed N]
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { getProgress, startUpgrade } from '../src/api.js';
import { startDevServer, type DevServer } from '../src/local/temporal-dev.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, UPGRADE_NAMESPACE } from '../src/planning/labels.js';
import type { Progress } from '../src/planning/types.js';
import { spawnCli, stopCli } from '../test/helpers/cli.js';
import { startCluster } from '../test/helpers/cluster.js';
import { eventually } from '../test/helpers/poll.js';
import { TcpProxy } from '../test/helpers/tcp-proxy.js';
import { temporalCli } from '../test/helpers/tools.js';
import { NO_GATE } from '../test/helpers/requests.js';

const { values: opt } = parseArgs({
  options: {
    workers: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '10' },
    'upgrade-seconds': { type: 'string', default: '10' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
  },
});
const WORKERS = Number(opt.workers);
const ROUNDS = Number(opt.rounds);
const CLUSTER = 'soak';
const START = 'v1.33.7';
const TARGET = 'v1.34.4';
const OUTAGE_MS = 20_000;

// A small seeded PRNG (mulberry32), so a failing run can be repeated with --seed.
let seed = Number(opt.seed) >>> 0;
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const log = (line: string) => console.log(`[${at()}] ${line}`);

const dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-soak-'));
const cluster = await startCluster({ simulator: { upgradeSeconds: Number(opt['upgrade-seconds']) } });
const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(cluster.controlPlane.server).port) });
const kubeconfig = join(dir, 'kubeconfig-worker');
writeFileSync(kubeconfig, readFileSync(cluster.controlPlane.kubeconfigPath, 'utf8').replace(cluster.controlPlane.server, proxy.url), {
  mode: 0o600,
});
let server: DevServer = await startDevServer({ temporalCli: temporalCli(), dir, ui: false });
const workerEnv = { TEMPORAL_ADDRESS: server.address, EDGE_UPGRADE_CLUSTERS: `${CLUSTER}=${kubeconfig}` };
let worker = spawnCli(['worker'], workerEnv);
const workerLogs: string[] = [];
const faults: string[] = [];
let connection: Connection | undefined;
let ok = false;

try {
  const edge = Math.round(WORKERS * 0.9);
  await cluster.simulator.createCluster({ controlPlanes: 3, cloudWorkers: WORKERS - edge, edgeWorkers: edge, version: START });
  await eventually(
    `${WORKERS + 3} Ready nodes`,
    async () => {
      const nodes = (await cluster.core.listNode()).items;
      return (
        nodes.length === WORKERS + 3 && nodes.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      );
    },
    180_000,
  );
  connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  await startUpgrade(client, { clusterId: CLUSTER, gate: NO_GATE, targetVersion: TARGET });
  log(`upgrade started: 3 masters + ${WORKERS} workers, ${opt['upgrade-seconds']} s per node, seed ${opt.seed}`);

  // Progress is sampled every second by a poller that tolerates the dev server being down.
  const states = new Set<string>();
  let last: Progress | undefined;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      try {
        last = await getProgress(client, CLUSTER);
        states.add(last.state);
        if (last.state !== 'running') done = true;
      } catch {
        // the dev server is restarting
      }
      await sleep(1000);
    }
  })();

  // Round k lands at a random moment within the k-th tenth (for ten rounds) of the first 85 % of nodes, so faults
  // spread over masters and worker batches alike; at least 5 s after the previous one recovered.
  const kinds = ['worker-kill', 'server-kill', 'api-outage'] as const;
  const total = WORKERS + 3;
  const upgraded = () => (last ? last.masters.upgraded + last.workers.upgraded : 0);
  for (let round = 1; round <= ROUNDS && !done; round++) {
    const due = Math.floor(((round - 1 + random()) / ROUNDS) * total * 0.85); // the last batches are large: leave them room
    await sleep(5_000);
    while (!done && upgraded() < due) await sleep(250);
    if (done) break;
    const kind = kinds[(round - 1) % kinds.length]!;
    const progress = last
      ? `masters ${last.masters.upgraded}/${last.masters.total}, workers ${last.workers.upgraded}/${last.workers.total}`
      : '';
    faults.push(`${at()} ${kind} (${progress})`);
    log(`fault ${round}/${ROUNDS}: ${kind} at ${progress}`);
    if (kind === 'worker-kill') {
      worker.child.kill('SIGKILL');
      workerLogs.push(worker.output());
      await sleep(2_000);
      worker = spawnCli(['worker'], workerEnv);
    } else if (kind === 'server-kill') {
      await server.kill();
      await sleep(2_000);
      server = await startDevServer({ temporalCli: temporalCli(), dir, ui: false, port: server.port });
    } else {
      await proxy.outage(OUTAGE_MS);
      await proxy.restored();
    }
  }
  const deadline = Date.now() + 30 * 60_000;
  while (!done && Date.now() < deadline) await sleep(1000);
  done = true;
  await sampler;

  const pods = (
    await cluster.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` })
  ).items;
  const perNode = new Map<string, number>();
  for (const p of pods) perNode.set(p.spec?.nodeName ?? '?', (perNode.get(p.spec?.nodeName ?? '?') ?? 0) + 1);
  const nodes = (await cluster.core.listNode()).items;
  const cordoned = nodes.filter((n) => n.spec?.unschedulable).map((n) => n.metadata!.name!);
  const atTarget = nodes.filter((n) => n.status?.nodeInfo?.kubeletVersion === TARGET).length;
  const maxPods = Math.max(0, ...perNode.values());
  const wall = (Date.now() - t0) / 1000;

  console.log('\nsoak run');
  console.log(`  nodes                 3 masters + ${WORKERS} workers, ${opt['upgrade-seconds']} s per upgrade pod`);
  console.log(`  faults injected       ${faults.length}`);
  for (const f of faults) console.log(`    ${f}`);
  console.log(`  final state           ${last?.state ?? 'unknown'}`);
  console.log(`  states seen           ${[...states].join(', ')}`);
  console.log(`  nodes at ${TARGET}     ${atTarget} of ${nodes.length}`);
  console.log(`  upgrade pods          ${pods.length} (most on one node: ${maxPods}; nodes without one: ${nodes.length - perNode.size})`);
  console.log(`  nodes cordoned        ${cordoned.length}${cordoned.length ? `: ${cordoned.join(', ')}` : ''}`);
  console.log(`  lastError             ${last?.lastError ? JSON.stringify(last.lastError) : 'none'}`);
  console.log(`  wall time             ${wall.toFixed(0)} s`);
  ok =
    last?.state === 'succeeded' &&
    !states.has('paused') &&
    last.lastError === null &&
    cordoned.length === 0 &&
    maxPods === 1 &&
    perNode.size === nodes.length &&
    atTarget === nodes.length &&
    faults.length === ROUNDS;
  console.log(ok ? '\nPASS' : '\nFAIL');
} finally {
  await connection?.close().catch(() => undefined);
  await stopCli(worker.child);
  await server.stop();
  await proxy.stop();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
