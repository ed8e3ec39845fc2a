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
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { getProgress, startUpgrade } from '../src/api.js';
import { startDevServer, type DevServer } from '../src/local/temporal-dev.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, UPGRADE_NAMESPACE } from '../src/planning/labels.js';
import type { Progress } from '../src/planning/types.js';
import { spawnCli, stopCli } from '../test/helpers/cli.js';
import { startCluster, type TestCluster } from '../test/helpers/cluster.js';
import { eventually } from '../test/helpers/poll.js';
import { TcpProxy } from '../test/helpers/tcp-proxy.js';
import { temporalCli } from '../test/helpers/tools.js';
import { NO_GATE } from '../test/helpers/requests.js';
import { Clock } from './lib/report.js';

const CLUSTER = 'soak';
const START = 'v1.33.7';
const TARGET = 'v1.34.4';
const OUTAGE_MS = 20_000;

function parseOptions() {
  return parseArgs({
    options: {
      workers: { type: 'string', default: '200' },
      rounds: { type: 'string', default: '10' },
      'upgrade-seconds': { type: 'string', default: '10' },
      seed: { type: 'string', default: String(Date.now() % 100_000) },
    },
  }).values;
}
type Options = ReturnType<typeof parseOptions>;

/** A small seeded PRNG (mulberry32), so a failing run can be repeated with --seed. */
function seededRandom(from: number): () => number {
  let seed = from >>> 0;
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The test bed: a control plane with the in-process simulator, a TCP proxy in front of it for the worker, a dev server, the worker. */
class SoakBed {
  private connection: Connection | undefined;
  readonly workerLogs: string[] = [];

  private constructor(
    readonly dir: string,
    readonly cluster: TestCluster,
    readonly proxy: TcpProxy,
    private server: DevServer,
    private worker: ReturnType<typeof spawnCli>,
    private readonly workerEnv: Record<string, string>,
  ) {}

  static async start(opt: Options): Promise<SoakBed> {
    const dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-soak-'));
    const cluster = await startCluster({ simulator: { upgradeSeconds: Number(opt['upgrade-seconds']) } });
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(cluster.controlPlane.server).port) });
    const kubeconfig = join(dir, 'kubeconfig-worker');
    const text = readFileSync(cluster.controlPlane.kubeconfigPath, 'utf8').replace(cluster.controlPlane.server, proxy.url);
    writeFileSync(kubeconfig, text, { mode: 0o600 });
    const server = await startDevServer({ temporalCli: temporalCli(), dir, ui: false });
    const workerEnv = { TEMPORAL_ADDRESS: server.address, EDGE_UPGRADE_CLUSTERS: `${CLUSTER}=${kubeconfig}` };
    return new SoakBed(dir, cluster, proxy, server, spawnCli(['worker'], workerEnv), workerEnv);
  }

  /** A client of the dev server (closed by {@link stop}). */
  async client(): Promise<Client> {
    this.connection = await Connection.connect({ address: this.server.address });
    return new Client({ connection: this.connection });
  }

  /** One fault, and the recovery from it. */
  async fault(kind: Fault): Promise<void> {
    if (kind === 'worker-kill') {
      this.worker.child.kill('SIGKILL');
      this.workerLogs.push(this.worker.output());
      await sleep(2_000);
      this.worker = spawnCli(['worker'], this.workerEnv);
    } else if (kind === 'server-kill') {
      await this.server.kill();
      await sleep(2_000);
      this.server = await startDevServer({ temporalCli: temporalCli(), dir: this.dir, ui: false, port: this.server.port });
    } else {
      await this.proxy.outage(OUTAGE_MS);
      await this.proxy.restored();
    }
  }

  async stop(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    await stopCli(this.worker.child);
    await this.server.stop();
    await this.proxy.stop();
    await this.cluster.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const FAULTS = ['worker-kill', 'server-kill', 'api-outage'] as const;
type Fault = (typeof FAULTS)[number];

/** Progress, sampled every second by a poller that tolerates the dev server being down, until the upgrade is no longer running. */
class StateSampler {
  readonly states = new Set<string>();
  last: Progress | undefined;
  done = false;
  private readonly loop: Promise<void>;

  constructor(private readonly client: Client) {
    this.loop = this.run();
  }

  upgraded(): number {
    return this.last ? this.last.masters.upgraded + this.last.workers.upgraded : 0;
  }

  async stop(): Promise<void> {
    this.done = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.done) {
      try {
        this.last = await getProgress(this.client, CLUSTER);
        this.states.add(this.last.state);
        if (this.last.state !== 'running') this.done = true;
      } catch {
        // the dev server is restarting
      }
      await sleep(1000);
    }
  }
}

/**
 * Round k lands at a random moment within the k-th tenth (for ten rounds) of the first 85 % of nodes, so faults
 * spread over masters and worker batches alike; at least 5 s after the previous one recovered. Returns the faults.
 */
async function injectFaults(bed: SoakBed, sampler: StateSampler, opt: Options, clock: Clock): Promise<string[]> {
  const random = seededRandom(Number(opt.seed));
  const rounds = Number(opt.rounds);
  const total = Number(opt.workers) + 3;
  const faults: string[] = [];
  for (let round = 1; round <= rounds && !sampler.done; round++) {
    const due = Math.floor(((round - 1 + random()) / rounds) * total * 0.85); // the last batches are large: leave them room
    await sleep(5_000);
    while (!sampler.done && sampler.upgraded() < due) await sleep(250);
    if (sampler.done) break;
    const kind = FAULTS[(round - 1) % FAULTS.length]!;
    const last = sampler.last;
    const progress = last
      ? `masters ${last.masters.upgraded}/${last.masters.total}, workers ${last.workers.upgraded}/${last.workers.total}`
      : '';
    faults.push(`${clock.elapsed()} ${kind} (${progress})`);
    clock.log(`fault ${round}/${rounds}: ${kind} at ${progress}`);
    await bed.fault(kind);
  }
  return faults;
}

/** What the cluster looks like after the upgrade: upgrade pods per node, cordoned nodes, nodes at the target. */
async function inspect(cluster: TestCluster) {
  const pods = (
    await cluster.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` })
  ).items;
  const perNode = new Map<string, number>();
  for (const p of pods) perNode.set(p.spec?.nodeName ?? '?', (perNode.get(p.spec?.nodeName ?? '?') ?? 0) + 1);
  const nodes = (await cluster.core.listNode()).items;
  const cordoned = nodes.filter((n) => n.spec?.unschedulable).map((n) => n.metadata!.name!);
  const atTarget = nodes.filter((n) => n.status?.nodeInfo?.kubeletVersion === TARGET).length;
  return { pods: pods.length, perNode, nodes: nodes.length, cordoned, atTarget, maxPods: Math.max(0, ...perNode.values()) };
}

/** Prints the figures and PASS or FAIL; whether it passed. */
function report(opt: Options, clock: Clock, faults: string[], sampler: StateSampler, c: Awaited<ReturnType<typeof inspect>>): boolean {
  const last = sampler.last;
  const wall = (Date.now() - clock.t0) / 1000;
  console.log('\nsoak run');
  console.log(`  nodes                 3 masters + ${opt.workers} workers, ${opt['upgrade-seconds']} s per upgrade pod`);
  console.log(`  faults injected       ${faults.length}`);
  for (const f of faults) console.log(`    ${f}`);
  console.log(`  final state           ${last?.state ?? 'unknown'}`);
  console.log(`  states seen           ${[...sampler.states].join(', ')}`);
  console.log(`  nodes at ${TARGET}     ${c.atTarget} of ${c.nodes}`);
  console.log(`  upgrade pods          ${c.pods} (most on one node: ${c.maxPods}; nodes without one: ${c.nodes - c.perNode.size})`);
  console.log(`  nodes cordoned        ${c.cordoned.length}${c.cordoned.length ? `: ${c.cordoned.join(', ')}` : ''}`);
  console.log(`  lastError             ${last?.lastError ? JSON.stringify(last.lastError) : 'none'}`);
  console.log(`  wall time             ${wall.toFixed(0)} s`);
  const ok =
    last?.state === 'succeeded' &&
    !sampler.states.has('paused') &&
    last.lastError === null &&
    c.cordoned.length === 0 &&
    c.maxPods === 1 &&
    c.perNode.size === c.nodes &&
    c.atTarget === c.nodes &&
    faults.length === Number(opt.rounds);
  console.log(ok ? '\nPASS' : '\nFAIL');
  return ok;
}

/** Runs the soak; its exit code (0: PASS). */
async function main(): Promise<number> {
  const opt = parseOptions();
  const clock = new Clock();
  const workers = Number(opt.workers);
  const bed = await SoakBed.start(opt);
  try {
    const edge = Math.round(workers * 0.9);
    await bed.cluster.simulator.createCluster({ controlPlanes: 3, cloudWorkers: workers - edge, edgeWorkers: edge, version: START });
    await eventually(
      `${workers + 3} Ready nodes`,
      async () => {
        const nodes = (await bed.cluster.core.listNode()).items;
        return (
          nodes.length === workers + 3 && nodes.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        );
      },
      180_000,
    );
    const client = await bed.client();
    await startUpgrade(client, { clusterId: CLUSTER, gate: NO_GATE, targetVersion: TARGET });
    clock.log(`upgrade started: 3 masters + ${workers} workers, ${opt['upgrade-seconds']} s per node, seed ${opt.seed}`);
    const sampler = new StateSampler(client);
    const faults = await injectFaults(bed, sampler, opt, clock);
    const deadline = Date.now() + 30 * 60_000;
    while (!sampler.done && Date.now() < deadline) await sleep(1000);
    await sampler.stop();
    return report(opt, clock, faults, sampler, await inspect(bed.cluster)) ? 0 : 1;
  } finally {
    await bed.stop();
  }
}

process.exit(await main());
