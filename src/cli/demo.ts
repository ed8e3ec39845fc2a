/**
 * `edge-upgrade demo`: everything on this machine. Starts the Temporal dev server (with its Web UI),
 * a real Kubernetes control plane, the edge node simulator with masters and edge workers, a worker,
 * then an upgrade, and shows live progress. Stops everything it started on completion or Ctrl-C.
 * The tool paths come from scripts/demo.sh (TEMPORAL_CLI, EDGE_UPGRADE_K8S_BIN, EDGE_UPGRADE_ETCD).
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { getProgress, startUpgrade, STATUS_PATIENCE_MS, upgradeClosedAs } from '../api.js';
import { DEFAULT_UPGRADE_IMAGE, type WorkerConfig } from '../config.js';
import { LocalControlPlane } from '../local/control-plane.js';
import { startDevServer, type DevServer } from '../local/temporal-dev.js';
import type { Progress } from '../planning/types.js';
import { EdgeSimulator } from '../simulator/index.js';
import { createWorker } from '../worker.js';
import { workflowIdFor } from '../workflows/definitions.js';
import { watchProgress } from './watch.js';

/** Demo options (see `edge-upgrade demo --help`). */
export interface DemoOptions {
  masters: number;
  cloud: number;
  edge: number;
  from: string;
  to: string;
  upgradeSeconds: number;
  stay?: boolean;
}

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the demo with scripts/demo.sh, which provisions the tools`);
  return v;
}

const say = (m: string) => process.stdout.write(`${m}\n`);

/** The tools scripts/demo.sh provisions. */
interface DemoTools {
  temporalCli: string;
  k8sBinDir: string;
  etcdBinary: string;
}

/** The servers the demo started. */
interface DemoStack {
  temporal: DevServer;
  cp: LocalControlPlane;
}

/**
 * Everything the demo started, with how to stop it, and Ctrl-C: a signal stops it all at once
 * (under the progress display) and wakes a `--stay` wait.
 */
class DemoSession {
  interrupted = false;
  private readonly cleanups: Array<() => Promise<void>> = [];
  private stopping: Promise<void> | undefined;
  private wakeStay: () => void = () => {};
  private readonly onSignal = () => {
    if (this.interrupted) return;
    this.interrupted = true;
    say('\nstopping everything the demo started…');
    this.wakeStay();
    void this.stopAll();
  };

  /** Listens for SIGINT and SIGTERM until {@link close}. */
  constructor(readonly dir: string) {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Registers how to stop something just started. */
  defer(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** Stops what was started, newest first, once, however many times it is asked to. */
  stopAll(): Promise<void> {
    return (this.stopping ??= (async () => {
      for (const c of this.cleanups.reverse()) await c().catch(() => {});
      rmSync(this.dir, { recursive: true, force: true });
    })());
  }

  /** Resolves on Ctrl-C. */
  stay(): Promise<void> {
    return new Promise<void>((resolve) => (this.wakeStay = resolve));
  }

  /** Stops everything and stops listening for signals. */
  async close(): Promise<void> {
    await this.stopAll();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

/** Runs the demo; resolves with the exit code (0 when the upgrade succeeded). */
export async function runDemo(o: DemoOptions): Promise<number> {
  const tools: DemoTools = {
    temporalCli: need('TEMPORAL_CLI'),
    k8sBinDir: need('EDGE_UPGRADE_K8S_BIN'),
    etcdBinary: need('EDGE_UPGRADE_ETCD'),
  };
  const session = new DemoSession(mkdtempSync(join(tmpdir(), 'edge-upgrade-demo-')));
  try {
    const stack = await startStack(session, tools, o);
    const clusterId = 'demo';
    const client = await startWorkerAndClient(session, stack, clusterId);
    const final = await upgradeAndWatch(client, stack, tools, clusterId, o.to);
    if (o.stay && !session.interrupted) {
      say('everything keeps running; press Ctrl-C to stop');
      await session.stay();
    }
    if (session.interrupted) return 130;
    return final.state === 'succeeded' ? 0 : 1;
  } catch (err) {
    // Ctrl-C stops the servers under the progress display; that is not an error.
    if (session.interrupted) return 130;
    throw err;
  } finally {
    await session.close();
  }
}

/** Starts the Temporal dev server, the control plane and the simulated nodes at `o.from`. */
async function startStack(session: DemoSession, tools: DemoTools, o: DemoOptions): Promise<DemoStack> {
  say('starting the Temporal dev server…');
  const temporal = await startDevServer({ temporalCli: tools.temporalCli, dir: session.dir });
  session.defer(temporal.stop);
  say('starting a Kubernetes control plane (etcd, kube-apiserver, controller manager, scheduler)…');
  const cp = await LocalControlPlane.start({ k8sBinDir: tools.k8sBinDir, etcdBinary: tools.etcdBinary, dir: join(session.dir, 'k8s') });
  session.defer(() => cp.stop());
  const kubeConfig = cp.kubeConfig();
  const sim = await EdgeSimulator.start({ kubeConfig, upgradeSeconds: o.upgradeSeconds });
  session.defer(() => sim.stop());
  const nodes = await sim.createCluster({ controlPlanes: o.masters, cloudWorkers: o.cloud, edgeWorkers: o.edge, version: o.from });
  say(`simulating ${nodes.length} nodes at ${o.from}: ${o.masters} masters, ${o.cloud} cloud workers, ${o.edge} edge workers`);
  return { temporal, cp };
}

/** Runs a worker for the one demo cluster and returns a client; both stop with the session. */
async function startWorkerAndClient(session: DemoSession, { temporal, cp }: DemoStack, clusterId: string): Promise<Client> {
  const config: WorkerConfig = {
    temporal: { address: temporal.address, namespace: 'default' },
    upgradeImage: DEFAULT_UPGRADE_IMAGE,
    clusters: new Map([[clusterId, { id: clusterId, kubeconfig: cp.kubeconfigPath }]]),
  };
  // The worker's INFO logs (bundling, state changes) would drown the progress display.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const nativeConnection = await NativeConnection.connect({ address: temporal.address });
  const worker = await createWorker({ connection: nativeConnection, config });
  const running = worker.run();
  session.defer(async () => {
    worker.shutdown();
    await running.catch(() => {});
    await nativeConnection.close();
  });
  const connection = await Connection.connect({ address: temporal.address });
  session.defer(() => connection.close());
  return new Client({ connection });
}

/** Starts the upgrade to `to`, prints where to look, and shows progress until it ends. */
async function upgradeAndWatch(
  client: Client,
  { temporal, cp }: DemoStack,
  tools: DemoTools,
  clusterId: string,
  to: string,
): Promise<Progress> {
  // A short health gate, so the demo shows it between batches without taking long.
  await startUpgrade(client, { clusterId, targetVersion: to, gate: { stableFor: '3s' } });
  const wf = workflowIdFor(clusterId);
  say(`upgrade started: ${wf}`);
  say(`Temporal Web UI: ${temporal.uiUrl}/namespaces/default/workflows/${wf}`);
  say(`kubectl:         ${join(tools.k8sBinDir, 'kubectl')} --kubeconfig ${cp.kubeconfigPath} get nodes`);
  say(`try, in another terminal: TEMPORAL_ADDRESS=${temporal.address} ${cliCommand()} pause --cluster ${clusterId}`);
  // The demo invites a pause from another terminal: it waits through it for the resume.
  const { progress: final } = await watchProgress(() => getProgress(client, clusterId, { patienceMs: STATUS_PATIENCE_MS }), {
    closedAs: () => upgradeClosedAs(client, clusterId),
    throughPause: true,
  });
  const { masters, workers } = final;
  say(`upgrade ${final.state}: masters ${masters.upgraded}/${masters.total}, workers ${workers.upgraded}/${workers.total}`);
  return final;
}

/**
 * How to run this CLI from another terminal: in a checkout, scripts/edge-upgrade (it picks the Node
 * 24 the scripts installed, where a bare `node` may be older); installed as a package, `edge-upgrade`.
 */
function cliCommand(): string {
  const launcher = join(dirname(process.argv[1] ?? '.'), '..', 'scripts', 'edge-upgrade');
  return existsSync(launcher) ? launcher : 'edge-upgrade';
}
