/**
 * `edge-upgrade demo`: everything on this machine. Starts the Temporal dev server (with its Web UI),
 * a real Kubernetes control plane, the edge node simulator with masters and edge workers, a worker,
 * then an upgrade, and shows live progress. Stops everything it started on completion or Ctrl-C.
 * The tool paths come from scripts/demo.sh (TEMPORAL_CLI, EDGE_UPGRADE_K8S_BIN, EDGE_UPGRADE_ETCD).
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getProgress, startUpgrade } from '../api.js';
import { DEFAULT_UPGRADE_IMAGE, type WorkerConfig } from '../config.js';
import { LocalControlPlane } from '../local/control-plane.js';
import { startDevServer } from '../local/temporal-dev.js';
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

/** Runs the demo; resolves with the exit code (0 when the upgrade succeeded). */
export async function runDemo(o: DemoOptions): Promise<number> {
  const temporalCli = need('TEMPORAL_CLI');
  const k8sBinDir = need('EDGE_UPGRADE_K8S_BIN');
  const etcdBinary = need('EDGE_UPGRADE_ETCD');
  const dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-demo-'));
  const cleanups: Array<() => Promise<void>> = [];
  let interrupted = false;
  let stopping: Promise<void> | undefined;
  // Stops what was started, newest first, once, however many times it is asked to.
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const c of cleanups.reverse()) await c().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    })());
  const say = (m: string) => process.stdout.write(`${m}\n`);
  let wakeStay: () => void = () => {};
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say('\nstopping everything the demo started…');
    wakeStay();
    void stopAll();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    say('starting the Temporal dev server…');
    const temporal = await startDevServer({ temporalCli, dir });
    cleanups.push(temporal.stop);
    say('starting a Kubernetes control plane (etcd, kube-apiserver, controller manager, scheduler)…');
    const cp = await LocalControlPlane.start({ k8sBinDir, etcdBinary, dir: join(dir, 'k8s') });
    cleanups.push(() => cp.stop());
    const kubeConfig = cp.kubeConfig();
    const sim = await EdgeSimulator.start({ kubeConfig, upgradeSeconds: o.upgradeSeconds });
    cleanups.push(() => sim.stop());
    const nodes = await sim.createCluster({ controlPlanes: o.masters, cloudWorkers: o.cloud, edgeWorkers: o.edge, version: o.from });
    say(`simulating ${nodes.length} nodes at ${o.from}: ${o.masters} masters, ${o.cloud} cloud workers, ${o.edge} edge workers`);

    const clusterId = 'demo';
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
    cleanups.push(async () => {
      worker.shutdown();
      await running.catch(() => {});
      await nativeConnection.close();
    });
    const connection = await Connection.connect({ address: temporal.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection });

    await startUpgrade(client, { clusterId, targetVersion: o.to });
    const wf = workflowIdFor(clusterId);
    say(`upgrade started: ${wf}`);
    say(`Temporal Web UI: ${temporal.uiUrl}/namespaces/default/workflows/${wf}`);
    say(`kubectl:         ${join(k8sBinDir, 'kubectl')} --kubeconfig ${cp.kubeconfigPath} get nodes`);
    say(`try, in another terminal: TEMPORAL_ADDRESS=${temporal.address} node ${process.argv[1]} pause --cluster ${clusterId}`);
    const final = await watchProgress(() => getProgress(client, clusterId));
    say(
      `upgrade ${final.state}: masters ${final.masters.upgraded}/${final.masters.total}, workers ${final.workers.upgraded}/${final.workers.total}`,
    );
    if (o.stay && !interrupted) {
      say('everything keeps running; press Ctrl-C to stop');
      await new Promise<void>((resolve) => (wakeStay = resolve));
    }
    if (interrupted) return 130;
    return final.state === 'succeeded' ? 0 : 1;
  } catch (err) {
    // Ctrl-C stops the servers under the progress display; that is not an error.
    if (interrupted) return 130;
    throw err;
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
