/**
 * upgrade-1000's test bed, each part a real process as in production: a control plane (etcd,
 * kube-apiserver, controller manager, scheduler), the Temporal dev server, the simulator (its own
 * process, writing a timeline of each node's upgrade) and the `edge-upgrade worker` process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { LocalControlPlane } from '../../src/local/control-plane.js';
import { reservePort } from '../../src/local/ports.js';
import { startDevServer, type DevServer } from '../../src/local/temporal-dev.js';
import { nodeReady } from '../../src/planning/cluster.js';
import { spawnCli, stopCli } from '../../test/helpers/cli.js';
import { etcdBinary, k8sBinDir, temporalCli } from '../../test/helpers/tools.js';
import { CLUSTER, START, type Options } from './options.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The running test bed; {@link TestBed.stop} stops every part and removes its folder. */
export class TestBed {
  /** The simulator's timeline (one JSON line per node step, then its counters) and the worker's memory samples. */
  readonly timelinePath: string;
  readonly memProfilePath: string;
  private connection: Connection | undefined;

  private constructor(
    readonly dir: string,
    readonly cp: LocalControlPlane,
    readonly server: DevServer,
    /** Edge workers; the other workers are cloud workers. */
    readonly edge: number,
    readonly simulator: ChildProcess,
    readonly worker: ReturnType<typeof spawnCli>,
    /** The worker's Prometheus endpoint's port. */
    readonly metricsPort: number,
  ) {
    this.timelinePath = timelinePathIn(dir);
    this.memProfilePath = memProfilePathIn(dir);
  }

  /** Starts every part (`log` says so first). */
  static async start(opt: Options, log: (line: string) => void): Promise<TestBed> {
    const dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-bench-'));
    log(`starting the control plane (node-monitor-grace-period ${opt.leaseS} s), the Temporal dev server, the simulator and the worker`);
    const cp = await LocalControlPlane.start({
      k8sBinDir: k8sBinDir(),
      etcdBinary: etcdBinary(),
      nodeMonitorGracePeriodSeconds: opt.leaseS,
    });
    const server = await startDevServer({ temporalCli: temporalCli(), dir, ui: false, dynamicConfig: opt.serverConfig });
    const edge = Math.round(opt.workers * 0.9);
    const simulator = spawnSimulator(opt, dir, cp.kubeconfigPath, edge);
    const metricsPort = await reservePort();
    const worker = spawnWorker(opt, dir, `${CLUSTER}=${cp.kubeconfigPath}`, server.address, metricsPort);
    return new TestBed(dir, cp, server, edge, simulator, worker, metricsPort);
  }

  /** Waits until every node is Ready and the worker runs, then 3 s more for the startup to settle before the CPU baseline. */
  async ready(opt: Options, log: (line: string) => void): Promise<void> {
    const core = this.cp.kubeConfig().makeApiClient(CoreV1Api);
    const total = opt.workers + opt.masters;
    for (const deadline = Date.now() + 600_000; ;) {
      const nodes = (await core.listNode().catch(() => ({ items: [] }))).items;
      const ready = nodes.filter(nodeReady).length;
      if (ready === total) break;
      if (Date.now() > deadline) throw new Error(`only ${ready} of ${total} nodes Ready after 10 minutes`);
      if (this.simulator.exitCode !== null)
        throw new Error(`the simulator exited (${this.simulator.exitCode}); see ${this.dir}/simulator.log`);
      await sleep(2_000);
    }
    log(`${total} nodes Ready`);
    for (const deadline = Date.now() + 180_000; !/state=RUNNING/.test(this.worker.output());) {
      if (Date.now() > deadline || this.worker.child.exitCode !== null)
        throw new Error(`the worker did not start:\n${this.worker.output().slice(-2000)}`);
      await sleep(500);
    }
    log('worker RUNNING');
    await sleep(3_000);
  }

  /** A client of the dev server (closed by {@link stop}). */
  async client(): Promise<Client> {
    this.connection = await Connection.connect({ address: this.server.address });
    return new Client({ connection: this.connection });
  }

  /** Stops the simulator (it writes its counters to the timeline then), waiting up to 15 s for it to exit. */
  async stopSimulator(): Promise<void> {
    const exited = new Promise((r) => this.simulator.once('exit', r));
    this.simulator.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
  }

  /** Stops every part; keeps the folder with EDGE_UPGRADE_KEEP_BENCH_DIR=1 (and says where), else removes it. */
  async stop(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    await stopCli(this.worker.child);
    if (this.simulator.exitCode === null && this.simulator.signalCode === null) this.simulator.kill('SIGTERM');
    await this.server.stop();
    await this.cp.stop();
    if (process.env.EDGE_UPGRADE_KEEP_BENCH_DIR === '1') console.log(`kept ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

const timelinePathIn = (dir: string) => join(dir, 'simulator-timeline.jsonl');
const memProfilePathIn = (dir: string) => join(dir, 'worker-memory.jsonl');

/** The simulator as its own process, its output in `dir`/simulator.log. */
function spawnSimulator(opt: Options, dir: string, kubeconfigPath: string, edge: number): ChildProcess {
  const simLog = createWriteStream(join(dir, 'simulator.log'));
  const flags = {
    kubeconfig: kubeconfigPath,
    masters: opt.masters,
    cloud: opt.workers - edge,
    edge,
    from: START,
    'upgrade-seconds': opt.upgradeS,
    'lease-seconds': opt.leaseS,
    'status-seconds': opt.statusS,
    timeline: timelinePathIn(dir),
  };
  const args = [...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]), '--quiet'];
  const simulator = spawn(process.execPath, [join(root, 'dist/simulator/cli.js'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  simulator.stdout!.pipe(simLog);
  simulator.stderr!.pipe(simLog);
  return simulator;
}

/** The worker process, as users run it: the bin itself, so its #! line's settings apply (the project's Node is first on PATH). */
function spawnWorker(opt: Options, dir: string, clusters: string, address: string, metricsPort: number): ReturnType<typeof spawnCli> {
  const memSampler = opt.memProfile ? `--require ${join(root, 'bench/mem-sampler.cjs')}` : '';
  const workerNodeOptions = [opt.workerNodeOptions, memSampler].filter(Boolean);
  const env = {
    TEMPORAL_ADDRESS: address,
    EDGE_UPGRADE_CLUSTERS: clusters,
    EDGE_UPGRADE_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
    // Without --pre-phases, no cloud worker is prepared (see the option).
    ...(opt.prePhases ? {} : { EDGE_UPGRADE_CLOUD_NODE_LABEL: '' }),
    ...(workerNodeOptions.length ? { NODE_OPTIONS: workerNodeOptions.join(' ') } : {}),
    ...(opt.memProfile ? { EDGE_UPGRADE_MEM_PROFILE: memProfilePathIn(dir) } : {}),
    ...Object.fromEntries(
      opt.workerEnv
        .split(',')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    ),
  };
  return spawnCli(['worker'], env, { viaShebang: !opt.plainNode });
}
